"""What every database backend shares: the `AppStore` base class and its helpers.

A backend subclasses `AppStore`, implements the twelve `chatkit.store.Store` methods plus
`initialize`, `ping` and `close`, and relies on the helpers here so that serialization,
pagination and timestamps behave the same on every database.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal, Protocol, TypeVar

from chatkit.store import NotFoundError, Store, StoreItemType
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata, UserMessageItem
from pydantic import TypeAdapter

from ..context import RequestContext
from ..file_storage import FileStorage
from ..ids import new_id

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100
"""Upper bound of `limit` for every paginated load; the SDK forwards the client's value as is."""


OwnedAttachment = tuple[RequestContext, Attachment]
"""An attachment with the context of the user it belongs to."""

Order = Literal["asc", "desc"]

ITEM_ADAPTER: TypeAdapter[ThreadItem] = TypeAdapter(ThreadItem)
ATTACHMENT_ADAPTER: TypeAdapter[Attachment] = TypeAdapter(Attachment)


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


RowT = TypeVar("RowT", bound=_HasId)


class AppStore(Store[RequestContext]):
    """A ChatKit store with a lifecycle, full-entropy ids and attachment hooks.

    Contract shared by every backend:

    - every query is scoped to `context.user_id`; a missing or foreign row raises
      `NotFoundError`;
    - `save_thread`, `add_thread_item`, `save_item` and `save_attachment` are upserts that never
      change the owner, `created_at` or position of an existing row, and raise `NotFoundError`
      rather than touch another user's row with the same id;
    - pages are ordered by `(created_at, seq)` where `seq` grows with every insert, so rows with
      equal timestamps keep their insertion order; `after` is the id of the previous page's last
      row, and an unknown or foreign `after` gives an empty page;
    - `delete_thread_item` on an item that is already gone is a no-op (the SDK deletes items it
      may never have persisted), but the thread itself must exist and be the caller's.
    """

    def __init__(self, files: FileStorage | None = None) -> None:
        self.files = files

    @abstractmethod
    async def initialize(self) -> None:
        """Connect and create or migrate the schema. Called lazily by the first query too."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise if the database does not answer (used by the health check)."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections. A later call reconnects."""

    @abstractmethod
    async def delete_orphan_attachments(self, older_than: datetime) -> list[OwnedAttachment]:
        """Delete the records of attachments never sent in a message, created before `older_than`.

        Every user's; returns them with their owner, so their bytes can be deleted too.
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


def make_page(rows: list[RowT], limit: int) -> Page[RowT]:
    """Build a page from up to `limit + 1` fetched rows (the extra row only signals more)."""
    has_more = len(rows) > limit
    data = rows[:limit]
    return Page(data=data, has_more=has_more, after=data[-1].id if has_more else None)


def dump_thread(thread: ThreadMetadata) -> str:
    """Serialize thread metadata; a full `Thread` loses its `items` page."""
    return thread.model_dump_json(exclude={"items"})


def load_thread_json(data: str | bytes) -> ThreadMetadata:
    return ThreadMetadata.model_validate_json(data)


def dump_item(item: ThreadItem) -> str:
    return ITEM_ADAPTER.dump_json(item).decode()


def load_item_json(data: str | bytes) -> ThreadItem:
    return ITEM_ADAPTER.validate_json(data)


def dump_attachment(attachment: Attachment) -> str:
    return ATTACHMENT_ADAPTER.dump_json(attachment).decode()


def load_attachment_json(data: str | bytes) -> Attachment:
    return ATTACHMENT_ADAPTER.validate_json(data)


def thread_not_found(thread_id: str) -> NotFoundError:
    return NotFoundError(f"Thread {thread_id} not found")


def item_not_found(thread_id: str, item_id: str) -> NotFoundError:
    return NotFoundError(f"Item {item_id} not found in thread {thread_id}")


def attachment_not_found(attachment_id: str) -> NotFoundError:
    return NotFoundError(f"Attachment {attachment_id} not found")
