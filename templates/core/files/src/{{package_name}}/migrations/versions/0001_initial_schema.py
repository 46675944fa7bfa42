"""The store's tables: threads, their items, and attachment records.

A database written before migrations came with Alembic already has these tables, with a
`schema_version` table at version 1: it is adopted as it is (its rows kept) and that table goes.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

LEGACY_VERSION = 1
"""The last version of the `schema_version` table, equal to this revision's schema."""

seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
timestamp = sa.DateTime().with_variant(sa.Text(), "sqlite")
json = postgresql.JSONB().with_variant(sa.Text(), "sqlite")


def upgrade() -> None:
    """Create the tables, or adopt those of a database from before Alembic."""
    if adopt_legacy_schema():
        return
    op.create_table(
        "threads",
        sa.Column("seq", seq, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text(), nullable=False, unique=True),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("data", json, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("threads_by_user", "threads", ["user_id", "created_at", "seq"])
    op.create_table(
        "items",
        sa.Column("seq", seq, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text(), nullable=False, unique=True),
        sa.Column(
            "thread_id",
            sa.Text(),
            sa.ForeignKey("threads.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("data", json, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("items_by_thread", "items", ["thread_id", "user_id", "created_at", "seq"])
    if op.get_bind().dialect.name == "postgresql":
        # A thread has one owner. Without this the planner multiplies the two selectivities,
        # expects a handful of rows, and sorts a whole thread instead of walking the index.
        op.execute("CREATE STATISTICS items_thread_owner (dependencies) ON thread_id, user_id FROM items")
    op.create_table(
        "attachments",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("thread_id", sa.Text()),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("data", json, nullable=False),
    )
    op.create_index("attachments_by_thread", "attachments", ["thread_id", "user_id"])


def downgrade() -> None:
    """Drop the tables, and every thread, item and attachment record with them."""
    op.drop_table("attachments")
    op.drop_table("items")
    op.drop_table("threads")


def adopt_legacy_schema() -> bool:
    """Drop the `schema_version` table of a pre-Alembic database; False when there is none."""
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("schema_version"):
        return False
    version = bind.execute(sa.text("SELECT max(version) FROM schema_version")).scalar()
    if version != LEGACY_VERSION:
        raise RuntimeError(
            f"The database's schema_version is {version}; only version {LEGACY_VERSION} "
            "(the schema of this revision) can be adopted"
        )
    op.drop_table("schema_version")
    return True
