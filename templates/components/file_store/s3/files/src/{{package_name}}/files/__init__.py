"""Attachments in S3: storage, the attachment store, and the download route (`router`)."""

from __future__ import annotations

from ..settings import Settings
from ..stores.base import AppStore
from .downloads import router
from .policy import UploadPolicy
from .s3 import S3AttachmentStore, S3Files

__all__ = ["create_attachment_store", "create_file_storage", "router"]


def create_file_storage(settings: Settings) -> S3Files:
    """The bucket named by UPLOAD_BUCKET, with S3_ENDPOINT_URL and the AWS_* credentials."""
    return S3Files.from_settings(settings)


def create_attachment_store(
    settings: Settings, records: AppStore, files: S3Files
) -> S3AttachmentStore:
    """ChatKit's attachment store: records in `records`, bytes in `files`."""
    policy = UploadPolicy.create(settings.max_upload_bytes, settings.allowed_upload_types)
    return S3AttachmentStore(records=records, files=files, policy=policy)
