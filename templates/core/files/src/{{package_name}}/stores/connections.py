"""How the store reaches its connections: awaited with an async driver, in worker threads with a
synchronous one.

A store call is one `run()`: take a connection unless the caller's holder (a request scope)
has one, run the call's statements (a plain function of a SQLAlchemy `Connection`), and when
the call ends the unit of work, commit and give the connection back. With a synchronous driver
(SQLite's `sqlite3`) all of that is one hop to a worker thread, where an async adapter of the
same driver hops for every cursor operation; and a read that needs no connection of its own
runs on the event loop itself when the database declares how (`loop_reads`), since the hop
would cost more than the read.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .base import StoreUnavailable
from .engine import AnyEngine, dispose

T = TypeVar("T")
SyncWork = Callable[[Connection], T]


class Holder(Protocol):
    """Who keeps a connection between calls: a request scope, or one call alone."""

    connection: Any
    """The connection taken for it, or None."""


class Connections(Protocol):
    """Connections of one engine, as the store uses them."""

    @property
    def engine(self) -> AnyEngine:
        """The engine whose pool they come from."""
        ...

    async def run(
        self, holder: Holder, work: SyncWork[T], *, end: bool, reads_only: bool = False
    ) -> T:
        """Run `work` on `holder`'s connection (taken first if it has none).

        With `end`, commit when `work` succeeds and give the connection back either way;
        otherwise the holder keeps it, also when `work` fails. `reads_only` (with `end`): `work`
        writes nothing, so it needs no transaction.
        """
        ...

    async def end(self, holder: Holder, *, commit: bool) -> None:
        """Commit (if asked) and give back `holder`'s connection, if it has one."""
        ...

    async def open(self) -> None:
        """Open the connections kept outside the pool, if any (at start-up, while it is free)."""
        ...

    async def close(self) -> None:
        """Close every pooled connection; the next call opens new ones."""
        ...


def connections_for(
    engine: AnyEngine, *, pool_timeout: float, loop_reads: Sequence[str] = ()
) -> Connections:
    """`loop_reads`: see `ThreadConnections` (an async driver reads on the loop anyway)."""
    if isinstance(engine, AsyncEngine):
        return AsyncConnections(engine)
    return ThreadConnections(engine, pool_timeout=pool_timeout, loop_reads=loop_reads)


class AsyncConnections:
    """An async driver's connections, awaited on the event loop.

    A call whose task is cancelled (a client gone) still runs its statements to their end and
    gives its connection back before the cancellation goes on: an asyncpg statement cut short
    leaves its connection mid-protocol, to be terminated, with errors nobody reads.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def run(
        self, holder: Holder, work: SyncWork[T], *, end: bool, reads_only: bool = False
    ) -> T:
        autocommit = end and reads_only and holder.connection is None
        if holder.connection is None:
            holder.connection = await _taken(self.engine.connect)
        call = self._call(holder, work, end, autocommit=autocommit)
        return await _to_the_end(asyncio.ensure_future(call))

    async def end(self, holder: Holder, *, commit: bool) -> None:
        if holder.connection is not None:
            await _to_the_end(asyncio.ensure_future(self._end(holder, commit)))

    async def _call(self, holder: Holder, work: SyncWork[T], end: bool, *, autocommit: bool) -> T:
        connection: AsyncConnection = holder.connection
        try:
            if autocommit:
                # No BEGIN and no COMMIT: one round trip instead of three. The pool restores
                # the isolation level when the connection comes back.
                await connection.execution_options(isolation_level="AUTOCOMMIT")
            result = await connection.run_sync(work)
            if end:
                await connection.commit()
            return result
        finally:
            if end:
                await self._end(holder, commit=False)

    @staticmethod
    async def _end(holder: Holder, commit: bool) -> None:
        connection: AsyncConnection | None = holder.connection
        holder.connection = None
        if connection is None:
            return
        try:
            if commit:
                await connection.commit()
        finally:
            await connection.close()

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        await dispose(self.engine)


class ThreadConnections:
    """A synchronous driver's connections, used in worker threads, one hop per call.

    As many threads as the pool has connections, and a connection is only taken by a call that
    holds one of as many permits: a hop never waits in the pool for a connection that a request
    between two calls holds, so threads cannot all be stuck while those requests wait for one.

    With `loop_reads` (the statements that make a connection fit for it: read-only, never
    waiting for a lock), one more connection, outside the pool, serves the event loop: a read
    whose holder has no connection runs on it without a hop. A read that fails there (the
    database busy, the connection lost) runs again in a worker thread, where it may wait.
    """

    def __init__(
        self, engine: Engine, *, pool_timeout: float, loop_reads: Sequence[str] = ()
    ) -> None:
        self.engine = engine
        self._loop_reads = tuple(loop_reads)
        self._size = max(1, getattr(engine.pool, "size", lambda: 1)())
        self._pool_timeout = pool_timeout
        self._permits = asyncio.Semaphore(self._size)
        self._threads: ThreadPoolExecutor | None = None
        self._reader: Connection | None = None
        self._reader_opening = asyncio.Lock()

    async def run(
        self, holder: Holder, work: SyncWork[T], *, end: bool, reads_only: bool = False
    ) -> T:
        if reads_only and holder.connection is None and self._loop_reads:
            reader = self._reader or await self._open_reader()
            if reader is not None:
                try:
                    return work(reader)
                except DBAPIError as error:
                    if error.connection_invalidated:
                        self._drop_reader()
                    else:
                        reader.rollback()  # nothing to undo: resets SQLAlchemy's state
        if holder.connection is None:
            await self._take_permit()
        try:
            return await self._in_thread(self._call, holder, work, end)
        finally:
            if holder.connection is None:  # given back, or never taken
                self._permits.release()

    async def end(self, holder: Holder, *, commit: bool) -> None:
        if holder.connection is None:
            return
        try:
            await self._in_thread(self._end, holder, commit)
        finally:
            self._permits.release()

    async def open(self) -> None:
        if self._loop_reads:
            await self._open_reader()

    async def close(self) -> None:
        self._drop_reader()
        await dispose(self.engine)
        if self._threads is not None:
            self._threads.shutdown(wait=False)
            self._threads = None

    async def _take_permit(self) -> None:
        if not self._permits.locked():
            await self._permits.acquire()  # one is free: taken at once
            return
        try:
            async with asyncio.timeout(self._pool_timeout):
                await self._permits.acquire()
        except TimeoutError as error:
            raise StoreUnavailable("No database connection became free in time") from error

    async def _open_reader(self) -> Connection | None:
        """The event loop's connection, opened in a worker thread (connecting may wait for a
        lock) with a connection of the pool that then leaves it; None when it cannot be set up
        for reads (the read then goes to a thread)."""
        async with self._reader_opening:
            if self._reader is None:
                await self._take_permit()
                try:
                    await self._in_thread(self._open_reader_now)
                except DBAPIError:
                    return None
                finally:
                    self._permits.release()
            return self._reader

    def _open_reader_now(self) -> None:
        connection = _taken_now(self.engine.connect)
        try:
            # Each read is its own statement: no transaction keeps a snapshot between reads.
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.detach()  # set up for reads only: it must never serve a writer
            for statement in self._loop_reads:
                connection.exec_driver_sql(statement)
        except DBAPIError:
            connection.close()
            raise
        self._reader = connection  # set here, so a cancelled opener does not lose it

    def _drop_reader(self) -> None:
        if self._reader is not None:
            reader, self._reader = self._reader, None
            reader.close()  # detached: closed for good

    async def _in_thread(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` in a worker thread, waited for to its end even when this task is
        cancelled meanwhile (a client gone): the thread runs it to the end anyway, and the
        holder's connection and permit must be settled before the cancellation goes on."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self._size, thread_name_prefix="database")
        # The thread sees this task's context (the trace a statement's span belongs to).
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await _to_the_end(loop.run_in_executor(self._threads, context.run, function, *args))

    def _call(self, holder: Holder, work: SyncWork[T], end: bool) -> T:
        if holder.connection is None:
            holder.connection = _taken_now(self.engine.connect)
        connection: Connection = holder.connection
        try:
            result = work(connection)
            if end:
                connection.commit()
            return result
        finally:
            if end:
                holder.connection = None
                connection.close()

    @staticmethod
    def _end(holder: Holder, commit: bool) -> None:
        connection: Connection = holder.connection
        holder.connection = None
        try:
            if commit:
                connection.commit()
        finally:
            connection.close()


_UNREACHABLE = (DBAPIError, OSError, TimeoutError)


async def _to_the_end(operation: asyncio.Future[T]) -> T:
    """The result of `operation`, waited for to its end even when this task is cancelled
    meanwhile; then the cancellation goes on."""
    cancelled = False
    while not operation.done():
        try:
            await asyncio.wait({operation})
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        if not operation.cancelled():
            operation.exception()  # retrieved: the cancellation is what goes on
        raise asyncio.CancelledError
    return operation.result()


async def _taken(connect: Callable[[], Any]) -> Any:
    """A connection from the pool, or `StoreUnavailable` within the pool time-out."""
    try:
        return await connect()
    except PoolTimeoutError as error:
        raise StoreUnavailable("No database connection became free in time") from error
    except _UNREACHABLE as error:
        raise StoreUnavailable(f"The database cannot be reached: {error}") from error


def _taken_now(connect: Callable[[], Connection]) -> Connection:
    """`_taken` for a synchronous engine, in a worker thread."""
    try:
        return connect()
    except PoolTimeoutError as error:
        raise StoreUnavailable("No database connection became free in time") from error
    except _UNREACHABLE as error:
        raise StoreUnavailable(f"The database cannot be reached: {error}") from error
