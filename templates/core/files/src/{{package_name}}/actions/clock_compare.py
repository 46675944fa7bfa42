"""`clock.compare`: the clock's Compare button, answered in a stream by the assistant.

It marks the clock as compared (the button is disabled, for reloads too), records what the user
asked as hidden context, and lets the agent answer: it may call the client tool
`get_browser_timezone` to learn the user's own zone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from chatkit.types import ThreadItemReplacedEvent, ThreadStreamEvent

from ..widgets.clock import COMPARE_ACTION, Clock, ClockPayload, build_clock, now_in
from . import ActionCall, StreamedAction


async def compare(call: ActionCall[ClockPayload]) -> AsyncIterator[ThreadStreamEvent]:
    """Update the clock, tell the model what the user asked, and answer."""
    zone = call.payload.timezone
    clock = Clock.at(zone, now_in(zone), compared=True)
    widget = call.widget.model_copy(update={"widget": build_clock(clock)})
    # A replaced item is saved by ChatKit and sent to the client in place of the old one.
    yield ThreadItemReplacedEvent(item=widget)
    yield call.hidden_context(
        f"The user pressed 'Compare with my time' on the clock for {zone} ({clock.time}). "
        "Compare that time with the user's own time zone."
    )
    async for event in call.conversation.answer(call.thread, call.context):
        yield event


HANDLER = StreamedAction(COMPARE_ACTION, ClockPayload, compare)
