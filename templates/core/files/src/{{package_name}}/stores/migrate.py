"""Bring the database schema to the newest Alembic revision, safely from several processes.

`migrate(engine)` runs when the store starts; `python -m <package>.stores.migrate` migrates
`DATABASE_URL` by hand (and in the Kubernetes init container). Servers starting together wait
for each other: the first one migrates, the others then find nothing to do.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from ..settings import SettingsError, load_settings
from .engine import AnyEngine, create_engine, dispose, run_on_connection

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
"""The Alembic scripts: `env.py` and the revisions in `versions/`."""

CONNECT_TIMEOUT_S = 30.0
"""How long `python -m` and the `alembic` command wait for the database."""

LOCK_KEY = 0x43484B53544F5245
"""PostgreSQL advisory lock held while migrating (the key earlier versions of the store used)."""


async def migrate(engine: AnyEngine) -> None:
    """Apply every pending revision in one transaction, holding the migration lock."""
    await run_on_connection(engine, _upgrade)


@contextmanager
def migration_transaction(connection: Connection) -> Iterator[None]:
    """A transaction begun under the migration lock, committed if the block succeeds.

    A concurrent migration waits for the lock until this one ends.
    """
    sqlite = connection.dialect.name == "sqlite"
    try:
        if connection.dialect.name == "postgresql":
            lock = text("SELECT pg_advisory_xact_lock(:key)")
            connection.execute(lock, {"key": LOCK_KEY})
        elif sqlite:
            _begin_immediate(connection)
        yield
        if sqlite:
            _check_foreign_keys(connection)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        if sqlite:
            _restore_foreign_keys(connection)


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration of the project; `env.py` migrates `connection` when given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def engine_for(database_url: str) -> AnyEngine:
    """An engine of one connection for `DATABASE_URL`, configured as the store's are."""
    from . import backend_for  # the package imports this module first

    return create_engine(
        backend_for(database_url), database_url, pool_size=1, pool_timeout=CONNECT_TIMEOUT_S
    )


def _upgrade(connection: Connection) -> None:
    with migration_transaction(connection):
        command.upgrade(alembic_config(connection), "head")


# dialect: SQLite. It has one writer: BEGIN IMMEDIATE takes the write lock before anything is
# read, and another process waits for it (busy timeout) instead of reading a stale schema. It
# changes a table by copying it and dropping the original, which must not cascade: foreign keys
# are off while migrating (checked before commit) and back on after. Both need the driver, out
# of any transaction; SQLAlchemy's own begin (nothing, or a deferred BEGIN) is undone first.
FOREIGN_KEYS = "sqlite_foreign_keys"


def _begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("SELECT 1")
    if connection.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        _driver_execute(connection, "ROLLBACK")
    (enforced,) = _driver_execute(connection, "PRAGMA foreign_keys")[0]
    connection.info[FOREIGN_KEYS] = enforced
    _driver_execute(connection, "PRAGMA foreign_keys = OFF")
    _driver_execute(connection, "BEGIN IMMEDIATE")


def _check_foreign_keys(connection: Connection) -> None:
    broken = _driver_execute(connection, "PRAGMA foreign_key_check")
    if broken:
        raise RuntimeError(f"The migration leaves rows whose foreign key is broken: {broken}")


def _restore_foreign_keys(connection: Connection) -> None:
    if connection.info.pop(FOREIGN_KEYS, 0):
        _driver_execute(connection, "PRAGMA foreign_keys = ON")


def _driver_execute(connection: Connection, statement: str) -> list[Any]:
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement)
        return list(cursor.fetchall()) if cursor.description else []
    finally:
        cursor.close()


async def _migrate_url(database_url: str) -> None:
    engine = engine_for(database_url)
    try:
        await migrate(engine)
    finally:
        await dispose(engine)


def main() -> int:
    """Migrate the database of `DATABASE_URL`; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    asyncio.run(_migrate_url(settings.database_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
