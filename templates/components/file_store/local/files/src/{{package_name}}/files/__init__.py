"""Attachments on the local disk: the file storage, the attachment store and its routes."""

from __future__ import annotations

from fastapi import APIRouter

from ..settings import Settings
from ..stores.base import AppStore
from . import downloads, routes
from .local import LocalAttachmentStore, LocalFiles
from .policy import UploadPolicy

__all__ = ["create_attachment_store", "create_file_storage", "router"]

router = APIRouter()
"""Uploads to `/files/{id}/upload` and downloads from `/files/{id}`, through signed URLs."""
router.include_router(routes.router)
router.include_router(downloads.router)


def create_file_storage(settings: Settings) -> LocalFiles:
    """Where uploaded bytes live (UPLOAD_DIR, created if missing); raises on bad settings."""
    return LocalFiles.from_settings(settings)


def create_attachment_store(
    settings: Settings, records: AppStore, files: LocalFiles
) -> LocalAttachmentStore:
    """ChatKit's attachment store: records in `records`, bytes in `files`."""
    policy = UploadPolicy.create(settings.max_upload_bytes, settings.allowed_upload_types)
    return LocalAttachmentStore(records=records, files=files, policy=policy)
