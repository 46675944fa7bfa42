"""SQLite store on aiosqlite: one WAL-mode connection per process, schema versioned in-file.

URLs: `sqlite:///relative/to/cwd.db`, `sqlite:////absolute/path.db` or `sqlite:///:memory:`.
The parent folder is created on first use.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosqlite
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata

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

SCHEMES = ("sqlite", "sqlite+aiosqlite")
"""URL schemes `create_store` routes to this backend."""
EXAMPLE_URL = "sqlite:///./data/app.db"

MEMORY = ":memory:"
BUSY_TIMEOUT_MS = 5000
MIN_SQLITE_VERSION = (3, 35, 0)  # RETURNING and row values

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE threads (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            user_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            data TEXT NOT NULL
        )
        """,
        "CREATE INDEX threads_by_user ON threads (user_id, created_at, seq)",
        """
        CREATE TABLE items (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            user_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL
        )
        """,
        "CREATE INDEX items_by_thread ON items (thread_id, user_id, created_at, seq)",
        """
        CREATE TABLE attachments (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            thread_id TEXT,
            created_at TEXT NOT NULL,
            data TEXT NOT NULL
        )
        """,
        "CREATE INDEX attachments_by_thread ON attachments (thread_id, user_id)",
    ),
)
"""Schema steps; step N (1-based) brings the file to schema version N. Only ever append."""


def from_url(database_url: str, *, pool_size: int, files: FileStorage | None) -> SQLiteStore:
    """Build the store for a `sqlite://` URL (`pool_size` does not apply to SQLite)."""
    return SQLiteStore(sqlite_path(database_url), files=files)


def sqlite_path(database_url: str) -> Path | None:
    """The database file named by the URL, or None for an in-memory database."""
    parts = urlsplit(database_url)
    if parts.netloc:
        raise ValueError(
            "A SQLite URL has no host: use sqlite:///relative/path.db or "
            f"sqlite:////absolute/path.db, got {database_url!r}"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"A SQLite URL takes no query or fragment, got {database_url!r}")
    path = unquote(parts.path)[1:]
    if not path:
        raise ValueError(f"The SQLite URL names no file: {database_url!r}")
    return None if path == MEMORY else Path(path)


def _time_text(value: datetime) -> str:
    # Fixed width (microseconds always present), so text order is time order.
    return sort_time(value).isoformat(timespec="microseconds")


class SQLiteStore(AppStore):
    """ChatKit store in one SQLite file.

    All queries of a process share one connection, serialized by a lock; WAL mode and a busy
    timeout let several processes use the same file.
    """

    def __init__(self, path: Path | None, *, files: FileStorage | None = None) -> None:
        super().__init__(files)
        self.path = path
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def initialize(self) -> None:
        async with self._connection():
            pass

    async def ping(self) -> None:
        async with self._connection() as conn:
            await conn.execute("SELECT 1")

    async def close(self) -> None:
        async with self._lock:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                await conn.close()

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        async with self._connection() as conn:
            rows = await _fetch(
                conn,
                "SELECT data FROM threads WHERE id = ? AND user_id = ?",
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
                INSERT INTO threads (id, user_id, created_at, data) VALUES (?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET
                    data = json_set(excluded.data, '$.created_at',
                                    json_extract(threads.data, '$.created_at'))
                WHERE threads.user_id = excluded.user_id
                RETURNING seq
                """,
                (thread.id, context.user_id, _time_text(thread.created_at), dump_thread(thread)),
            )
        if not rows:
            raise thread_not_found(thread.id)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        limit = clamp_limit(limit)
        direction = check_order(order).upper()
        comparison = ">" if direction == "ASC" else "<"
        query = "SELECT data FROM threads WHERE user_id = ?"
        params: tuple[str | int, ...] = (context.user_id,)
        if after is not None:
            query += f"""
                AND (created_at, seq) {comparison}
                    (SELECT created_at, seq FROM threads WHERE id = ? AND user_id = ?)
            """
            params += (after, context.user_id)
        query += f" ORDER BY created_at {direction}, seq {direction} LIMIT ?"
        async with self._connection() as conn:
            rows = await _fetch(conn, query, (*params, limit + 1))
        return make_page([load_thread_json(row[0]) for row in rows], limit)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        owner = (thread_id, context.user_id)
        async with self._transaction() as conn:
            found = await _fetch(
                conn, "DELETE FROM threads WHERE id = ? AND user_id = ? RETURNING seq", owner
            )
            if not found:
                raise thread_not_found(thread_id)
            # The thread's items go with it: ON DELETE CASCADE.
            rows = await _fetch(
                conn,
                "DELETE FROM attachments WHERE thread_id = ? AND user_id = ? RETURNING data",
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
        query = "SELECT data FROM items WHERE thread_id = ? AND user_id = ?"
        params: tuple[str | int, ...] = owner
        if after is not None:
            query += f"""
                AND (created_at, seq) {comparison}
                    (SELECT created_at, seq FROM items
                     WHERE id = ? AND thread_id = ? AND user_id = ?)
            """
            params += (after, *owner)
        query += f" ORDER BY created_at {direction}, seq {direction} LIMIT ?"
        async with self._connection() as conn:
            await self._require_thread(conn, thread_id, context)
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
                "SELECT data FROM items WHERE id = ? AND thread_id = ? AND user_id = ?",
                (item_id, thread_id, context.user_id),
            )
        if not rows:
            raise item_not_found(thread_id, item_id)
        return self.refreshed_item(load_item_json(rows[0][0]), context)

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: RequestContext
    ) -> None:
        async with self._connection() as conn:
            await self._require_thread(conn, thread_id, context)
            await conn.execute(
                "DELETE FROM items WHERE id = ? AND thread_id = ? AND user_id = ?",
                (item_id, thread_id, context.user_id),
            )

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        now = _time_text(datetime.now(UTC))
        async with self._connection() as conn:
            rows = await _fetch(
                conn,
                """
                INSERT INTO attachments (id, user_id, thread_id, created_at, data)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET thread_id = excluded.thread_id, data = excluded.data
                WHERE attachments.user_id = excluded.user_id
                RETURNING id
                """,
                (
                    attachment.id,
                    context.user_id,
                    attachment.thread_id,
                    now,
                    dump_attachment(attachment),
                ),
            )
        if not rows:
            raise attachment_not_found(attachment.id)

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        async with self._connection() as conn:
            rows = await _fetch(
                conn,
                "SELECT data FROM attachments WHERE id = ? AND user_id = ?",
                (attachment_id, context.user_id),
            )
        if not rows:
            raise attachment_not_found(attachment_id)
        return self.refreshed_attachment(load_attachment_json(rows[0][0]), context)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        async with self._connection() as conn:
            rows = await _fetch(
                conn,
                "DELETE FROM attachments WHERE id = ? AND user_id = ? RETURNING id",
                (attachment_id, context.user_id),
            )
        if not rows:
            raise attachment_not_found(attachment_id)

    async def delete_orphan_attachments(self, older_than: datetime) -> list[OwnedAttachment]:
        async with self._connection() as conn:
            rows = await _fetch(
                conn,
                """
                DELETE FROM attachments WHERE thread_id IS NULL AND created_at < ?
                RETURNING user_id, data
                """,
                (_time_text(older_than),),
            )
        return [(RequestContext(user_id=row[0]), load_attachment_json(row[1])) for row in rows]

    async def _upsert_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        # Inserts only into a thread the caller owns; updates only the caller's row in that same
        # thread. Anything else matches no row and returns nothing.
        async with self._connection() as conn:
            rows = await _fetch(
                conn,
                """
                INSERT INTO items (id, thread_id, user_id, created_at, type, data)
                SELECT ?, ?, ?, ?, ?, ?
                WHERE EXISTS (SELECT 1 FROM threads WHERE id = ? AND user_id = ?)
                ON CONFLICT (id) DO UPDATE SET
                    type = excluded.type,
                    data = json_set(excluded.data, '$.created_at',
                                    json_extract(items.data, '$.created_at'))
                WHERE items.user_id = excluded.user_id AND items.thread_id = excluded.thread_id
                RETURNING seq
                """,
                (
                    item.id,
                    thread_id,
                    context.user_id,
                    _time_text(item.created_at),
                    item.type,
                    dump_item(item),
                    thread_id,
                    context.user_id,
                ),
            )
        if not rows:
            raise item_not_found(thread_id, item.id)

    async def _require_thread(
        self, conn: aiosqlite.Connection, thread_id: str, context: RequestContext
    ) -> None:
        rows = await _fetch(
            conn, "SELECT 1 FROM threads WHERE id = ? AND user_id = ?", (thread_id, context.user_id)
        )
        if not rows:
            raise thread_not_found(thread_id)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            if self._conn is None:
                self._conn = await self._open()
            yield self._conn

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._connection() as conn:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    async def _open(self) -> aiosqlite.Connection:
        if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
            needed = ".".join(map(str, MIN_SQLITE_VERSION))
            raise RuntimeError(
                f"SQLite {sqlite3.sqlite_version} is too old; this store needs {needed} or newer"
            )
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; multi-statement writes use BEGIN.
        conn = aiosqlite.connect(self.path or MEMORY, isolation_level=None)
        # aiosqlite's worker thread is not a daemon, so a store that was never closed (a failed
        # test, a crashed start-up) would keep the process alive forever. Letting it die with
        # the process is safe: SQLite rolls back an interrupted transaction on the next open.
        conn._thread.daemon = True
        await conn
        try:
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self.path is not None:
                await _enable_wal(conn)
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await _migrate(conn)
        except BaseException:
            await conn.close()
            raise
        return conn


async def _enable_wal(conn: aiosqlite.Connection) -> None:
    """Switch the file to WAL mode, which it then keeps for every later connection.

    While another process opens the same new file, the switch fails with "database is locked"
    at once instead of waiting for the busy timeout, so it is retried until then.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            rows = await _fetch(conn, "PRAGMA journal_mode = WAL")
            if str(rows[0][0]).lower() == "wal":
                return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise RuntimeError("Could not switch the SQLite database to WAL mode")
        await asyncio.sleep(0.01)


async def _migrate(conn: aiosqlite.Connection) -> None:
    """Bring the schema to the newest version; BEGIN IMMEDIATE serializes concurrent starts."""
    await conn.execute("BEGIN IMMEDIATE")
    try:
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
                "INSERT INTO schema_version (version) VALUES (?)", (len(MIGRATIONS),)
            )
        else:
            await conn.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    await conn.execute("COMMIT")


async def _fetch(
    conn: aiosqlite.Connection, sql: str, parameters: Sequence[str | int | None] = ()
) -> list[sqlite3.Row]:
    return list(await conn.execute_fetchall(sql, parameters))
