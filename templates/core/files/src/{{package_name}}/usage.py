"""Token usage per user for a period: `python -m <package>.usage --since 2026-11-01`.

Every answered turn stores its model tokens in the `usage` table (`server.py`); this sums them
per user, or per user and thread, over whole UTC days from `--since` to `--until` (both
included; no `--until`: up to now). `usage_report()` returns the rows, `main()` prints them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from .settings import SettingsError, load_settings
from .stores import backend_for
from .stores.engine import dispose, run_on_connection
from .stores.migrate import engine_for
from .stores.schema import usage


@dataclass(frozen=True)
class Period:
    """Whole UTC days, `since` to `until` included; no `until`: up to now."""

    since: date
    until: date | None = None

    def __post_init__(self) -> None:
        if self.until is not None and self.until < self.since:
            raise ValueError(f"--until {self.until} is before --since {self.since}")

    @property
    def start(self) -> datetime:
        """The first moment counted (naive UTC, as the table keeps times)."""
        return datetime.combine(self.since, time())

    @property
    def end(self) -> datetime | None:
        """The first moment not counted, if any."""
        return None if self.until is None else datetime.combine(self.until, time()) + timedelta(1)

    def __str__(self) -> str:
        return f"{self.since} to {self.until or 'now'} (UTC)"


@dataclass(frozen=True)
class UsageRow:
    """The turns and tokens of one user (and one thread, by thread) in the period."""

    user_id: str
    thread_id: str | None
    turns: int
    input_tokens: int
    output_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


async def usage_report(
    database_url: str, period: Period, *, user_id: str | None = None, by_thread: bool = False
) -> list[UsageRow]:
    """The usage of every user (or of `user_id`) in `period`, by user then thread id."""
    keys = [usage.c.user_id, usage.c.thread_id] if by_thread else [usage.c.user_id]
    query = (
        select(
            *keys,
            func.count().label("turns"),
            func.sum(usage.c.input_tokens).label("input_tokens"),
            func.sum(usage.c.output_tokens).label("output_tokens"),
        )
        .where(usage.c.created_at >= period.start)
        .group_by(*keys)
        .order_by(*keys)
    )
    if period.end is not None:
        query = query.where(usage.c.created_at < period.end)
    if user_id is not None:
        query = query.where(usage.c.user_id == user_id)
    engine = engine_for(database_url)
    try:
        rows = await run_on_connection(engine, lambda connection: connection.execute(query).all())
    finally:
        await dispose(engine)
    return [
        UsageRow(
            user_id=row.user_id,
            thread_id=row.thread_id if by_thread else None,
            turns=int(row.turns),
            input_tokens=int(row.input_tokens),
            output_tokens=int(row.output_tokens),
        )
        for row in rows
    ]


def format_report(rows: Sequence[UsageRow], period: Period, *, by_thread: bool = False) -> str:
    """A text table of `rows`, names left-aligned and counts right-aligned."""
    if not rows:
        return f"No turns from {period}."
    header = ["user", *(["thread"] if by_thread else []), "turns", "input", "output", "total"]
    names = 2 if by_thread else 1
    lines = [
        [
            row.user_id,
            *([row.thread_id or ""] if by_thread else []),
            *(str(n) for n in (row.turns, row.input_tokens, row.output_tokens, row.total_tokens)),
        ]
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

    def render(cells: list[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i < names else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([f"Token usage from {period}", render(header), *map(render, lines)])


def parse_day(text: str) -> date:
    """A `YYYY-MM-DD` argument."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def parser() -> argparse.ArgumentParser:
    command = argparse.ArgumentParser(
        prog=f"python -m {__package__}.usage",
        description="Print the model tokens used per user over whole UTC days.",
    )
    day = "YYYY-MM-DD"
    command.add_argument(
        "--since", type=parse_day, metavar=day, required=True, help="the first day counted"
    )
    command.add_argument(
        "--until", type=parse_day, metavar=day, help="the last day counted (default: up to now)"
    )
    command.add_argument("--user", help="only this user id")
    command.add_argument("--by-thread", action="store_true", help="one line per user and thread")
    return command


def main(argv: Sequence[str] | None = None) -> int:
    """Print the usage report of `DATABASE_URL`; returns the exit status (2: bad arguments)."""
    command = parser()
    arguments = command.parse_args(argv)
    try:
        period = Period(arguments.since, arguments.until)
    except ValueError as exc:
        command.error(str(exc))
    try:
        settings = load_settings()
        backend_for(settings.database_url)
    except (SettingsError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    report = usage_report(
        settings.database_url, period, user_id=arguments.user, by_thread=arguments.by_thread
    )
    try:
        rows = asyncio.run(report)
    except (DBAPIError, OSError) as exc:
        reason = exc.orig if isinstance(exc, DBAPIError) else exc
        print(f"Could not read the usage table: {reason}", file=sys.stderr)
        return 1
    print(format_report(rows, period, by_thread=arguments.by_thread))
    return 0


if __name__ == "__main__":
    sys.exit(main())
