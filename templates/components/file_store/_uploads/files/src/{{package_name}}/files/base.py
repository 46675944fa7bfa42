"""What the file stores share: attachment ids, per-user storage keys, the attachment store base."""

from __future__ import annotations

import hashlib
import re
from abc import abstractmethod

from chatkit.store import AttachmentStore
from fastapi import Response

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
    """ChatKit's attachment store with full-entropy attachment ids."""

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        return new_id("attachment")


class ServedAttachmentStore(AppAttachmentStore):
    """An attachment store whose files this app serves at `GET /files/{id}` (`downloads.py`)."""

    @abstractmethod
    async def serve(self, attachment_id: str, token: str | None) -> Response:
        """The bytes of an uploaded attachment for a valid download token, or a JSON error."""
