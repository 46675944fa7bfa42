"""Build the SQLAlchemy engine of a database from what its component declared (`backends.py`).

A database is data here, not code: its URL schemes, the SQLAlchemy driver, an example URL and
its connect options. Nothing in this module names a database. An async driver gives an
`AsyncEngine`; a synchronous one (`threaded`) a plain `Engine` whose connections are used in
worker threads (`connections.py`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool
from sqlalchemy.util import await_only

T = TypeVar("T")
AnyEngine = AsyncEngine | Engine

MEMORY = ":memory:"
BUSY_RETRY_S = 0.02


@dataclass(frozen=True)
class Backend:
    """One database the project supports, as its component's `[store]` table declares it."""

    name: str
    """The component, e.g. `sqlite`; its tests bring the fixture `<name>_database_url`."""
    schemes: Sequence[str]
    """URL schemes of `DATABASE_URL` that select it."""
    driver: str
    """SQLAlchemy's `dialect+driver`, e.g. `postgresql+asyncpg`."""
    example_url: str
    threaded: bool = False
    """The driver is synchronous (SQLite's standard `sqlite3`): the store runs each call's
    statements in one worker-thread hop, where an async adapter would hop per operation."""
    file: bool = False
    """The URL names a file: its folder is created (`:memory:` is one database per connection)."""
    single_writer: bool = False
    """One writer at a time (SQLite): the process's writes take turns on a lock rather than
    sleep in each other's file locks; reads still run side by side."""
    connect_args: Mapping[str, Any] = field(default_factory=dict)
    """Keyword arguments of the driver's `connect`."""
    connect_timeout_arg: str = ""
    """The driver's `connect` argument that bounds connecting (set to the pool time-out)."""
    dsn_arg: str = ""
    """The driver's `connect` argument given the whole URL, whose query the driver reads."""
    on_connect: Sequence[str] = ()
    """Statements run on every new connection (SQLite's pragmas)."""
    on_connect_busy: str = ""
    """Text of the error an `on_connect` statement raises while another connection holds the
    database (SQLite switches a new file to WAL only when it is alone, without waiting): the
    statement is tried again until the pool time-out."""
    loop_reads: Sequence[str] = ()
    """With a synchronous driver: statements that make a connection fit to read on the event
    loop itself (read-only, never waiting for a lock). Given, the store keeps one more
    connection, outside the pool, for those reads (`connections.py`); a file database only."""


def loop_reads(backend: Backend, database_url: str) -> Sequence[str]:
    """The statements of `backend.loop_reads` where they apply to `database_url`, else none.

    Not for `:memory:`: each connection would be a database of its own.
    """
    if not backend.threaded or _in_memory(backend, make_url(_with_driver(backend, database_url))):
        return ()
    return backend.loop_reads


def create_engine(
    backend: Backend, database_url: str, *, pool_size: int, pool_timeout: float
) -> AnyEngine:
    """An engine for `database_url` with at most `pool_size` connections.

    Waiting for a free connection, or for a new one, gives up after `pool_timeout` seconds.
    No connection is checked before use: a broken one fails its statement, is replaced, and the
    store retries once.
    """
    _, _, rest = database_url.partition("://")
    url = make_url(_with_driver(backend, database_url))
    connect_args = dict(backend.connect_args)
    if backend.connect_timeout_arg:
        connect_args[backend.connect_timeout_arg] = pool_timeout
    if backend.dsn_arg:
        connect_args[backend.dsn_arg] = f"{backend.driver.partition('+')[0]}://{rest}"
        url = url.set(query={})
    memory = _in_memory(backend, url)
    if backend.file and not memory and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    if memory:
        pool_size = 1
    options: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": 0,
        "pool_timeout": pool_timeout,
        "pool_pre_ping": False,
        # Every call commits or closes its connection (which rolls back): no reset needed.
        "pool_reset_on_return": None,
        "connect_args": connect_args,
        # Payloads are JSON text both ways: pydantic serializes and validates them.
        "json_serializer": _same,
        "json_deserializer": _same,
    }
    engine: AnyEngine
    if backend.threaded:
        engine = sqlalchemy.create_engine(url, poolclass=QueuePool, **options)
    else:
        engine = create_async_engine(url, poolclass=AsyncAdaptedQueuePool, **options)
    if backend.on_connect:
        statements, busy = tuple(backend.on_connect), backend.on_connect_busy
        pause = time.sleep if backend.threaded else _pause_in_greenlet

        @event.listens_for(sync_engine(engine), "connect")
        def _prepare(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                for statement in statements:
                    _execute_when_free(cursor, statement, busy, pool_timeout, pause)
            finally:
                cursor.close()

    return engine


def sync_engine(engine: AnyEngine) -> Engine:
    """The `Engine` whose events and pool are `engine`'s."""
    return engine.sync_engine if isinstance(engine, AsyncEngine) else engine


async def run_on_connection(engine: AnyEngine, work: Callable[[Connection], T]) -> T:
    """Run `work` on a new connection of `engine`, then close it (uncommitted work rolls back).

    For tools and tests; the store itself goes through `connections.py`.
    """
    if isinstance(engine, AsyncEngine):
        async with engine.connect() as connection:
            return await connection.run_sync(work)

    def run() -> T:
        with engine.connect() as connection:
            return work(connection)

    return await asyncio.to_thread(run)


async def dispose(engine: AnyEngine) -> None:
    """Close every pooled connection of `engine`."""
    if isinstance(engine, AsyncEngine):
        await engine.dispose()
    else:
        await asyncio.to_thread(engine.dispose)


def _with_driver(backend: Backend, database_url: str) -> str:
    _, _, rest = database_url.partition("://")
    return f"{backend.driver}://{rest}"


def _in_memory(backend: Backend, url: URL) -> bool:
    return backend.file and url.database in (None, "", MEMORY)


def _execute_when_free(
    cursor: Any, statement: str, busy: str, timeout: float, pause: Callable[[float], None]
) -> None:
    """Execute `statement`, again while it fails with the `busy` error, for up to `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            cursor.execute(statement)
            return
        except Exception as error:
            if not busy or busy not in str(error) or time.monotonic() > deadline:
                raise
        pause(BUSY_RETRY_S)


def _pause_in_greenlet(seconds: float) -> None:
    """Sleep inside an async driver's greenlet without blocking the event loop."""
    await_only(asyncio.sleep(seconds))


def _same(value: str) -> str:
    return value
