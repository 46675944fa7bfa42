"""Widget actions: one handler module per action type, discovered at start-up.

Each module here (not starting with `_`) exposes `HANDLER`, one of:

- `StreamedAction`: answered in a stream (`threads.custom_action`, the default of a widget's
  `onClickAction`). It may update its widget, record hidden context that the model reads on its
  next turn, and continue with an answer (`call.conversation.answer(...)`).
- `SyncAction`: answered at once (`threads.sync_custom_action`, an action configured with
  `streaming: false`); it returns the updated widget item, which is saved and sent back.

Each declares the action type it handles and a pydantic model of its payload. An unknown type,
a payload that does not validate, or a missing widget is refused with 400 before anything runs
(`request_checks.py`). `chatkit-scaffold add-widget NAME` adds a widget with its handler.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from chatkit.store import Store
from chatkit.types import (
    HiddenContextItem,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    WidgetItem,
)
from pydantic import BaseModel, ValidationError

from ..context import RequestContext
from ..errors import ApiError

__all__ = [
    "ActionCall",
    "ActionRegistry",
    "Conversation",
    "StreamedAction",
    "SyncAction",
    "discover_actions",
]

P = TypeVar("P", bound=BaseModel)


class Conversation(Protocol):
    """What an action handler may ask of the server."""

    @property
    def store(self) -> Store[RequestContext]:
        """The thread store (read-only here, so a server may hold a richer one)."""
        ...

    def answer(
        self, thread: ThreadMetadata, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        """The agent's answer to the thread as it stands (no new user message)."""
        ...

    def resume(
        self,
        thread: ThreadMetadata,
        widget: WidgetItem,
        run_id: str,
        approved: bool,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Resume the run paused for approval `run_id`, its calls approved or rejected."""
        ...


@dataclass(frozen=True)
class ActionCall(Generic[P]):
    """One action to handle: where it comes from and its validated payload."""

    thread: ThreadMetadata
    sender: WidgetItem | None
    payload: P
    context: RequestContext
    conversation: Conversation

    @property
    def widget(self) -> WidgetItem:
        """The widget item the action came from (checked present for handlers that need it)."""
        if self.sender is None:
            raise ApiError(400, "invalid_request", "This action must come from a widget.")
        return self.sender

    def hidden_context(self, text: str) -> ThreadItemDoneEvent:
        """An event that records `text` for the model (stored, never shown to the user)."""
        store = self.conversation.store
        item = HiddenContextItem(
            id=store.generate_item_id("message", self.thread, self.context),
            thread_id=self.thread.id,
            created_at=datetime.now(),
            content=text,
        )
        return ThreadItemDoneEvent(item=item)


@dataclass(frozen=True)
class StreamedAction(Generic[P]):
    """A handler answered in a stream (`threads.custom_action`)."""

    action_type: str
    payload: type[P]
    handle: Callable[[ActionCall[P]], AsyncIterator[ThreadStreamEvent]]
    needs_widget: bool = True


@dataclass(frozen=True)
class SyncAction(Generic[P]):
    """A handler answered at once (`threads.sync_custom_action`) with the updated widget item."""

    action_type: str
    payload: type[P]
    handle: Callable[[ActionCall[P]], Awaitable[WidgetItem | None]]
    needs_widget: bool = True


def parse_payload(handler: StreamedAction[P] | SyncAction[P], payload: Any) -> P:
    """The payload as the handler's model; `ApiError` 400 naming the first problem otherwise."""
    try:
        return handler.payload.model_validate(payload if payload is not None else {})
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False, include_context=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        detail = f"{where}: {error['msg']}" if where else error["msg"]
        raise ApiError(
            400, "invalid_request", f"Invalid payload for action '{handler.action_type}': {detail}"
        ) from None


@dataclass(frozen=True)
class ActionRegistry:
    """The handlers by action type."""

    streamed: Mapping[str, StreamedAction[Any]]
    synchronous: Mapping[str, SyncAction[Any]]

    def streamed_handler(self, action_type: str) -> StreamedAction[Any]:
        """The streamed handler of a type; `ApiError` 400 when there is none."""
        handler = self.streamed.get(action_type)
        if handler is not None:
            return handler
        if action_type in self.synchronous:
            raise ApiError(
                400,
                "invalid_request",
                f"Action '{action_type}' is answered at once: send it with "
                "threads.sync_custom_action (streaming: false).",
            )
        raise ApiError(400, "invalid_request", f"Unknown action type '{action_type}'.")

    def sync_handler(self, action_type: str) -> SyncAction[Any]:
        """The synchronous handler of a type; `ApiError` 400 when there is none."""
        handler = self.synchronous.get(action_type)
        if handler is not None:
            return handler
        if action_type in self.streamed:
            raise ApiError(
                400,
                "invalid_request",
                f"Action '{action_type}' is answered in a stream: send it with "
                "threads.custom_action.",
            )
        raise ApiError(400, "invalid_request", f"Unknown action type '{action_type}'.")


def discover_actions() -> ActionRegistry:
    """Every module of this package; a malformed one or a type handled twice stops start-up."""
    streamed: dict[str, StreamedAction[Any]] = {}
    synchronous: dict[str, SyncAction[Any]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        handler = getattr(module, "HANDLER", None)
        if not isinstance(handler, StreamedAction | SyncAction):
            raise RuntimeError(
                f"Action module {module.__name__} needs HANDLER = StreamedAction(...) or "
                "SyncAction(...)"
            )
        if handler.action_type in streamed or handler.action_type in synchronous:
            raise RuntimeError(f"Two action modules handle '{handler.action_type}'")
        if isinstance(handler, StreamedAction):
            streamed[handler.action_type] = handler
        else:
            synchronous[handler.action_type] = handler
    return ActionRegistry(streamed, synchronous)
