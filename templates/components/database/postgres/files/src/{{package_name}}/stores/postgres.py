"""PostgreSQL store on psycopg 3: an async connection pool, JSONB payloads, versioned schema.

URLs: `postgresql://user:password@host:5432/dbname` (`postgres://` and `postgresql+psycopg://`
work too; any libpq parameter may follow as a query string, e.g. `?sslmode=require`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from chatkit.store import NotFoundError
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata
from psycopg import AsyncConnection
from psycopg.errors import ForeignKeyViolation
from psycopg_pool import AsyncConnectionPool

from ..context import RequestContext
from ..file_storage import FileStorage
from .base import (
    AppStore,
    OwnedAttachment,
    attachment_not_found,
    check_order,
    clamp_limit,
    dump_attachment,
    dump_item,
    dump_thread,
    item_not_found,
    load_attachment_json,
    load_item_json,
    load_thread_json,
    make_page,
    sort_time,
    thread_not_found,
)

logger = logging.getLogger(__name__)

SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
"""URL schemes `create_store` routes to this backend."""
EXAMPLE_URL = "postgresql://user:password@localhost:5432/app"

CONNECT_TIMEOUT_S = 10
MIGRATION_LOCK = 0x43484B53544F5245
"""Key of the advisory lock that serializes schema migrations of concurrently starting servers."""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE threads (
            seq BIGSERIAL PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            user_id TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL,
            data JSONB NOT NULL
        )
        """,
        "CREATE INDEX threads_by_user ON threads (user_id, created_at, seq)",
        """
        CREATE TABLE items (
            seq BIGSERIAL PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            user_id TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL,
            type TEXT NOT NULL,
            data JSONB NOT NULL
        )
        """,
        "CREATE INDEX items_by_thread ON items (thread_id, user_id, created_at, seq)",
        # A thread has one owner. Without this the planner multiplies the two selectivities,
        # expects a handful of rows, and sorts a whole thread instead of walking the index.
        "CREATE STATISTICS items_thread_owner (dependencies) ON thread_id, user_id FROM items",
        """
        CREATE TABLE attachments (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            thread_id TEXT,
            created_at TIMESTAMP NOT NULL,
            data JSONB NOT NULL
        )
        """,
        "CREATE INDEX attachments_by_thread ON attachments (thread_id, user_id)",
    ),
)
"""Schema steps; step N (1-based) brings the database to schema version N. Only ever append."""

Connection = AsyncConnection[tuple[Any, ...]]

_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
"""A `\\u0000` escape in JSON text (not an escaped backslash followed by `u0000`)."""


def from_url(database_url: str, *, pool_size: int, files: FileStorage | None) -> PostgresStore:
    """Build the store for a `postgresql://` URL with at most `pool_size` connections."""
    return PostgresStore(libpq_url(database_url), pool_size=pool_size, files=files)


def libpq_url(database_url: str) -> str:
    """The URL in the form libpq accepts (it knows no `+driver` suffix)."""
    _, _, rest = database_url.partition("://")
    return f"postgresql://{rest}"


class PostgresStore(AppStore):
    """ChatKit store in PostgreSQL; timestamps are naive `TIMESTAMP`s, like the SDK's."""

    def __init__(
        self, conninfo: str, *, pool_size: int = 10, files: FileStorage | None = None
    ) -> None:
        super().__init__(files)
        self._conninfo = conninfo
        self._pool_size = pool_size
        self._pool: AsyncConnectionPool[Connection] | None = None
        self._lock = asyncio.Lock()

    async def initialize(self) -> None:
        await self._ready_pool()

    async def ping(self) -> None:
        async with self._connection() as conn:
            await conn.execute("SELECT 1")

    async def close(self) -> None:
        async with self._lock:
            if self._pool is not None:
                pool, self._pool = self._pool, None
                await pool.close()

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        async with self._connection() as conn:
            rows = await _fetch(
                conn,
                "SELECT data::text FROM threads WHERE id = %s AND user_id = %s",
                (thread_id, context.user_id),
            )
        if not rows:
            raise thread_not_found(thread_id)
        return load_thread_json(rows[0][0])

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        async with self._connection() as conn:
            rows = await _fetch(
                conn,
                """
                INSERT INTO threads (id, user_id, created_at, data)
                VALUES (%s, %s, %s, %s::jsonb)
                ON CONFLICT (id) DO UPDATE SET
                    data = jsonb_set(EXCLUDED.data, '{created_at}', threads.data -> 'created_at')
                WHERE threads.user_id = EXCLUDED.user_id
                RETURNING seq
                """,
                (
                    thread.id,
                    context.user_id,
                    sort_time(thread.created_at),
                    _jsonb(dump_thread(thread)),
                ),
            )
        if not rows:
            raise thread_not_found(thread.id)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        limit = clamp_limit(limit)
        direction = check_order(order).upper()
        comparison = ">" if direction == "ASC" else "<"
        query = "SELECT data::text FROM threads WHERE user_id = %s"
        params: tuple[str | int, ...] = (context.user_id,)
        if after is not None:
            query += f"""
                AND (created_at, seq) {comparison}
                    (SELECT created_at, seq FROM threads WHERE id = %s AND user_id = %s)
            """
            params += (after, context.user_id)
        query += f" ORDER BY created_at {direction}, seq {direction} LIMIT %s"
        async with self._connection() as conn:
            rows = await _fetch(conn, query, (*params, limit + 1))
        return make_page([load_thread_json(row[0]) for row in rows], limit)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        owner = (thread_id, context.user_id)
        async with self._connection() as conn, conn.transaction():
            # The thread's items go with it: ON DELETE CASCADE.
            found = await _fetch(
                conn, "DELETE FROM threads WHERE id = %s AND user_id = %s RETURNING seq", owner
            )
            if not found:
                raise thread_not_found(thread_id)
            rows = await _fetch(
                conn,
                "DELETE FROM attachments WHERE thread_id = %s AND user_id = %s"
                " RETURNING data::text",
                owner,
            )
        await self.cleanup_attachments([load_attachment_json(row[0]) for row in rows], context)

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: RequestContext,
    ) -> Page[ThreadItem]:
        limit = clamp_limit(limit)
        direction = check_order(order).upper()
        comparison = ">" if direction == "ASC" else "<"
        owner = (thread_id, context.user_id)
        query = "SELECT data::text FROM items WHERE thread_id = %s AND user_id = %s"
        params: tuple[str | int, ...] = owner
        if after is not None:
            query += f"""
                AND (created_at, seq) {comparison}
                    (SELECT created_at, seq FROM items
                     WHERE id = %s AND thread_id = %s AND user_id = %s)
            """
            params += (after, *owner)
        query += f" ORDER BY created_at {direction}, seq {direction} LIMIT %s"
        async with self._connection() as conn:
            await _require_thread(conn, thread_id, context)
            rows = await _fetch(conn, query, (*params, limit + 1))
        items = [self.refreshed_item(load_item_json(row[0]), context) for row in rows]
        return make_page(items, limit)

    async def add_thread_item(
        self, thread_id: str, item: ThreadItem, context: RequestContext
    ) -> None:
        await self._upsert_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        await self._upsert_item(thread_id, item, context)

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        async with self._connection() as conn:
            rows = await _fetch(
                conn,
                "SELECT data::text FROM items WHERE id = %s AND thread_id = %s AND user_id = %s",
                (item_id, thread_id, context.user_id),
            )
        if not rows:
            raise item_not_found(thread_id, item_id)
        return self.refreshed_item(load_item_json(rows[0][0]), context)

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: RequestContext
    ) -> None:
        async with self._connection() as conn:
            await _require_thread(conn, thread_id, context)
            await _fetch(
                conn,
                "DELETE FROM items WHERE id = %s AND thread_id = %s AND user_id = %s RETURNING id",
                (item_id, thread_id, context.user_id),
            )

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        now = sort_time(datetime.now(UTC))
        async with self._connection() as conn:
            rows = await _fetch(
                conn,
                """
                INSERT INTO attachments (id, user_id, thread_id, created_at, data)
                VALUES (%s, %s, %s, %s, %s::jsonb)
                ON CONFLICT (id) DO UPDATE SET thread_id = EXCLUDED.thread_id, data = EXCLUDED.data
                WHERE attachments.user_id = EXCLUDED.user_id
                RETURNING id
                """,
                (
                    attachment.id,
                    context.user_id,
                    attachment.thread_id,
                    now,
                    _jsonb(dump_attachment(attachment)),
                ),
            )
        if not rows:
            raise attachment_not_found(attachment.id)

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        async with self._connection() as conn:
            rows = await _fetch(
                conn,
                "SELECT data::text FROM attachments WHERE id = %s AND user_id = %s",
                (attachment_id, context.user_id),
            )
        if not rows:
            raise attachment_not_found(attachment_id)
        return self.refreshed_attachment(load_attachment_json(rows[0][0]), context)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        async with self._connection() as conn:
            rows = await _fetch(
                conn,
                "DELETE FROM attachments WHERE id = %s AND user_id = %s RETURNING id",
                (attachment_id, context.user_id),
            )
        if not rows:
            raise attachment_not_found(attachment_id)

    async def delete_orphan_attachments(self, older_than: datetime) -> list[OwnedAttachment]:
        async with self._connection() as conn:
            rows = await _fetch(
                conn,
                """
                DELETE FROM attachments WHERE thread_id IS NULL AND created_at < %s
                RETURNING user_id, data::text
                """,
                (sort_time(older_than),),
            )
        return [(RequestContext(user_id=row[0]), load_attachment_json(row[1])) for row in rows]

    async def _upsert_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        # Inserts only into a thread the caller owns; updates only the caller's row in that same
        # thread. Anything else matches no row and returns nothing.
        try:
            async with self._connection() as conn:
                rows = await _fetch(
                    conn,
                    """
                    INSERT INTO items (id, thread_id, user_id, created_at, type, data)
                    SELECT %s, %s, %s, %s, %s, %s::jsonb
                    WHERE EXISTS (SELECT 1 FROM threads WHERE id = %s AND user_id = %s)
                    ON CONFLICT (id) DO UPDATE SET
                        type = EXCLUDED.type,
                        data = jsonb_set(EXCLUDED.data, '{created_at}', items.data -> 'created_at')
                    WHERE items.user_id = EXCLUDED.user_id AND items.thread_id = EXCLUDED.thread_id
                    RETURNING seq
                    """,
                    (
                        item.id,
                        thread_id,
                        context.user_id,
                        sort_time(item.created_at),
                        item.type,
                        _jsonb(dump_item(item)),
                        thread_id,
                        context.user_id,
                    ),
                )
        except ForeignKeyViolation as error:  # the thread was deleted meanwhile
            raise item_not_found(thread_id, item.id) from error
        if not rows:
            raise item_not_found(thread_id, item.id)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Connection]:
        """A pooled connection; its transaction commits when the block succeeds."""
        pool = await self._ready_pool()
        async with pool.connection() as conn:
            yield conn

    async def _ready_pool(self) -> AsyncConnectionPool[Connection]:
        if self._pool is not None:
            return self._pool
        async with self._lock:
            if self._pool is None:
                # A direct first connection fails fast with libpq's own message (bad host,
                # password, database) instead of a pool time-out, and runs the migrations.
                async with await AsyncConnection.connect(
                    self._conninfo, connect_timeout=CONNECT_TIMEOUT_S
                ) as conn:
                    await _migrate(conn)
                pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
                    self._conninfo,
                    min_size=1,
                    max_size=self._pool_size,
                    open=False,
                    check=AsyncConnectionPool.check_connection,
                )
                try:
                    await pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
            return self._pool


async def _migrate(conn: Connection) -> None:
    """Bring the schema to the newest version; the advisory lock serializes concurrent starts."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        rows = await _fetch(conn, "SELECT version FROM schema_version")
        current = int(rows[0][0]) if rows else 0
        if current > len(MIGRATIONS):
            raise RuntimeError(
                f"The database schema is at version {current}, newer than this code knows "
                f"({len(MIGRATIONS)}); upgrade the application"
            )
        for version, statements in enumerate(MIGRATIONS[current:], start=current + 1):
            logger.info("Migrating the database schema to version %d", version)
            for statement in statements:
                await conn.execute(statement)
        if not rows:
            await conn.execute(
                "INSERT INTO schema_version (version) VALUES (%s)", (len(MIGRATIONS),)
            )
        else:
            await conn.execute("UPDATE schema_version SET version = %s", (len(MIGRATIONS),))


async def _require_thread(conn: Connection, thread_id: str, context: RequestContext) -> None:
    rows = await _fetch(
        conn, "SELECT 1 FROM threads WHERE id = %s AND user_id = %s", (thread_id, context.user_id)
    )
    if not rows:
        raise thread_not_found(thread_id)


def _jsonb(json_text: str) -> str:
    """JSON text PostgreSQL accepts as JSONB, which cannot hold NUL: it becomes U+FFFD."""
    return _JSON_NUL.sub(r"\1\\ufffd", json_text)


async def _fetch(
    conn: Connection, query: str, parameters: Sequence[str | int | datetime | None] = ()
) -> list[tuple[Any, ...]]:
    # PostgreSQL text cannot contain NUL, so no row can match such an id.
    if any(isinstance(value, str) and "\x00" in value for value in parameters):
        raise NotFoundError("No row matches a value containing a NUL character")
    cursor = await conn.execute(query, parameters)
    return await cursor.fetchall()
