"""Attachments in an S3 bucket (or an S3-compatible server), uploaded straight to it.

1. `attachments.create` returns a presigned PUT URL. Its signature covers the content type and
   length declared at creation, so S3 itself refuses a body of another type or size.
2. The client PUTs the bytes to S3; they never pass through this app.
3. Before the bytes are used (sent to the model) the object is checked again: it must exist, fit
   the size cap, carry the declared type and start like that type.

Downloads and previews go through this app (`GET /files/{id}?token=...`, see `links.py`) rather
than presigned GETs: S3 cannot send `X-Content-Type-Options: nosniff` or a sandboxing policy, and
the bucket need not be readable from browsers at all. boto3 calls that may touch the network run
in a worker thread so the event loop never blocks. `S3Files` holds the bytes (the store uses it
to refresh previews and delete a deleted thread's objects); `S3AttachmentStore` is ChatKit's
attachment store on top of it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import anyio
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from chatkit.store import NotFoundError
from chatkit.types import (
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FileAttachment,
    ImageAttachment,
)
from fastapi import Response
from fastapi.responses import StreamingResponse
from pydantic import AnyUrl

from ..context import RequestContext
from ..settings import Settings, origin_of
from ..stores.base import AppStore
from .base import ServedAttachmentStore, is_attachment_id, owner_key
from .links import UPLOAD_URL_TTL_SECONDS, FileLinks, access_error, download_headers
from .policy import SNIFF_BYTES, UploadPolicy, UploadRejected, is_previewable_image
from .signing import InvalidToken, TokenScopeError, UrlSigner

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

# Deadlines of every S3 call: botocore's defaults (60 s each, up to 5 attempts) let a hung
# endpoint hold a request for minutes.
S3_CONNECT_TIMEOUT = 5.0
S3_READ_TIMEOUT = 20.0
S3_MAX_ATTEMPTS = 2

CHUNK_BYTES = 64 * 1024
# DeleteObjects takes at most this many keys per call.
_DELETE_BATCH = 1000
_MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
AWS_S3_ORIGIN = "https://*.amazonaws.com"


class S3Files:
    """Attachment bytes in `bucket` under `<user key>/<attachment id>`, through presigned URLs."""

    def __init__(
        self,
        *,
        client: S3Client,
        bucket: str,
        policy: UploadPolicy,
        links: FileLinks,
        endpoint_url: str | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self._policy = policy
        self.links = links
        self.app_origin: str | None = links.origin
        # Uploads go to the bucket; virtual-hosted AWS URLs name the bucket and region in the
        # host, so any AWS host.
        upload_origin = origin_of(endpoint_url) if endpoint_url else AWS_S3_ORIGIN
        self.browser_origins: tuple[str, ...] = (links.origin, upload_origin)

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Files:
        """Build it from UPLOAD_BUCKET, S3_ENDPOINT_URL, AWS_* and the upload limits.

        Credentials left unset come from boto3's usual chain (environment, profile, role).
        """
        endpoint_url = settings.s3_endpoint_url
        secret = settings.aws_secret_access_key
        # S3-compatible servers are addressed by path: their hosts rarely resolve bucket names.
        addressing: Literal["path", "auto"] = "path" if endpoint_url else "auto"
        client = boto3.client(
            "s3",
            region_name=settings.aws_region,
            endpoint_url=endpoint_url,
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": addressing},
                connect_timeout=S3_CONNECT_TIMEOUT,
                read_timeout=S3_READ_TIMEOUT,
                retries={"mode": "standard", "total_max_attempts": S3_MAX_ATTEMPTS},
            ),
        )
        policy = UploadPolicy.create(settings.max_upload_bytes, settings.allowed_upload_types)
        signing = settings.signing_secret.get_secret_value().encode()
        return cls(
            client=client,
            bucket=settings.upload_bucket,
            policy=policy,
            links=FileLinks(UrlSigner(signing), settings.public_base_url),
            endpoint_url=endpoint_url,
        )

    async def read_bytes(self, attachment: Attachment, context: RequestContext) -> bytes:
        key = self.key(attachment.id, context)
        try:
            return await anyio.to_thread.run_sync(self._read_checked, key, attachment.mime_type)
        except UploadRejected as exc:
            logger.warning("Attachment %s breaks the upload policy: %s", attachment.id, exc)
            raise NotFoundError(f"Attachment {attachment.id} has no usable file.") from exc

    def refresh_urls(self, attachment: Attachment, context: RequestContext) -> Attachment:
        # Once created, an attachment is only loaded to be used: its upload phase is over, and
        # the server never learns when the client's PUT finished, so the descriptor goes here.
        update: dict[str, Any] = {"upload_descriptor": None}
        if isinstance(attachment, ImageAttachment) and is_attachment_id(attachment.id):
            update["preview_url"] = AnyUrl(
                self.links.signed_url(attachment.id, context, "download")
            )
        return attachment.model_copy(update=update)

    async def delete_files(
        self, attachments: Sequence[Attachment], context: RequestContext
    ) -> None:
        keys = [self.key(a.id, context) for a in attachments if is_attachment_id(a.id)]
        for start in range(0, len(keys), _DELETE_BATCH):
            objects: Any = [{"Key": key} for key in keys[start : start + _DELETE_BATCH]]
            response = await anyio.to_thread.run_sync(
                partial(
                    self.client.delete_objects,
                    Bucket=self.bucket,
                    Delete={"Objects": objects, "Quiet": True},
                )
            )
            for error in response.get("Errors", []):
                logger.warning("Could not delete %s: %s", error.get("Key"), error.get("Message"))

    def _read_checked(self, key: str, mime_type: str) -> bytes:
        """Fetch an object, checking its size and type before reading the body (worker thread)."""
        head, body = self.open_checked(key, mime_type)
        try:
            rest: bytes = body.read()
        finally:
            body.close()
        return head + rest

    def open_checked(self, key: str, mime_type: str) -> tuple[bytes, Any]:
        """An object's first bytes and its open body, once its size and type check out.

        Runs in a worker thread. The caller closes the body.
        """
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING_OBJECT_CODES:
                raise NotFoundError(f"Object {key} does not exist.") from exc
            raise
        body = response["Body"]
        try:
            self._policy.check_size(response["ContentLength"])
            head = body.read(SNIFF_BYTES)
            self._policy.check_received(mime_type, response.get("ContentType"), head)
        except BaseException:
            body.close()
            raise
        return head, body

    def key(self, attachment_id: str, context: RequestContext) -> str:
        """The object key of an attachment (NotFoundError for an id this app never made)."""
        if not is_attachment_id(attachment_id):
            raise NotFoundError(f"Attachment {attachment_id} not found.")
        return f"{owner_key(context.user_id)}/{attachment_id}"


class S3AttachmentStore(ServedAttachmentStore):
    """Presigned uploads straight to S3: records in the app's store, bytes in `S3Files`."""

    def __init__(self, *, records: AppStore, files: S3Files, policy: UploadPolicy) -> None:
        self._records = records
        self.files = files
        self._policy = policy

    async def create_attachment(
        self, input: AttachmentCreateParams, context: RequestContext
    ) -> Attachment:
        mime_type = self._policy.check_new(input.name, input.size, input.mime_type)
        attachment_id = self.generate_attachment_id(mime_type, context)
        params = {
            "Bucket": self.files.bucket,
            "Key": self.files.key(attachment_id, context),
            "ContentType": mime_type,
            "ContentLength": input.size,
        }
        # Signing may fetch credentials (instance role), so it runs off the event loop here.
        upload_url = await anyio.to_thread.run_sync(
            partial(
                self.files.client.generate_presigned_url,
                "put_object",
                Params=params,
                ExpiresIn=UPLOAD_URL_TTL_SECONDS,
            )
        )
        upload = AttachmentUploadDescriptor(
            url=AnyUrl(upload_url), method="PUT", headers={"Content-Type": mime_type}
        )
        if is_previewable_image(mime_type):
            preview_url = self.files.links.signed_url(attachment_id, context, "download")
            return ImageAttachment(
                id=attachment_id,
                name=input.name,
                mime_type=mime_type,
                upload_descriptor=upload,
                preview_url=AnyUrl(preview_url),
            )
        return FileAttachment(
            id=attachment_id, name=input.name, mime_type=mime_type, upload_descriptor=upload
        )

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        # The SDK does not check ownership: loading the record does (NotFoundError if foreign).
        await self._records.load_attachment(attachment_id, context)
        key = self.files.key(attachment_id, context)
        await anyio.to_thread.run_sync(
            partial(self.files.client.delete_object, Bucket=self.files.bucket, Key=key)
        )

    async def serve(self, attachment_id: str, token: str | None) -> Response:
        """Stream an uploaded object to the browser with this app's security headers."""
        try:
            context = self.files.links.authorize(attachment_id, token, "download")
            attachment = await self._records.load_attachment(attachment_id, context)
            key = self.files.key(attachment_id, context)
            head, body = await anyio.to_thread.run_sync(
                self.files.open_checked, key, attachment.mime_type
            )
        except (InvalidToken, TokenScopeError, NotFoundError, UploadRejected) as exc:
            return access_error(exc)
        headers = download_headers(attachment.name, attachment.mime_type)
        return StreamingResponse(
            _chunks(head, body), media_type=attachment.mime_type, headers=headers
        )


async def _chunks(head: bytes, body: Any) -> AsyncIterator[bytes]:
    """The object's bytes: the head already read, then the body chunk by chunk (threads)."""
    try:
        yield head
        while chunk := await anyio.to_thread.run_sync(body.read, CHUNK_BYTES):
            yield chunk
    finally:
        body.close()
