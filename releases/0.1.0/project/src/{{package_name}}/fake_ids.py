"""Unique ids for assistant items from Chat Completions providers.

Chat Completions (and LiteLLM) responses carry no item ids, so the Agents SDK gives every
assistant message the constant `__fake_id__`; ChatKit reuses it as the item id, so the client
would overwrite earlier replies and the store would see one id for many messages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from agents.models.fake_id import FAKE_RESPONSES_ID
from chatkit.types import (
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
)


async def remap_fake_ids(
    events: AsyncIterator[ThreadStreamEvent], new_id: Callable[[], str]
) -> AsyncIterator[ThreadStreamEvent]:
    """Give each item streamed with the fake id its own id, consistently across its events."""
    current: str | None = None
    async for event in events:
        if isinstance(event, ThreadItemAddedEvent) and event.item.id == FAKE_RESPONSES_ID:
            current = new_id()
            event = ThreadItemAddedEvent(item=event.item.model_copy(update={"id": current}))
        elif isinstance(event, ThreadItemUpdatedEvent) and event.item_id == FAKE_RESPONSES_ID:
            current = current or new_id()
            event = ThreadItemUpdatedEvent(item_id=current, update=event.update)
        elif isinstance(event, ThreadItemDoneEvent) and event.item.id == FAKE_RESPONSES_ID:
            event = ThreadItemDoneEvent(
                item=event.item.model_copy(update={"id": current or new_id()})
            )
            current = None
        yield event
