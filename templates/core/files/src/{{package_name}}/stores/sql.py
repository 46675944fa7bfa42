"""The ChatKit store on SQLAlchemy Core (async): one implementation for every database.

Queries are built from the tables of `schema.py`; the few lines that differ between databases
are marked `# dialect:`. Calls made inside `request_scope()` share one pooled connection and
one transaction, committed when the request's work is done; other calls each take a
connection and commit on their own.
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
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    Table,
    Text,
    delete,
    exists,
    false,
    func,
    literal,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..context import RequestContext
from ..file_storage import FileStorage
from .base import (
    AppStore,
    Order,
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
from .schema import Payload, SortTime, attachments, items, threads, usage

logger = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[AsyncConnection], Awaitable[T]]
Insert = postgresql.Insert | sqlite.Insert

# dialect: the upsert statement (both have `ON CONFLICT ... DO UPDATE ... WHERE`).
INSERTS: dict[str, Callable[[Table], Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


def _keep_created_at(dialect: str, new: Any, old: Any) -> ColumnElement[Any]:
    """`new` JSON with the `created_at` of `old`: an upsert keeps a row's creation time."""
    if dialect == "postgresql":  # dialect: JSONB functions
        key: ColumnElement[str] = literal_column("'created_at'")
        return func.jsonb_set(new, literal_column("'{created_at}'"), old.op("->")(key))
    # dialect: SQLite's JSON functions (the same names in MySQL and MariaDB)
    path: ColumnElement[str] = literal_column("'$.created_at'")
    return func.json_set(new, path, func.json_extract(old, path))


@dataclass
class _Scope:
    """One request's connection (taken on first use), what it read, and what runs after it."""

    store: SqlStore
    connection: AsyncConnection | None = None
    threads: dict[tuple[str, str], str] = field(default_factory=dict)
    writing: bool = False
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


_current_scope: ContextVar[_Scope | None] = ContextVar("store_request_scope", default=None)


class SqlStore(AppStore):
    """ChatKit store on a SQLAlchemy async engine; timestamps are naive UTC, like the SDK's."""

    def __init__(
        self, engine: AsyncEngine, *, single_writer: bool = False, files: FileStorage | None = None
    ) -> None:
        super().__init__(files)
        self.engine = engine
        # dialect: SQLite has one writer per file; the process's writes take turns here.
        self._write_turn = asyncio.Lock() if single_writer else None
        self._insert = INSERTS[engine.dialect.name]
        self._dialect = engine.dialect.name
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
                except (DBAPIError, OSError, TimeoutError, PoolTimeoutError) as error:
                    raise StoreUnavailable(f"The database cannot be reached: {error}") from error
                self._migrated = True

    async def ping(self) -> None:
        await self.initialize()
        conn = await self._checkout()
        try:
            await conn.execute(select(1))
        except DBAPIError as error:
            raise StoreUnavailable("The database does not answer") from error
        finally:
            await conn.close()

    async def close(self) -> None:
        await self.engine.dispose()

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
            if scope.connection is not None:
                try:
                    await scope.connection.commit()
                except DBAPIError as error:
                    raise StoreUnavailable("The database did not commit") from error
        finally:
            _current_scope.reset(token)
            if scope.connection is not None:
                await scope.connection.close()
            if scope.writing and self._write_turn is not None:
                self._write_turn.release()
        for callback in scope.after_commit:
            await callback()

    # --- threads -------------------------------------------------------------------------

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        return load_thread_json(await self._thread_data(thread_id, context))

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        _refuse_nul(thread.id, context.user_id)
        stmt = self._insert(threads).values(
            id=thread.id,
            user_id=context.user_id,
            created_at=thread.created_at,
            data=dump_thread(thread),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[threads.c.id],
            set_={"data": _keep_created_at(self._dialect, stmt.excluded.data, threads.c.data)},
            where=threads.c.user_id == stmt.excluded.user_id,
        )
        scope = self._scope()
        if scope is not None:
            scope.threads.pop((context.user_id, thread.id), None)
        found = await self._run(_first(stmt.returning(threads.c.seq)), writes=True)
        if found is None:
            raise thread_not_found(thread.id)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        limit, direction = clamp_limit(limit), check_order(order)
        owner = threads.c.user_id == context.user_id
        query = _page_query(threads, [owner], after, direction, limit)
        rows = await self._run(_all(query))
        return _page([(load_thread_json(r.data), r) for r in rows], limit)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        _refuse_nul(thread_id, context.user_id, missing=thread_not_found(thread_id))

        async def work(conn: AsyncConnection) -> list[Attachment]:
            # The thread's items go with it: ON DELETE CASCADE.
            found = await _first(
                delete(threads)
                .where(threads.c.id == thread_id, threads.c.user_id == context.user_id)
                .returning(threads.c.seq)
            )(conn)
            if found is None:
                raise thread_not_found(thread_id)
            rows = await _all(
                delete(attachments)
                .where(
                    attachments.c.thread_id == thread_id, attachments.c.user_id == context.user_id
                )
                .returning(attachments.c.data)
            )(conn)
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
        limit, direction = clamp_limit(limit), check_order(order)
        _refuse_nul(thread_id, context.user_id, missing=thread_not_found(thread_id))
        owner = [items.c.thread_id == thread_id, items.c.user_id == context.user_id]
        rows = await self._run(_all(_page_query(items, owner, after, direction, limit)))
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
        query = select(items.c.data).where(
            items.c.id == item_id,
            items.c.thread_id == thread_id,
            items.c.user_id == context.user_id,
        )
        row = await self._run(_first(query))
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
        stmt = (
            delete(items)
            .where(
                items.c.id == item_id,
                items.c.thread_id == thread_id,
                items.c.user_id == context.user_id,
            )
            .returning(items.c.seq)
        )
        if await self._run(_first(stmt), writes=True) is None:  # gone: fine if the thread is theirs
            await self._thread_data(thread_id, context)

    async def _upsert_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        _refuse_nul(thread_id, item.id, context.user_id, missing=item_not_found(thread_id, item.id))
        # Inserts only into a thread the caller owns; updates only the caller's row in that same
        # thread. Anything else matches no row and returns nothing.
        owned_thread = exists().where(
            threads.c.id == thread_id, threads.c.user_id == context.user_id
        )
        row = select(
            literal(item.id, Text),
            literal(thread_id, Text),
            literal(context.user_id, Text),
            literal(item.created_at, SortTime()),
            literal(item.type, Text),
            literal(dump_item(item), Payload),
        ).where(owned_thread)
        stmt = self._insert(items).from_select(
            ["id", "thread_id", "user_id", "created_at", "type", "data"], row
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[items.c.id],
            set_={
                "type": stmt.excluded.type,
                "data": _keep_created_at(self._dialect, stmt.excluded.data, items.c.data),
            },
            where=(items.c.user_id == stmt.excluded.user_id)
            & (items.c.thread_id == stmt.excluded.thread_id),
        )
        try:
            found = await self._run(_first(stmt.returning(items.c.seq)), writes=True)
        except IntegrityError as error:  # the thread was deleted meanwhile (foreign key)
            raise item_not_found(thread_id, item.id) from error
        if found is None:
            raise item_not_found(thread_id, item.id)

    # --- attachments ---------------------------------------------------------------------

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        _refuse_nul(attachment.id, context.user_id, missing=attachment_not_found(attachment.id))
        stmt = self._insert(attachments).values(
            id=attachment.id,
            user_id=context.user_id,
            thread_id=attachment.thread_id,
            created_at=datetime.now(UTC),
            data=dump_attachment(attachment),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[attachments.c.id],
            set_={"thread_id": stmt.excluded.thread_id, "data": stmt.excluded.data},
            where=attachments.c.user_id == stmt.excluded.user_id,
        )
        if await self._run(_first(stmt.returning(attachments.c.id)), writes=True) is None:
            raise attachment_not_found(attachment.id)

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        _refuse_nul(attachment_id, context.user_id, missing=attachment_not_found(attachment_id))
        query = select(attachments.c.data).where(
            attachments.c.id == attachment_id, attachments.c.user_id == context.user_id
        )
        row = await self._run(_first(query))
        if row is None:
            raise attachment_not_found(attachment_id)
        return self.refreshed_attachment(load_attachment_json(row.data), context)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        _refuse_nul(attachment_id, context.user_id, missing=attachment_not_found(attachment_id))
        stmt = (
            delete(attachments)
            .where(attachments.c.id == attachment_id, attachments.c.user_id == context.user_id)
            .returning(attachments.c.id)
        )
        if await self._run(_first(stmt), writes=True) is None:
            raise attachment_not_found(attachment_id)

    async def delete_orphan_attachments(self, older_than: datetime) -> list[OwnedAttachment]:
        stmt = (
            delete(attachments)
            .where(attachments.c.thread_id.is_(None), attachments.c.created_at < older_than)
            .returning(attachments.c.user_id, attachments.c.data)
        )
        rows = await self._run(_all(stmt), writes=True)
        return [(RequestContext(user_id=r.user_id), load_attachment_json(r.data)) for r in rows]

    # --- usage ---------------------------------------------------------------------------

    async def record_usage(self, turn: TurnUsage, context: RequestContext) -> None:
        _refuse_nul(turn.thread_id, context.user_id)
        # One INSERT, refused (no row) when the thread is another user's. A thread deleted
        # meanwhile still gets its row: the tokens were used.
        foreign_thread = exists().where(
            threads.c.id == turn.thread_id, threads.c.user_id != context.user_id
        )
        row = select(
            literal(context.user_id, Text),
            literal(turn.thread_id, Text),
            literal(turn.model, Text),
            literal(turn.input_tokens, Integer),
            literal(turn.output_tokens, Integer),
            literal(datetime.now(UTC), SortTime()),
        ).where(~foreign_thread)
        stmt = usage.insert().from_select(
            ["user_id", "thread_id", "model", "input_tokens", "output_tokens", "created_at"], row
        )
        if await self._run(_first(stmt.returning(usage.c.seq)), writes=True) is None:
            raise thread_not_found(turn.thread_id)

    # --- connections ---------------------------------------------------------------------

    async def _thread_data(self, thread_id: str, context: RequestContext) -> str:
        """The caller's thread as JSON text, read once per request scope."""
        _refuse_nul(thread_id, context.user_id, missing=thread_not_found(thread_id))
        scope = self._scope()
        key = (context.user_id, thread_id)
        if scope is not None and key in scope.threads:
            return scope.threads[key]
        query = select(threads.c.data).where(
            threads.c.id == thread_id, threads.c.user_id == context.user_id
        )
        row = await self._run(_first(query))
        if row is None:
            raise thread_not_found(thread_id)
        data: str = row.data
        if scope is not None:
            scope.threads[key] = data
        return data

    def _scope(self) -> _Scope | None:
        scope = _current_scope.get()
        return scope if scope is not None and scope.store is self else None

    async def _run(self, work: Work[T], *, writes: bool = False) -> T:
        """Run `work` on the request's connection, or on its own connection and transaction.

        A connection found broken by its first statement is replaced and the work run again
        once (nothing was done on it yet); any other database outage is `StoreUnavailable`.
        With a single writer, `writes` waits for the write turn (a scope keeps it until it
        commits).
        """
        await self.initialize()
        scope = self._scope()
        if not writes or self._write_turn is None:
            return await self._attempt(work, scope)
        if scope is None:
            async with self._write_turn:
                return await self._attempt(work, scope)
        if not scope.writing:
            await self._write_turn.acquire()
            scope.writing = True
        return await self._attempt(work, scope)

    async def _attempt(self, work: Work[T], scope: _Scope | None) -> T:
        for attempt in (1, 2):
            fresh = scope is None or scope.connection is None
            conn = await self._checkout() if fresh else scope.connection  # type: ignore[union-attr]
            assert conn is not None
            if scope is not None:
                scope.connection = conn
            try:
                result = await work(conn)
                if scope is None:
                    await conn.commit()
                return result
            except DBAPIError as error:
                if not error.connection_invalidated:
                    raise
                if scope is not None:
                    scope.connection = None
                if not fresh or attempt == 2:
                    raise StoreUnavailable("The database connection was lost") from error
                logger.warning("A database connection was broken; retrying on a new one")
            finally:
                if scope is None:
                    await conn.close()
        raise AssertionError("unreachable")

    async def _checkout(self) -> AsyncConnection:
        """A connection from the pool, or `StoreUnavailable` within the pool time-out."""
        try:
            return await self.engine.connect()
        except PoolTimeoutError as error:
            raise StoreUnavailable("No database connection became free in time") from error
        except (DBAPIError, OSError, TimeoutError) as error:
            raise StoreUnavailable(f"The database cannot be reached: {error}") from error

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


def _first(statement: Any) -> Work[Any]:
    async def run(conn: AsyncConnection) -> Any:
        return (await conn.execute(statement)).first()

    return run


def _all(statement: Any) -> Work[Sequence[Any]]:
    async def run(conn: AsyncConnection) -> Sequence[Any]:
        return (await conn.execute(statement)).all()

    return run


def _page_query(
    table: Table,
    owner: list[ColumnElement[bool]],
    after: str | None,
    order: Order,
    limit: int,
) -> Select[Any]:
    """Up to `limit + 1` rows of `owner` after the cursor `after`, keyset on (created_at, seq)."""
    position = tuple_(table.c.created_at, table.c.seq)
    query = select(table.c.data, table.c.id, table.c.created_at, table.c.seq).where(*owner)
    if after is not None:
        cursor = parse_cursor(after)
        if cursor.created_at is not None and cursor.seq is not None:
            # The cursor's values, not its row: the next page is right even if it was deleted.
            bound: Any = tuple_(
                literal(cursor.created_at, SortTime()), literal(cursor.seq, BigInteger)
            )
        elif has_nul(cursor.id):
            return query.where(false())
        else:  # a bare id: its row's position (no row: no page)
            row = select(table.c.created_at, table.c.seq).where(table.c.id == cursor.id, *owner)
            bound = tuple_(
                row.with_only_columns(table.c.created_at).scalar_subquery(),
                row.with_only_columns(table.c.seq).scalar_subquery(),
            )
        query = query.where(position > bound if order == "asc" else position < bound)
    if order == "asc":
        query = query.order_by(table.c.created_at.asc(), table.c.seq.asc())
    else:
        query = query.order_by(table.c.created_at.desc(), table.c.seq.desc())
    return query.limit(limit + 1)


def _page(rows: list[tuple[T, Any]], limit: int) -> Page[T]:
    """A page from up to `limit + 1` (value, row) pairs; the extra one only signals more."""
    has_more = len(rows) > limit
    data = rows[:limit]
    last = data[-1][1] if has_more else None
    after = make_cursor(last.id, last.created_at, last.seq) if last is not None else None
    return Page(data=[value for value, _ in data], has_more=has_more, after=after)
