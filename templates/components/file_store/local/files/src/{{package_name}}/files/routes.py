"""The upload URL of the local file store (signed; no bearer token needed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from ..errors import ApiError
from .local import LocalAttachmentStore

router = APIRouter(tags=["files"])


def local_attachment_store(request: Request) -> LocalAttachmentStore:
    """The app's attachment store (this project's is always the local one)."""
    store = request.app.state.services.attachment_store
    if not isinstance(store, LocalAttachmentStore):
        raise ApiError(404, "not_found", "Not found.")
    return store


FileStore = Annotated[LocalAttachmentStore, Depends(local_attachment_store)]


@router.post("/files/{attachment_id}/upload", operation_id="upload_attachment_multipart")
@router.put("/files/{attachment_id}/upload", operation_id="upload_attachment_raw")
async def upload(
    attachment_id: str, request: Request, store: FileStore, token: str | None = None
) -> Response:
    """Receive the bytes of an attachment created by `attachments.create`."""
    return await store.receive_upload(attachment_id, token, request)
