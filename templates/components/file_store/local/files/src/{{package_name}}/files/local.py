"""Attachments on the local disk, uploaded in two phases through this app's own routes.

1. `attachments.create` returns the attachment with a signed upload URL (and, for images, a signed
   preview URL); the ChatKit server saves the record.
2. The client sends the bytes to `POST /files/{id}/upload` (multipart field `file`) or `PUT` (raw).
   They are checked, written atomically to `UPLOAD_DIR/<user key>/<id>` and the record's
   `upload_descriptor` is cleared.
3. `GET /files/{id}?token=...` serves them back.

`LocalFiles` holds the bytes and signs URLs (the store uses it to refresh preview URLs and to
delete the bytes of deleted threads); `LocalAttachmentStore` is ChatKit's attachment store on
top of it; `routes.py` serves the two URLs.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from chatkit.store import NotFoundError
from chatkit.types import (
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FileAttachment,
    ImageAttachment,
)
from fastapi import Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import AnyUrl

from ..context import RequestContext
from ..errors import error_response
from ..settings import Settings, SettingsError
from ..stores.base import AppStore
from .base import ServedAttachmentStore, is_attachment_id, owner_key
from .links import FileLinks, access_error, download_headers
from .policy import UploadPolicy, UploadRejected, invalid, is_previewable_image
from .signing import InvalidToken, TokenScopeError, UrlSigner
from .upload_body import receive_upload

logger = logging.getLogger(__name__)

DECLARED_SIZE = "declared_size"
SIGNING_KEY_FILE = ".signing-key"
SIGNING_KEY_BYTES = 32


def signing_key(settings: Settings) -> bytes:
    """SIGNING_SECRET, or the key kept in `UPLOAD_DIR/.signing-key` (created on first use).

    The key file is what lets every worker process on this machine, and every restart, sign
    and check the same URLs; servers on several machines must share SIGNING_SECRET instead.
    """
    if settings.signing_secret is not None:
        return settings.signing_secret.get_secret_value().encode()
    path = settings.upload_dir / SIGNING_KEY_FILE
    if not path.exists():
        # Written whole to a private temporary file, then linked into place: a concurrent
        # start either links first or reads the complete key the other one linked.
        temporary = path.with_name(f"{SIGNING_KEY_FILE}.{secrets.token_hex(8)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(secrets.token_bytes(SIGNING_KEY_BYTES))
        try:
            os.link(temporary, path)
            logger.info("SIGNING_SECRET is unset: file URLs are signed with the key in %s", path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    key = path.read_bytes()
    if len(key) < SIGNING_KEY_BYTES:
        raise SettingsError(
            [f"SIGNING_SECRET is unset and {path} holds no usable key: delete it or set one"]
        )
    return key


class LocalFiles:
    """Attachment bytes in `root/<user key>/<attachment id>`, served through signed URLs."""

    def __init__(self, *, root: Path, links: FileLinks) -> None:
        self.root = root
        self.links = links
        self.app_origin: str | None = links.origin
        self.browser_origins: tuple[str, ...] = (links.origin,)

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalFiles:
        """Build it from UPLOAD_DIR, SIGNING_SECRET and PUBLIC_BASE_URL; creates UPLOAD_DIR."""
        try:
            settings.upload_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SettingsError([f"UPLOAD_DIR cannot be created: {exc}"]) from exc
        if not os.access(settings.upload_dir, os.W_OK | os.X_OK):
            raise SettingsError([f"UPLOAD_DIR {settings.upload_dir} is not writable"])
        links = FileLinks(UrlSigner(signing_key(settings)), settings.public_base_url)
        return cls(root=settings.upload_dir, links=links)

    async def read_bytes(self, attachment: Attachment, context: RequestContext) -> bytes:
        try:
            return await anyio.Path(self.path(attachment.id, context)).read_bytes()
        except FileNotFoundError as exc:
            raise NotFoundError(f"Attachment {attachment.id} has no uploaded file.") from exc

    def refresh_urls(self, attachment: Attachment, context: RequestContext) -> Attachment:
        if not isinstance(attachment, ImageAttachment) or not is_attachment_id(attachment.id):
            return attachment
        preview_url = AnyUrl(self.links.signed_url(attachment.id, context, "download"))
        return attachment.model_copy(update={"preview_url": preview_url})

    async def delete_files(
        self, attachments: Sequence[Attachment], context: RequestContext
    ) -> None:
        for attachment in attachments:
            if is_attachment_id(attachment.id):
                await anyio.Path(self.path(attachment.id, context)).unlink(missing_ok=True)

    def path(self, attachment_id: str, context: RequestContext) -> Path:
        """Where an attachment's bytes live (NotFoundError for an id this app never made)."""
        if not is_attachment_id(attachment_id):
            raise NotFoundError(f"Attachment {attachment_id} not found.")
        return self.root / owner_key(context.user_id) / attachment_id


class LocalAttachmentStore(ServedAttachmentStore):
    """Two-phase uploads to this app: records in the app's store, bytes in `LocalFiles`."""

    def __init__(self, *, records: AppStore, files: LocalFiles, policy: UploadPolicy) -> None:
        self._records = records
        self.files = files
        self._policy = policy

    async def create_attachment(
        self, input: AttachmentCreateParams, context: RequestContext
    ) -> Attachment:
        mime_type = self._policy.check_new(input.name, input.size, input.mime_type)
        attachment_id = self.generate_attachment_id(mime_type, context)
        upload = AttachmentUploadDescriptor(
            url=AnyUrl(self.files.links.signed_url(attachment_id, context, "upload")), method="POST"
        )
        # Server-only (never sent to the client): the upload must be exactly this size.
        metadata: dict[str, Any] = {DECLARED_SIZE: input.size}
        if is_previewable_image(mime_type):
            return ImageAttachment(
                id=attachment_id,
                name=input.name,
                mime_type=mime_type,
                upload_descriptor=upload,
                preview_url=AnyUrl(self.files.links.signed_url(attachment_id, context, "download")),
                metadata=metadata,
            )
        return FileAttachment(
            id=attachment_id,
            name=input.name,
            mime_type=mime_type,
            upload_descriptor=upload,
            metadata=metadata,
        )

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        # The SDK does not check ownership: loading the record does (NotFoundError if foreign).
        await self._records.load_attachment(attachment_id, context)
        await anyio.Path(self.files.path(attachment_id, context)).unlink(missing_ok=True)

    async def receive_upload(
        self, attachment_id: str, token: str | None, request: Request
    ) -> Response:
        """Receive the bytes of an attachment created by `attachments.create`."""
        try:
            context = self.files.links.authorize(attachment_id, token, "upload")
            attachment = await self._records.load_attachment(attachment_id, context)
            if attachment.upload_descriptor is None:
                return error_response(409, "conflict", "This attachment is already uploaded.")
            await self._receive(request, attachment, context)
        except (InvalidToken, TokenScopeError, NotFoundError, UploadRejected) as exc:
            return access_error(exc)
        uploaded = attachment.model_copy(update={"upload_descriptor": None})
        await self._records.save_attachment(uploaded, context)
        body = self.files.refresh_urls(uploaded, context)
        content = body.model_dump(
            mode="json", exclude_none=True, context={"exclude_metadata": True}
        )
        return JSONResponse(content)

    async def serve(self, attachment_id: str, token: str | None) -> Response:
        """Serve the bytes of an uploaded attachment."""
        try:
            context = self.files.links.authorize(attachment_id, token, "download")
            attachment = await self._records.load_attachment(attachment_id, context)
            path = self.files.path(attachment_id, context)
            if attachment.upload_descriptor is not None or not await anyio.Path(path).is_file():
                raise NotFoundError(f"Attachment {attachment_id} has no uploaded file.")
        except (InvalidToken, TokenScopeError, NotFoundError) as exc:
            return access_error(exc)
        headers = download_headers(attachment.name, attachment.mime_type)
        return FileResponse(path, media_type=attachment.mime_type, headers=headers)

    async def _receive(
        self, request: Request, attachment: Attachment, context: RequestContext
    ) -> None:
        """Stream the body to a temporary file, check it, then move it into place atomically."""
        final = self.files.path(attachment.id, context)
        await anyio.Path(final.parent).mkdir(parents=True, exist_ok=True)
        temporary = final.with_name(f".{final.name}.{secrets.token_hex(8)}.part")
        try:
            received = await receive_upload(request, temporary, self._policy.max_bytes)
            declared = (attachment.metadata or {}).get(DECLARED_SIZE)
            if isinstance(declared, int) and received.size != declared:
                raise invalid(
                    f"The upload is {received.size} bytes but the attachment was declared "
                    f"{declared} bytes."
                )
            self._policy.check_received(attachment.mime_type, received.content_type, received.head)
            os.replace(temporary, final)
        finally:
            temporary.unlink(missing_ok=True)
