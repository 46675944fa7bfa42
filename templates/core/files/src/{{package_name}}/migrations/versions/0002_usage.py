"""The `usage` table: the tokens of every answered turn, per user and thread.

Its `thread_id` is no foreign key: deleting a thread keeps the usage of its turns.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# dialect: SQLite's INTEGER PRIMARY KEY is its rowid; it keeps times as text.
seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
timestamp = sa.DateTime().with_variant(sa.Text(), "sqlite")


def upgrade() -> None:
    """Create the table, empty: turns answered before it are not counted."""
    op.create_table(
        "usage",
        sa.Column("seq", seq, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("thread_id", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
    )
    op.create_index("usage_by_user", "usage", ["user_id", "created_at"])
    op.create_index("usage_by_time", "usage", ["created_at"])


def downgrade() -> None:
    """Drop the table, and the usage it recorded with it."""
    op.drop_table("usage")
