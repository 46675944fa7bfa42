"""`current_time`: the time in a time zone, shown as a clock widget that updates as it streams.

The example of a server tool that streams progress, a widget (`widgets/clock.widget`, whose
buttons are handled by `actions/clock_refresh.py` and `actions/clock_compare.py`) and a client
effect.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agents import RunContextWrapper, function_tool
from chatkit.types import ClientEffectEvent, ProgressUpdateEvent
from chatkit.widgets import WidgetRoot

from ..context import ChatAgentContext
from ..widgets.clock import Clock, build_clock

AGENT = "assistant"

TIME_SHOWN_EFFECT = "time_shown"
"""The client effect sent with each clock: the page may use it (`onEffect`), or ignore it."""


@function_tool
async def current_time(ctx: RunContextWrapper[ChatAgentContext], timezone: str) -> str:
    """Return the current date and time in a time zone, and show it to the user as a clock.

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
    now = datetime.now(zone)
    await ctx.context.stream_widget(_clock_frames(timezone, now), copy_text=_copy_text(now))
    effect = ClientEffectEvent(
        name=TIME_SHOWN_EFFECT, data={"timezone": timezone, "time": now.isoformat()}
    )
    await ctx.context.stream(effect)
    return now.isoformat(timespec="seconds")


async def _clock_frames(timezone: str, now: datetime) -> AsyncGenerator[WidgetRoot, None]:
    """The clock while it looks up the time, then with the time (one widget, updated)."""
    yield build_clock(Clock(timezone=timezone))
    yield build_clock(Clock.at(timezone, now))


def _copy_text(now: datetime) -> str:
    return f"{now:%H:%M} ({now.tzname()}) on {now:%A %d %B %Y}"


TOOL = current_time
