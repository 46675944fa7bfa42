"""Attachments in S3: the file storage and the attachment store (uploads go to S3 directly)."""

from __future__ import annotations

from fastapi import APIRouter

from ..settings import Settings
from ..stores.base import AppStore
from .policy import UploadPolicy
from .s3 import S3AttachmentStore, S3Files

__all__ = ["create_attachment_store", "create_file_storage", "router"]

router = APIRouter()
"""No routes of its own: browsers upload to and download from S3 through presigned URLs."""


def create_file_storage(settings: Settings) -> S3Files:
    """The bucket named by UPLOAD_BUCKET, with S3_ENDPOINT_URL and the AWS_* credentials."""
    return S3Files.from_settings(settings)


def create_attachment_store(
    settings: Settings, records: AppStore, files: S3Files
) -> S3AttachmentStore:
    """ChatKit's attachment store: records in `records`, bytes in `files`."""
    policy = UploadPolicy.create(settings.max_upload_bytes, settings.allowed_upload_types)
    return S3AttachmentStore(records=records, files=files, policy=policy)
