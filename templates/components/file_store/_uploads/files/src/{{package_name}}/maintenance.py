"""Maintenance commands, for cron or by hand: `python -m <package>.maintenance COMMAND`.

`purge-orphans [--older-than HOURS]` deletes attachments that were created but never sent in a
message (the record and the stored bytes) once they are older than HOURS (default 24).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from .files import create_file_storage
from .settings import Settings, SettingsError, load_settings
from .stores import create_store

DEFAULT_ORPHAN_HOURS = 24.0
MAX_ORPHAN_HOURS = 24.0 * 365 * 100


async def purge_orphans(settings: Settings, older_than: timedelta) -> int:
    """Delete attachments never sent in a message and older than `older_than`; returns how many.

    Uploads abandoned in the composer (or never uploaded) stay behind otherwise.
    """
    files = create_file_storage(settings)
    store = create_store(settings.database_url, pool_size=settings.database_pool_size)
    try:
        await store.initialize()
        orphans = await store.delete_orphan_attachments(datetime.now(UTC) - older_than)
        for context, attachment in orphans:
            await files.delete_files([attachment], context)
    finally:
        await store.close()
    return len(orphans)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named in `argv`; returns the exit status."""
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    purge = commands.add_parser("purge-orphans", help="delete attachments never sent in a message")
    purge.add_argument(
        "--older-than",
        type=_positive_hours,
        default=DEFAULT_ORPHAN_HOURS,
        metavar="HOURS",
        help=f"only those created more than HOURS ago (default {DEFAULT_ORPHAN_HOURS:g})",
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    count = asyncio.run(purge_orphans(settings, timedelta(hours=args.older_than)))
    print(f"Deleted {count} orphan attachment(s) older than {args.older_than:g} hours.")
    return 0


def _positive_hours(value: str) -> float:
    try:
        hours = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of hours: {value!r}") from None
    if not 0 < hours <= MAX_ORPHAN_HOURS:
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most {MAX_ORPHAN_HOURS:g} hours, not {value!r}"
        )
    return hours


if __name__ == "__main__":
    sys.exit(main())
