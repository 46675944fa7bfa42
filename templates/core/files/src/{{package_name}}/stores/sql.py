"""The ChatKit store on SQLAlchemy Core: one implementation for every database.

It runs the statements of `statements.py`, built once per dialect, binding only values. Calls
made inside `request_scope()` share one pooled connection and one transaction, committed when
the request's work is done; other calls each take a connection and commit on their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata
from sqlalchemy import Connection, Executable
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from ..context import RequestContext
from ..file_storage import FileStorage
from .base import (
    AppStore,
    OwnedAttachment,
    PoolState,
    StoreUnavailable,
    TurnUsage,
    attachment_not_found,
    check_order,
    clamp_limit,
    dump_attachment,
    dump_item,
    dump_thread,
    has_nul,
    item_not_found,
    load_attachment_json,
    load_item_json,
    load_thread_json,
    make_cursor,
    parse_cursor,
    thread_not_found,
)
from .connections import SyncWork, connections_for
from .engine import AnyEngine
from .statements import PageKind, Pages, build_statements

logger = logging.getLogger(__name__)

T = TypeVar("T")
Params = dict[str, Any]


@dataclass
class _Call:
    """A call outside any request scope: its connection, for that call alone."""

    connection: Any = None


@dataclass
class _Scope:
    """One request's connection (taken on first use), what it read, and what runs after it."""

    store: SqlStore
    connection: Any = None
    threads: dict[tuple[str, str], str] = field(default_factory=dict)
    writing: bool = False
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


_current_scope: ContextVar[_Scope | None] = ContextVar("store_request_scope", default=None)


class SqlStore(AppStore):
    """ChatKit store on a SQLAlchemy engine; timestamps are naive UTC, like the SDK's."""

    def __init__(
        self,
        engine: AnyEngine,
        *,
        pool_timeout: float,
        single_writer: bool = False,
        loop_reads: Sequence[str] = (),
        files: FileStorage | None = None,
    ) -> None:
        super().__init__(files)
        self.engine = engine
        self._connections = connections_for(
            engine, pool_timeout=pool_timeout, loop_reads=loop_reads
        )
        # dialect: SQLite has one writer per file; the process's writes take turns here.
        self._write_turn = asyncio.Lock() if single_writer else None
        self._pool_timeout = pool_timeout
        self._sql = build_statements(engine.dialect.name)
        self._migrated = False
        self._lock = asyncio.Lock()

    async def initialize(self) -> None:
        if self._migrated:
            return
        async with self._lock:
            if not self._migrated:
                # Imported here: `python -m <package>.stores.migrate` runs that module as
                # __main__, which must not have been imported with this package.
                from .migrate import migrate

                try:
                    await migrate(self.engine)
                    await self._connections.open()
                except (DBAPIError, OSError, TimeoutError, PoolTimeoutError) as error:
                    raise StoreUnavailable(f"The database cannot be reached: {error}") from error
                self._migrated = True

    async def ping(self) -> None:
        await self.initialize()
        try:
            # Not `reads_only`: ready means a call gets a pooled connection in time.
            await self._connections.run(_Call(), _select_one, end=True)
        except DBAPIError as error:
            raise StoreUnavailable("The database does not answer") from error

    async def close(self) -> None:
        await self._connections.close()

    def pool_state(self) -> PoolState:
        pool = self.engine.pool
        size = getattr(pool, "size", lambda: 1)()
        in_use = getattr(pool, "checkedout", lambda: 0)()
        return PoolState(size=size, in_use=in_use)

    @asynccontextmanager
    async def request_scope(self) -> AsyncIterator[None]:
        scope = _Scope(self)
        token = _current_scope.set(scope)
        try:
            yield
            try:
                await self._connections.end(scope, commit=True)
            except DBAPIError as error:
                raise StoreUnavailable("The database did not commit") from error
        finally:
            _current_scope.reset(token)
            await self._connections.end(scope, commit=False)
            if scope.writing and self._write_turn is not None:
                self._write_turn.release()
        for callback in scope.after_commit:
            await callback()

    # --- threads -------------------------------------------------------------------------

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        return load_thread_json(await self._thread_data(thread_id, context))

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        _refuse_nul(thread.id, context.user_id)
        scope = self._scope()
        if scope is not None:
            scope.threads.pop((context.user_id, thread.id), None)
        values = {
            "id": thread.id,
            "user_id": context.user_id,
            "created_at": thread.created_at,
            "data": dump_thread(thread),
        }
        found = await self._run(_first(self._sql.save_thread, values), writes=True)
        if found is None:
            raise thread_not_found(thread.id)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        owner = {"user_id": context.user_id}
        rows, limit = await self._page_rows(self._sql.thread_pages, owner, after, order, limit)
        return _page([(load_thread_json(r.data), r) for r in rows], limit)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        _refuse_nul(thread_id, context.user_id, missing=thread_not_found(thread_id))

        owner = {"thread_id": thread_id, "user_id": context.user_id}

        def work(conn: Connection) -> list[Attachment]:
            # The thread's items go with it: ON DELETE CASCADE.
            if conn.execute(self._sql.delete_thread, owner).first() is None:
                raise thread_not_found(thread_id)
            rows = conn.execute(self._sql.delete_thread_attachments, owner).all()
            return [load_attachment_json(row.data) for row in rows]

        scope = self._scope()
        if scope is not None:
            scope.threads.pop((context.user_id, thread_id), None)
        gone = await self._run(work, writes=True)

        async def cleanup() -> None:
            await self.cleanup_attachments(gone, context)

        await self._after_commit(cleanup)

    # --- items ---------------------------------------------------------------------------

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: RequestContext,
    ) -> Page[ThreadItem]:
        _refuse_nul(thread_id, context.user_id, missing=thread_not_found(thread_id))
        owner = {"thread_id": thread_id, "user_id": context.user_id}
        rows, limit = await self._page_rows(self._sql.item_pages, owner, after, order, limit)
        if not rows:  # rows of the caller's prove the thread is theirs; none prove nothing
            await self._thread_data(thread_id, context)
        return _page(
            [(self.refreshed_item(load_item_json(r.data), context), r) for r in rows], limit
        )

    async def add_thread_item(
        self, thread_id: str, item: ThreadItem, context: RequestContext
    ) -> None:
        await self._upsert_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        await self._upsert_item(thread_id, item, context)

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        _refuse_nul(thread_id, item_id, context.user_id, missing=item_not_found(thread_id, item_id))
        key = {"id": item_id, "thread_id": thread_id, "user_id": context.user_id}
        row = await self._run(_first(self._sql.load_item, key))
        if row is None:
            raise item_not_found(thread_id, item_id)
        return self.refreshed_item(load_item_json(row.data), context)

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: RequestContext
    ) -> None:
        _refuse_nul(thread_id, context.user_id, missing=thread_not_found(thread_id))
        if has_nul(item_id):
            await self._thread_data(thread_id, context)
            return
        key = {"id": item_id, "thread_id": thread_id, "user_id": context.user_id}
        if await self._run(_first(self._sql.delete_item, key), writes=True) is None:
            await self._thread_data(thread_id, context)  # gone: fine if the thread is theirs

    async def _upsert_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        _refuse_nul(thread_id, item.id, context.user_id, missing=item_not_found(thread_id, item.id))
        values = {
            "id": item.id,
            "thread_id": thread_id,
            "user_id": context.user_id,
            "created_at": item.created_at,
            "type": item.type,
            "data": dump_item(item),
        }
        try:
            found = await self._run(_first(self._sql.upsert_item, values), writes=True)
        except IntegrityError as error:  # the thread was deleted meanwhile (foreign key)
            raise item_not_found(thread_id, item.id) from error
        if found is None:
            raise item_not_found(thread_id, item.id)

    # --- attachments ---------------------------------------------------------------------

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        _refuse_nul(attachment.id, context.user_id, missing=attachment_not_found(attachment.id))
        values = {
            "id": attachment.id,
            "user_id": context.user_id,
            "thread_id": attachment.thread_id,
            "created_at": datetime.now(UTC),
            "data": dump_attachment(attachment),
        }
        if await self._run(_first(self._sql.save_attachment, values), writes=True) is None:
            raise attachment_not_found(attachment.id)

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        _refuse_nul(attachment_id, context.user_id, missing=attachment_not_found(attachment_id))
        key = {"id": attachment_id, "user_id": context.user_id}
        row = await self._run(_first(self._sql.load_attachment, key))
        if row is None:
            raise attachment_not_found(attachment_id)
        return self.refreshed_attachment(load_attachment_json(row.data), context)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        _refuse_nul(attachment_id, context.user_id, missing=attachment_not_found(attachment_id))
        key = {"id": attachment_id, "user_id": context.user_id}
        if await self._run(_first(self._sql.delete_attachment, key), writes=True) is None:
            raise attachment_not_found(attachment_id)

    async def delete_orphan_attachments(self, older_than: datetime) -> list[OwnedAttachment]:
        orphans = _all(self._sql.delete_orphan_attachments, {"older_than": older_than})
        rows = await self._run(orphans, writes=True)
        return [(RequestContext(user_id=r.user_id), load_attachment_json(r.data)) for r in rows]

    # --- usage ---------------------------------------------------------------------------

    async def record_usage(self, turn: TurnUsage, context: RequestContext) -> None:
        _refuse_nul(turn.thread_id, context.user_id)
        values = {
            "user_id": context.user_id,
            "thread_id": turn.thread_id,
            "model": turn.model,
            "input_tokens": turn.input_tokens,
            "output_tokens": turn.output_tokens,
            "created_at": datetime.now(UTC),
        }
        if await self._run(_first(self._sql.record_usage, values), writes=True) is None:
            raise thread_not_found(turn.thread_id)

    # --- connections ---------------------------------------------------------------------

    async def _page_rows(
        self, pages: Pages, owner: Params, after: str | None, order: str, limit: int
    ) -> tuple[Sequence[Any], int]:
        """Up to `limit + 1` rows of `owner` after the cursor `after`, and the clamped limit."""
        limit, direction = clamp_limit(limit), check_order(order)
        params = {**owner, "limit": limit + 1}
        kind: PageKind
        if after is None:
            kind = "first"
        else:
            cursor = parse_cursor(after)
            if cursor.created_at is not None and cursor.seq is not None:
                kind = "position"
                params.update(after_created_at=cursor.created_at, after_seq=cursor.seq)
            elif has_nul(cursor.id):
                return [], limit
            else:
                kind = "row"
                params["after_id"] = cursor.id
        return await self._run(_all(pages.query(direction, kind), params)), limit

    async def _thread_data(self, thread_id: str, context: RequestContext) -> str:
        """The caller's thread as JSON text, read once per request scope."""
        _refuse_nul(thread_id, context.user_id, missing=thread_not_found(thread_id))
        scope = self._scope()
        key = (context.user_id, thread_id)
        if scope is not None and key in scope.threads:
            return scope.threads[key]
        owner = {"thread_id": thread_id, "user_id": context.user_id}
        row = await self._run(_first(self._sql.thread_data, owner))
        if row is None:
            raise thread_not_found(thread_id)
        data: str = row.data
        if scope is not None:
            scope.threads[key] = data
        return data

    def _scope(self) -> _Scope | None:
        scope = _current_scope.get()
        return scope if scope is not None and scope.store is self else None

    async def _run(self, work: SyncWork[T], *, writes: bool = False) -> T:
        """Run `work` on the request's connection, or on its own connection and transaction.

        A connection found broken by its first statement is replaced and the work run again
        once (nothing was done on it yet); any other database outage is `StoreUnavailable`.
        With a single writer, `writes` waits for the write turn, as long as for a connection at
        most (a scope keeps it until it commits).
        """
        await self.initialize()
        scope = self._scope()
        if not writes:
            return await self._attempt(work, scope, reads_only=True)
        if self._write_turn is None:
            return await self._attempt(work, scope)
        if scope is None:
            await self._take_turn(self._write_turn)
            try:
                return await self._attempt(work, scope)
            finally:
                self._write_turn.release()
        if not scope.writing:
            await self._take_turn(self._write_turn)
            scope.writing = True
        return await self._attempt(work, scope)

    async def _take_turn(self, turn: asyncio.Lock) -> None:
        """Wait for the write turn as for a connection: `StoreUnavailable` after the time-out."""
        try:
            async with asyncio.timeout(self._pool_timeout):
                await turn.acquire()
        except TimeoutError as error:
            raise StoreUnavailable("No database connection became free in time") from error

    async def _attempt(
        self, work: SyncWork[T], scope: _Scope | None, *, reads_only: bool = False
    ) -> T:
        holder = scope if scope is not None else _Call()
        for attempt in (1, 2):
            fresh = holder.connection is None
            try:
                return await self._connections.run(
                    holder, work, end=scope is None, reads_only=reads_only
                )
            except DBAPIError as error:
                if not error.connection_invalidated:
                    raise
                await self._connections.end(holder, commit=False)
                if not fresh or attempt == 2:
                    raise StoreUnavailable("The database connection was lost") from error
                logger.warning("A database connection was broken; retrying on a new one")
        raise AssertionError("unreachable")

    async def _after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        scope = self._scope()
        if scope is None:
            await callback()
        else:
            scope.after_commit.append(callback)


def _refuse_nul(*values: str, missing: Exception | None = None) -> None:
    """No stored id or user contains NUL (PostgreSQL cannot store it): nothing can match."""
    if has_nul(*values):
        raise missing or thread_not_found(values[0])


def _first(statement: Executable, params: Params) -> SyncWork[Any]:
    def run(conn: Connection) -> Any:
        return conn.execute(statement, params).first()

    return run


def _all(statement: Executable, params: Params) -> SyncWork[Sequence[Any]]:
    def run(conn: Connection) -> Sequence[Any]:
        return conn.execute(statement, params).all()

    return run


def _select_one(conn: Connection) -> None:
    conn.exec_driver_sql("SELECT 1")


def _page(rows: list[tuple[T, Any]], limit: int) -> Page[T]:
    """A page from up to `limit + 1` (value, row) pairs; the extra one only signals more."""
    has_more = len(rows) > limit
    data = rows[:limit]
    last = data[-1][1] if has_more else None
    after = make_cursor(last.id, last.created_at, last.seq) if last is not None else None
    return Page(data=[value for value, _ in data], has_more=has_more, after=after)
