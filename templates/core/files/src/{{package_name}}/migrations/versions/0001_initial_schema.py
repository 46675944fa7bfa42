"""The store's tables: threads, their items, and attachment records.

A database written before migrations came with Alembic already has these tables, with a
`schema_version` table at version 1: it is adopted with its rows, and that table goes. SQLite
tables of that time differ in ways only autogenerate sees (a nullable primary key), so they are
copied into the definitions below.

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

# dialect: SQLite's INTEGER PRIMARY KEY is its rowid; it keeps times and JSON as text.
seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
timestamp = sa.DateTime().with_variant(sa.Text(), "sqlite")
payload = sa.Text().with_variant(postgresql.JSONB(), "postgresql")

schema = sa.MetaData()
threads = sa.Table(
    "threads",
    schema,
    sa.Column("seq", seq, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Text(), nullable=False, unique=True),
    sa.Column("user_id", sa.Text(), nullable=False),
    sa.Column("created_at", timestamp, nullable=False),
    sa.Column("data", payload, nullable=False),
    sa.Index("threads_by_user", "user_id", "created_at", "seq"),
    sqlite_autoincrement=True,
)
items = sa.Table(
    "items",
    schema,
    sa.Column("seq", seq, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Text(), nullable=False, unique=True),
    sa.Column(
        "thread_id", sa.Text(), sa.ForeignKey("threads.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("user_id", sa.Text(), nullable=False),
    sa.Column("created_at", timestamp, nullable=False),
    sa.Column("type", sa.Text(), nullable=False),
    sa.Column("data", payload, nullable=False),
    sa.Index("items_by_thread", "thread_id", "user_id", "created_at", "seq"),
    sqlite_autoincrement=True,
)
attachments = sa.Table(
    "attachments",
    schema,
    sa.Column("id", sa.Text(), primary_key=True),
    sa.Column("user_id", sa.Text(), nullable=False),
    sa.Column("thread_id", sa.Text()),
    sa.Column("created_at", timestamp, nullable=False),
    sa.Column("data", payload, nullable=False),
    sa.Index("attachments_by_thread", "thread_id", "user_id"),
)


def upgrade() -> None:
    """Create the tables, or adopt those of a database from before Alembic."""
    bind = op.get_bind()
    if not adopt_legacy_schema():
        schema.create_all(bind)
    if bind.dialect.name == "postgresql":
        # A thread has one owner. Without this the planner multiplies the two selectivities,
        # expects a handful of rows, and sorts a whole thread instead of walking the index.
        op.execute(
            "CREATE STATISTICS IF NOT EXISTS items_thread_owner (dependencies)"
            " ON thread_id, user_id FROM items"
        )


def downgrade() -> None:
    """Drop the tables, and every thread, item and attachment record with them."""
    schema.drop_all(op.get_bind())


def adopt_legacy_schema() -> bool:
    """Take over the tables of a pre-Alembic database; False when there is none."""
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
    if bind.dialect.name == "sqlite":
        for table in schema.sorted_tables:
            copy_sqlite_table(table)
    return True


def copy_sqlite_table(table: sa.Table) -> None:
    """Rebuild `table` from its definition here, rows, keys and AUTOINCREMENT counter kept."""
    bind = op.get_bind()
    counter = sa.text("SELECT seq FROM sqlite_sequence WHERE name = :name")
    last = bind.execute(counter, {"name": table.name}).scalar() if "seq" in table.c else None
    with op.batch_alter_table(
        table.name, recreate="always", copy_from=table, table_kwargs=dict(table.dialect_kwargs)
    ):
        pass
    if last is not None:
        bind.execute(
            sa.text("UPDATE sqlite_sequence SET seq = :last WHERE name = :name"),
            {"last": last, "name": table.name},
        )
