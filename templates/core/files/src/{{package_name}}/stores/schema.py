"""The tables of the store, as SQLAlchemy Core metadata: what the migrations must produce.

`metadata` is the target of `alembic revision --autogenerate`: a table of your own, defined on
it in a module imported by `migrations/env.py`, gets its migration from there.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# SQLite keeps rowid-style keys in INTEGER columns, timestamps and JSON as text.
Sequence = BigInteger().with_variant(Integer(), "sqlite")
Timestamp = DateTime().with_variant(Text(), "sqlite")
Json = JSONB().with_variant(Text(), "sqlite")

threads = Table(
    "threads",
    metadata,
    Column("seq", Sequence, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("user_id", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("data", Json, nullable=False),
    Index("threads_by_user", "user_id", "created_at", "seq"),
    sqlite_autoincrement=True,
)

items = Table(
    "items",
    metadata,
    Column("seq", Sequence, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("thread_id", Text, ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("type", Text, nullable=False),
    Column("data", Json, nullable=False),
    Index("items_by_thread", "thread_id", "user_id", "created_at", "seq"),
    sqlite_autoincrement=True,
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", Text, primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("thread_id", Text),
    Column("created_at", Timestamp, nullable=False),
    Column("data", Json, nullable=False),
    Index("attachments_by_thread", "thread_id", "user_id"),
)
