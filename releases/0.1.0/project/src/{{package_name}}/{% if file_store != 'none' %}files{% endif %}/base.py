"""The interface every attachment backend implements on top of ChatKit's `AttachmentStore`."""

from __future__ import annotations

import hashlib
import re
from abc import abstractmethod
from collections.abc import Sequence

from chatkit.store import AttachmentStore
from chatkit.types import Attachment
from fastapi import APIRouter

from ..context import RequestContext
from ..ids import new_id

# The exact shape of `new_id("attachment")`. Ids are checked against it before they are used to
# build a storage path or key, so nothing a client sends can point outside its own folder.
ATTACHMENT_ID_PATTERN = re.compile(r"atc_[0-9a-f]{32}")


def is_attachment_id(value: str) -> bool:
    """Whether `value` is an attachment id this app could have generated."""
    return ATTACHMENT_ID_PATTERN.fullmatch(value) is not None


def owner_key(user_id: str) -> str:
    """A fixed-length folder name for a user's files that never contains the raw user id."""
    return hashlib.sha256(user_id.encode()).hexdigest()[:16]


class AppAttachmentStore(AttachmentStore[RequestContext]):
    """ChatKit's attachment store plus what the server, converter and app need around it."""

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        return new_id("attachment")

    @abstractmethod
    async def read_bytes(self, attachment: Attachment, context: RequestContext) -> bytes:
        """The uploaded bytes; raises `NotFoundError` if missing, not uploaded or foreign."""

    @abstractmethod
    def refresh_urls(self, attachment: Attachment, context: RequestContext) -> Attachment:
        """The attachment with freshly signed URLs (applied to every attachment the store loads)."""

    @abstractmethod
    async def delete_files(
        self, attachments: Sequence[Attachment], context: RequestContext
    ) -> None:
        """Remove the bytes of attachments whose records are already gone (thread deletion)."""

    def router(self) -> APIRouter | None:
        """Routes this backend serves itself (uploads, downloads), if any."""
        return None
