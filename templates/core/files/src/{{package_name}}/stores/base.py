"""What every database backend shares: the `AppStore` base class and its helpers.

The store (`sql.SqlStore`) implements the twelve `chatkit.store.Store` methods plus
`initialize`, `ping`, `close`, `request_scope` and `record_usage`, and relies on the helpers
here for serialization, cursors and timestamps.
"""

from __future__ import annotations

import logging
import re
from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from chatkit.errors import CustomStreamError
from chatkit.store import NotFoundError, Store, StoreItemType
from chatkit.types import Attachment, ThreadItem, ThreadMetadata, UserMessageItem
from pydantic import TypeAdapter

from ..context import RequestContext
from ..file_storage import FileStorage
from ..ids import new_id

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100
"""Upper bound of `limit` for every paginated load; the SDK forwards the client's value as is."""


CURSOR_SEPARATOR = "~"
"""Between the id and the position in a page cursor: `msg_...~2026-01-02T03:04:05.000000~42`."""

OwnedAttachment = tuple[RequestContext, Attachment]
"""An attachment with the context of the user it belongs to."""

Order = Literal["asc", "desc"]

_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
"""A `\\u0000` escape in JSON text (not an escaped backslash followed by `u0000`)."""

ITEM_ADAPTER: TypeAdapter[ThreadItem] = TypeAdapter(ThreadItem)
ATTACHMENT_ADAPTER: TypeAdapter[Attachment] = TypeAdapter(Attachment)


DATABASE_UNAVAILABLE = "The database is unavailable; retry shortly."
"""What a stream's `error` event tells the user when the database fails it."""


class StoreUnavailable(CustomStreamError):
    """The database cannot be reached, or no connection became free within the pool time-out.

    A ChatKit `CustomStreamError`: raised where ChatKit saves a streamed item, it ends the
    stream with `DATABASE_UNAVAILABLE` (retryable) instead of an anonymous error and a
    traceback. `str()` of it is the detail for the logs.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(DATABASE_UNAVAILABLE, allow_retry=True)
        self.args = (detail,)


@dataclass(frozen=True)
class PoolState:
    """The connection pool as the readiness check reports it."""

    size: int
    in_use: int

    @property
    def exhausted(self) -> bool:
        return self.in_use >= self.size


@dataclass(frozen=True)
class TurnUsage:
    """The model tokens one answered turn used, as the Agents SDK counted them."""

    thread_id: str
    model: str
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last row's id and, unless the client sent a bare id, its position."""

    id: str
    created_at: datetime | None = None
    seq: int | None = None


class AppStore(Store[RequestContext]):
    """A ChatKit store with a lifecycle, full-entropy ids and attachment hooks.

    Contract (the contract tests in `tests/test_store.py` run it on every database):

    - every query is scoped to `context.user_id`; a missing or foreign row raises
      `NotFoundError`;
    - `save_thread`, `add_thread_item`, `save_item` and `save_attachment` are upserts that never
      change the owner, `created_at` or position of an existing row, and raise `NotFoundError`
      rather than touch another user's row with the same id;
    - pages are ordered by `(created_at, seq)` where `seq` grows with every insert, so rows with
      equal timestamps keep their insertion order; `after` is the cursor of the previous page's
      last row (`make_cursor`: its id and position), and the next page continues from that
      position even when the row was deleted meanwhile; a bare id is accepted too, and an
      unknown or foreign one gives an empty page;
    - NUL characters, which PostgreSQL cannot store, become U+FFFD in every payload on every
      database, and no row matches an id or user containing one;
    - `delete_thread_item` on an item that is already gone is a no-op (the SDK deletes items it
      may never have persisted), but the thread itself must exist and be the caller's;
    - a database that cannot be reached, or no free connection within the pool time-out, raises
      `StoreUnavailable` (the API answers 503 and asks to retry).
    """

    def __init__(self, files: FileStorage | None = None) -> None:
        self.files = files

    @abstractmethod
    async def initialize(self) -> None:
        """Connect and migrate the schema. Called lazily by the first query too."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise if the database does not answer (used by the health check)."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections. A later call reconnects."""

    @abstractmethod
    def request_scope(self) -> AbstractAsyncContextManager[None]:
        """Run the store calls of one request on one connection and transaction.

        The connection is taken from the pool on the first call, the transaction commits when
        the block ends without an error, and a thread loaded twice is read once.
        """

    @abstractmethod
    def pool_state(self) -> PoolState:
        """How many connections the pool holds and how many are in use (for readiness)."""

    @abstractmethod
    async def delete_orphan_attachments(self, older_than: datetime) -> list[OwnedAttachment]:
        """Delete the records of attachments never sent in a message, created before `older_than`.

        Every user's; returns them with their owner, so their bytes can be deleted too.
        """

    @abstractmethod
    async def record_usage(self, turn: TurnUsage, context: RequestContext) -> None:
        """Store the tokens of one of the caller's turns, now (one row; kept with no thread).

        The row is always the caller's; `NotFoundError` if the thread is another user's.
        """

    def generate_thread_id(self, context: RequestContext) -> str:
        return new_id("thread")

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext
    ) -> str:
        return new_id(item_type)

    def refreshed_attachment(self, attachment: Attachment, context: RequestContext) -> Attachment:
        """A loaded attachment with fresh URLs from the file store (if the project has one)."""
        if self.files is None:
            return attachment
        return self.files.refresh_urls(attachment, context)

    def refreshed_item(self, item: ThreadItem, context: RequestContext) -> ThreadItem:
        """Refresh the attachments embedded in a loaded user message."""
        if self.files is None or not isinstance(item, UserMessageItem):
            return item
        if not item.attachments:
            return item
        attachments = [self.refreshed_attachment(a, context) for a in item.attachments]
        return item.model_copy(update={"attachments": attachments})

    async def cleanup_attachments(
        self, attachments: Sequence[Attachment], context: RequestContext
    ) -> None:
        """Delete the bytes of attachments whose records went with their thread.

        Runs after the records are committed, so a failure here only leaves orphaned bytes
        behind: it is logged rather than reported as a failed delete.
        """
        if self.files is None or not attachments:
            return
        try:
            await self.files.delete_files(attachments, context)
        except Exception:
            logger.exception("Could not delete the files of %d attachment(s)", len(attachments))


def clamp_limit(limit: int) -> int:
    """Bound a requested page size to 1..`MAX_PAGE_SIZE`."""
    return max(1, min(limit, MAX_PAGE_SIZE))


def check_order(order: str) -> Order:
    """Validate a sort order, which the `Store` interface types as a plain string."""
    if order == "asc":
        return "asc"
    if order == "desc":
        return "desc"
    raise ValueError(f"order must be 'asc' or 'desc', got {order!r}")


def sort_time(value: datetime) -> datetime:
    """The naive UTC timestamp rows are ordered by.

    The SDK creates naive local timestamps (`datetime.now()`); they are kept as they are, so run
    the server with `TZ=UTC`. Aware timestamps are converted to UTC, so both kinds compare.
    """
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def make_cursor(row_id: str, created_at: datetime, seq: int) -> str:
    """The `after` of a page whose last row is this one."""
    when = sort_time(created_at).isoformat(timespec="microseconds")
    return f"{row_id}{CURSOR_SEPARATOR}{when}{CURSOR_SEPARATOR}{seq}"


def parse_cursor(after: str) -> Cursor:
    """Read an `after` made by `make_cursor`; anything else is taken as a bare row id."""
    row_id, _, position = after.partition(CURSOR_SEPARATOR)
    when, _, seq = position.partition(CURSOR_SEPARATOR)
    try:
        return Cursor(row_id, datetime.fromisoformat(when), int(seq))
    except ValueError:
        return Cursor(after)


def has_nul(*values: str) -> bool:
    """True when a value holds a NUL character, which no stored id or user can contain."""
    return any("\x00" in value for value in values)


def without_nul(json_text: str) -> str:
    """JSON text with every NUL character (a `\\u0000` escape) replaced by U+FFFD."""
    return _JSON_NUL.sub(r"\1\\ufffd", json_text)


def dump_thread(thread: ThreadMetadata) -> str:
    """Serialize thread metadata; a full `Thread` loses its `items` page."""
    return without_nul(thread.model_dump_json(exclude={"items"}))


def load_thread_json(data: str | bytes) -> ThreadMetadata:
    return ThreadMetadata.model_validate_json(data)


def dump_item(item: ThreadItem) -> str:
    return without_nul(ITEM_ADAPTER.dump_json(item).decode())


def load_item_json(data: str | bytes) -> ThreadItem:
    return ITEM_ADAPTER.validate_json(data)


def dump_attachment(attachment: Attachment) -> str:
    return without_nul(ATTACHMENT_ADAPTER.dump_json(attachment).decode())


def load_attachment_json(data: str | bytes) -> Attachment:
    return ATTACHMENT_ADAPTER.validate_json(data)


def thread_not_found(thread_id: str) -> NotFoundError:
    return NotFoundError(f"Thread {thread_id} not found")


def item_not_found(thread_id: str, item_id: str) -> NotFoundError:
    return NotFoundError(f"Item {item_id} not found in thread {thread_id}")


def attachment_not_found(attachment_id: str) -> NotFoundError:
    return NotFoundError(f"Attachment {attachment_id} not found")
