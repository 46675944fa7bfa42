"""Function tools of the entry agent."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agents import RunContextWrapper, function_tool
from chatkit.types import ProgressUpdateEvent

from ..context import ChatAgentContext


@function_tool
async def current_time(ctx: RunContextWrapper[ChatAgentContext], timezone: str) -> str:
    """Return the current date and time in a time zone.

    Args:
        timezone: An IANA time zone name, such as "Europe/Paris" or "UTC".
    """
    # Shown in the ChatKit UI while the tool runs (not stored in the thread).
    progress = ProgressUpdateEvent(icon="clock", text=f"Checking the time in {timezone}")
    await ctx.context.stream(progress)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return f"Unknown time zone {timezone!r}; use an IANA name such as 'Europe/Paris'."
    return datetime.now(zone).isoformat(timespec="seconds")
