"""`GET /files/{id}?token=...`: an attachment's bytes, from whichever file store the app has."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from ..errors import ApiError
from .base import ServedAttachmentStore

router = APIRouter(tags=["files"])


def served_attachment_store(request: Request) -> ServedAttachmentStore:
    """The app's attachment store, which serves the bytes it holds."""
    store = request.app.state.services.attachment_store
    if not isinstance(store, ServedAttachmentStore):
        raise ApiError(404, "not_found", "Not found.")
    return store


@router.get("/files/{attachment_id}")
async def download(
    attachment_id: str,
    store: Annotated[ServedAttachmentStore, Depends(served_attachment_store)],
    token: str | None = None,
) -> Response:
    """Serve the bytes of an uploaded attachment (the token names the user and the file)."""
    return await store.serve(attachment_id, token)
