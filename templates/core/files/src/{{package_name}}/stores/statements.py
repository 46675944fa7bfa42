"""Every statement of the SQL store, built once per dialect: a call binds values, nothing else.

Building a SQLAlchemy statement costs more than running a small one (column proxies for
`excluded`, coercions, the cache key), so `sql.py` never builds one per call: it executes these
with parameters named after the `bindparam`s below. The few lines that differ between databases
are marked `# dialect:`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    Table,
    Text,
    bindparam,
    delete,
    exists,
    func,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import ReturningDelete, ReturningInsert

from .base import Order
from .schema import Payload, SortTime, attachments, items, threads, usage

Insert = postgresql.Insert | sqlite.Insert

# dialect: the upsert statement (both have `ON CONFLICT ... DO UPDATE ... WHERE`).
INSERTS: dict[str, Callable[[Table], Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}

PageKind = Literal["first", "position", "row"]
"""No cursor, a cursor with its row's position, or a bare row id."""


@dataclass(frozen=True)
class Pages:
    """The page queries of one table: by order, then by the kind of cursor.

    Parameters: the owner's (`user_id`, and `thread_id` for items), `limit` (rows wanted + 1),
    and for a cursor `after_created_at` with `after_seq`, or `after_id`.
    """

    queries: dict[tuple[Order, PageKind], Select[Any]]

    def query(self, order: Order, kind: PageKind) -> Select[Any]:
        return self.queries[(order, kind)]


@dataclass(frozen=True)
class Statements:
    """The store's statements for one dialect (parameters named in each comment)."""

    save_thread: ReturningInsert[Any]  # id, user_id, created_at, data
    thread_data: Select[Any]  # thread_id, user_id
    thread_pages: Pages
    delete_thread: ReturningDelete[Any]  # thread_id, user_id
    delete_thread_attachments: ReturningDelete[Any]  # thread_id, user_id
    upsert_item: ReturningInsert[Any]  # id, thread_id, user_id, created_at, type, data
    load_item: Select[Any]  # id, thread_id, user_id
    item_pages: Pages
    delete_item: ReturningDelete[Any]  # id, thread_id, user_id
    save_attachment: ReturningInsert[Any]  # id, user_id, thread_id, created_at, data
    load_attachment: Select[Any]  # id, user_id
    delete_attachment: ReturningDelete[Any]  # id, user_id
    delete_orphan_attachments: ReturningDelete[Any]  # older_than
    record_usage: ReturningInsert[Any]
    # user_id, thread_id, model, input_tokens, output_tokens, created_at


def build_statements(dialect: str) -> Statements:
    """All statements of the store for `dialect` (`sqlite` or `postgresql`)."""
    insert = INSERTS[dialect]
    user = bindparam("user_id", type_=Text)
    thread_id = bindparam("thread_id", type_=Text)
    row_id = bindparam("id", type_=Text)

    save_thread = insert(threads).values(
        id=row_id,
        user_id=user,
        created_at=bindparam("created_at", type_=SortTime()),
        data=bindparam("data", type_=Payload),
    )
    save_thread = save_thread.on_conflict_do_update(
        index_elements=[threads.c.id],
        set_={"data": _keep_created_at(dialect, save_thread.excluded.data, threads.c.data)},
        where=threads.c.user_id == save_thread.excluded.user_id,
    )

    # Inserts only into a thread the caller owns; updates only the caller's row in that same
    # thread. Anything else matches no row and returns nothing.
    owned_thread = exists().where(threads.c.id == thread_id, threads.c.user_id == user)
    item_row = select(
        row_id,
        thread_id,
        user,
        bindparam("created_at", type_=SortTime()),
        bindparam("type", type_=Text),
        bindparam("data", type_=Payload),
    ).where(owned_thread)
    upsert_item = insert(items).from_select(
        ["id", "thread_id", "user_id", "created_at", "type", "data"], item_row
    )
    upsert_item = upsert_item.on_conflict_do_update(
        index_elements=[items.c.id],
        set_={
            "type": upsert_item.excluded.type,
            "data": _keep_created_at(dialect, upsert_item.excluded.data, items.c.data),
        },
        where=(items.c.user_id == upsert_item.excluded.user_id)
        & (items.c.thread_id == upsert_item.excluded.thread_id),
    )

    save_attachment = insert(attachments).values(
        id=row_id,
        user_id=user,
        thread_id=bindparam("thread_id", type_=Text),
        created_at=bindparam("created_at", type_=SortTime()),
        data=bindparam("data", type_=Payload),
    )
    save_attachment = save_attachment.on_conflict_do_update(
        index_elements=[attachments.c.id],
        set_={
            "thread_id": save_attachment.excluded.thread_id,
            "data": save_attachment.excluded.data,
        },
        where=attachments.c.user_id == save_attachment.excluded.user_id,
    )

    # One INSERT, refused (no row) when the thread is another user's. A thread deleted meanwhile
    # still gets its row: the tokens were used.
    foreign_thread = exists().where(threads.c.id == thread_id, threads.c.user_id != user)
    usage_row = select(
        user,
        thread_id,
        bindparam("model", type_=Text),
        bindparam("input_tokens", type_=Integer),
        bindparam("output_tokens", type_=Integer),
        bindparam("created_at", type_=SortTime()),
    ).where(~foreign_thread)
    record_usage = usage.insert().from_select(
        ["user_id", "thread_id", "model", "input_tokens", "output_tokens", "created_at"], usage_row
    )

    item_owner = [items.c.thread_id == thread_id, items.c.user_id == user]
    return Statements(
        save_thread=save_thread.returning(threads.c.seq),
        thread_data=select(threads.c.data).where(
            threads.c.id == thread_id, threads.c.user_id == user
        ),
        thread_pages=_pages(threads, [threads.c.user_id == user]),
        delete_thread=delete(threads)
        .where(threads.c.id == thread_id, threads.c.user_id == user)
        .returning(threads.c.seq),
        delete_thread_attachments=delete(attachments)
        .where(attachments.c.thread_id == thread_id, attachments.c.user_id == user)
        .returning(attachments.c.data),
        upsert_item=upsert_item.returning(items.c.seq),
        load_item=select(items.c.data).where(items.c.id == row_id, *item_owner),
        item_pages=_pages(items, item_owner),
        delete_item=delete(items).where(items.c.id == row_id, *item_owner).returning(items.c.seq),
        save_attachment=save_attachment.returning(attachments.c.id),
        load_attachment=select(attachments.c.data).where(
            attachments.c.id == row_id, attachments.c.user_id == user
        ),
        delete_attachment=delete(attachments)
        .where(attachments.c.id == row_id, attachments.c.user_id == user)
        .returning(attachments.c.id),
        delete_orphan_attachments=delete(attachments)
        .where(
            attachments.c.thread_id.is_(None),
            attachments.c.created_at < bindparam("older_than", type_=SortTime()),
        )
        .returning(attachments.c.user_id, attachments.c.data),
        record_usage=record_usage.returning(usage.c.seq),
    )


def _keep_created_at(dialect: str, new: Any, old: Any) -> ColumnElement[Any]:
    """`new` JSON with the `created_at` of `old`: an upsert keeps a row's creation time."""
    if dialect == "postgresql":  # dialect: JSONB functions
        key: ColumnElement[str] = literal_column("'created_at'")
        return func.jsonb_set(new, literal_column("'{created_at}'"), old.op("->")(key))
    # dialect: SQLite's JSON functions (the same names in MySQL and MariaDB)
    path: ColumnElement[str] = literal_column("'$.created_at'")
    return func.json_set(new, path, func.json_extract(old, path))


def _pages(table: Table, owner: list[ColumnElement[bool]]) -> Pages:
    """Keyset pages of `owner`'s rows on (created_at, seq), for each order and kind of cursor."""
    position = tuple_(table.c.created_at, table.c.seq)
    # The cursor's values, not its row: the next page is right even if that row was deleted.
    values = tuple_(
        bindparam("after_created_at", type_=SortTime()),
        bindparam("after_seq", type_=BigInteger),
    )
    # A bare id: its row's position (no row: no page).
    row = select(table.c.created_at, table.c.seq).where(
        table.c.id == bindparam("after_id", type_=Text), *owner
    )
    of_row = tuple_(
        row.with_only_columns(table.c.created_at).scalar_subquery(),
        row.with_only_columns(table.c.seq).scalar_subquery(),
    )
    bounds: dict[PageKind, Any] = {"first": None, "position": values, "row": of_row}
    base = select(table.c.data, table.c.id, table.c.created_at, table.c.seq).where(*owner)
    queries: dict[tuple[Order, PageKind], Select[Any]] = {}
    orders: tuple[Order, ...] = ("asc", "desc")
    for order in orders:
        for kind, bound in bounds.items():
            query = base
            if bound is not None:
                query = query.where(position > bound if order == "asc" else position < bound)
            if order == "asc":
                query = query.order_by(table.c.created_at.asc(), table.c.seq.asc())
            else:
                query = query.order_by(table.c.created_at.desc(), table.c.seq.desc())
            queries[(order, kind)] = query.limit(bindparam("limit", type_=BigInteger))
    return Pages(queries)
