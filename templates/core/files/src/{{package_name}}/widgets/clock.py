"""The clock widget of `current_time`: the time in a zone, with Refresh and Compare buttons."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chatkit.widgets import WidgetRoot
from pydantic import BaseModel, field_validator

from . import load_template

TEMPLATE = load_template("clock")

REFRESH_ACTION = "clock.refresh"
"""Handled at once (`threads.sync_custom_action`): the widget comes back with the new time."""
COMPARE_ACTION = "clock.compare"
"""Handled in a stream (`threads.custom_action`): the assistant compares with the user's zone."""


class Clock(BaseModel):
    """The widget's data: the zone, and the time once known (None while it is looked up)."""

    timezone: str
    time: str | None = None
    date: str | None = None
    compared: bool = False

    @classmethod
    def at(cls, timezone: str, now: datetime, *, compared: bool = False) -> Clock:
        """The clock showing `now`."""
        return cls(
            timezone=timezone,
            time=f"{now:%H:%M} ({now.tzname()})",
            date=f"{now:%A %d %B %Y}",
            compared=compared,
        )


class ClockPayload(BaseModel):
    """The payload of the clock's actions: the zone it shows."""

    timezone: str

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


def build_clock(clock: Clock) -> WidgetRoot:
    """The clock widget for this data."""
    return TEMPLATE.build(clock)


def now_in(timezone: str) -> datetime:
    """The current time in a zone that `ClockPayload` validated."""
    return datetime.now(ZoneInfo(timezone))
