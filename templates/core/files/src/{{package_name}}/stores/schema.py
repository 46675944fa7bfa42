"""The store's tables as SQLAlchemy Core metadata: the one description of the schema.

Threads, their items and attachment records belong to their user and go with their thread;
`usage` keeps the tokens of every answered turn, and stays when its thread is deleted.

Alembic compares the database with `metadata` (`alembic revision --autogenerate`); the store
builds its queries from these tables. Column types follow the first schema the store created,
so databases written by earlier versions stay valid: PostgreSQL keeps payloads as JSONB and
times as `TIMESTAMP`; SQLite keeps both as text, times in a fixed-width ISO format so that
text order is time order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    DDL,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

from .base import sort_time

metadata = MetaData()


class SortTime(TypeDecorator[datetime]):
    """A naive UTC timestamp (see `sort_time`): `TIMESTAMP`, or fixed-width ISO text on SQLite."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":  # dialect: SQLite has no time type
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = sort_time(value)
        if dialect.name == "sqlite":  # dialect: microseconds always present, text sorts as time
            return value.isoformat(timespec="microseconds")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return value
        return datetime.fromisoformat(value)


# dialect: PostgreSQL keeps payloads as JSONB; the store reads and writes them as JSON text.
Payload = Text().with_variant(JSONB(), "postgresql")
# dialect: SQLite's INTEGER PRIMARY KEY is its rowid (with `sqlite_autoincrement`, never reused).
Seq = BigInteger().with_variant(Integer(), "sqlite")

threads = Table(
    "threads",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("user_id", Text, nullable=False),
    Column("created_at", SortTime, nullable=False),
    Column("data", Payload, nullable=False),
    Index("threads_by_user", "user_id", "created_at", "seq"),
    sqlite_autoincrement=True,
)

items = Table(
    "items",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("thread_id", Text, ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Text, nullable=False),
    Column("created_at", SortTime, nullable=False),
    Column("type", Text, nullable=False),
    Column("data", Payload, nullable=False),
    Index("items_by_thread", "thread_id", "user_id", "created_at", "seq"),
    sqlite_autoincrement=True,
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", Text, primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("thread_id", Text),
    Column("created_at", SortTime, nullable=False),
    Column("data", Payload, nullable=False),
    Index("attachments_by_thread", "thread_id", "user_id"),
)

# Tokens are accounting: `thread_id` is no foreign key, so a deleted thread leaves its usage.
usage = Table(
    "usage",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("user_id", Text, nullable=False),
    Column("thread_id", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("created_at", SortTime, nullable=False),
    Index("usage_by_user", "user_id", "created_at"),
    Index("usage_by_time", "created_at"),
)

# dialect: PostgreSQL statistics (no SQLAlchemy construct). A thread has one owner; without
# them the planner multiplies the two selectivities, expects a handful of rows, and sorts a whole
# thread instead of walking the index.
ITEMS_THREAD_OWNER_STATISTICS = DDL(  # type: ignore[no-untyped-call]
    "CREATE STATISTICS IF NOT EXISTS items_thread_owner (dependencies) "
    "ON thread_id, user_id FROM items"
).execute_if(dialect="postgresql")
event.listen(items, "after_create", ITEMS_THREAD_OWNER_STATISTICS)
