"""`clock.refresh`: the clock's Refresh button, answered at once with the updated clock."""

from __future__ import annotations

from chatkit.types import WidgetItem

from ..widgets.clock import REFRESH_ACTION, Clock, ClockPayload, build_clock, now_in
from . import ActionCall, SyncAction


async def refresh(call: ActionCall[ClockPayload]) -> WidgetItem:
    """The same clock item, showing the time now."""
    clock = Clock.at(call.payload.timezone, now_in(call.payload.timezone))
    return call.widget.model_copy(update={"widget": build_clock(clock), "copy_text": clock.time})


HANDLER = SyncAction(REFRESH_ACTION, ClockPayload, refresh)
