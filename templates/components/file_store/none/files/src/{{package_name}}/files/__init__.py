"""Attachments are off in this project: no file storage, no attachment store, no routes.

`attachments.*` requests and messages with attachments are answered 501.
`chatkit-scaffold add-file-store local|s3` replaces this package with a real file store.
"""

from __future__ import annotations

from chatkit.store import AttachmentStore
from fastapi import APIRouter

from ..context import RequestContext
from ..file_storage import FileStorage
from ..settings import Settings
from ..stores.base import AppStore

__all__ = ["create_attachment_store", "create_file_storage", "router"]

router = APIRouter()
"""No file routes."""


def create_file_storage(settings: Settings) -> FileStorage | None:
    """No file storage: attachment bytes are never kept."""
    return None


def create_attachment_store(
    settings: Settings, records: AppStore, files: FileStorage | None
) -> AttachmentStore[RequestContext] | None:
    """No attachment store: the ChatKit server then refuses attachments (501)."""
    return None
