"""Signed, expiring links to this app's file URLs, and the answers of the file routes.

Every attachment is downloaded through `GET /files/{id}?token=...` (both file stores), so every
file the app hands out carries `X-Content-Type-Options: nosniff`, a sandboxing
Content-Security-Policy and a safe `Content-Disposition`; the local file store also receives
uploads at `/files/{id}/upload`. A browser cannot send an `Authorization` header from an
`<img>` tag, so each URL carries a token bound to one attachment, one user and one purpose.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from chatkit.store import NotFoundError
from fastapi.responses import JSONResponse

from ..context import RequestContext
from ..errors import error_response
from ..settings import origin_of
from .base import is_attachment_id
from .policy import UploadRejected, is_previewable_image
from .signing import InvalidToken, Purpose, TokenScopeError, UrlSigner

UPLOAD_URL_TTL_SECONDS = 60 * 60
DOWNLOAD_URL_TTL_SECONDS = 12 * 60 * 60

DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, max-age=3600",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


class FileLinks:
    """Signs and checks the URLs of `PUBLIC_BASE_URL/files/...`."""

    def __init__(self, signer: UrlSigner, public_base_url: str) -> None:
        self._signer = signer
        self.base_url = public_base_url.rstrip("/")
        self.origin = origin_of(self.base_url)

    def signed_url(self, attachment_id: str, context: RequestContext, purpose: Purpose) -> str:
        """An absolute URL to upload or download the attachment, with its own token."""
        ttl = UPLOAD_URL_TTL_SECONDS if purpose == "upload" else DOWNLOAD_URL_TTL_SECONDS
        token = self._signer.sign(attachment_id, context.user_id, purpose, ttl)
        suffix = "/upload" if purpose == "upload" else ""
        return f"{self.base_url}/files/{attachment_id}{suffix}?{urlencode({'token': token})}"

    def authorize(self, attachment_id: str, token: str | None, purpose: Purpose) -> RequestContext:
        """The context of the user a token was issued to, for this attachment and purpose."""
        if not is_attachment_id(attachment_id):
            raise NotFoundError(f"Attachment {attachment_id} not found.")
        if not token:
            raise InvalidToken("A file token is required.")
        return RequestContext(user_id=self._signer.verify(token, attachment_id, purpose))


def download_headers(name: str, mime_type: str) -> dict[str, str]:
    """The headers of a served file: inline only for previewable images, never sniffed."""
    kind = "inline" if is_previewable_image(mime_type) else "attachment"
    plain = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    disposition = f'{kind}; filename="{plain}"'
    if plain != name:  # the exact name too, for browsers that read RFC 5987
        disposition += f"; filename*=UTF-8''{quote(name, safe='')}"
    return {**DOWNLOAD_HEADERS, "Content-Disposition": disposition}


def access_error(exc: Exception) -> JSONResponse:
    """The JSON error for a refused file request."""
    if isinstance(exc, UploadRejected):
        return error_response(exc.status_code, exc.code, exc.message)
    if isinstance(exc, InvalidToken):
        return error_response(401, "unauthorized", str(exc))
    if isinstance(exc, TokenScopeError):
        return error_response(403, "forbidden", str(exc))
    return error_response(404, "not_found", "Attachment not found.")
