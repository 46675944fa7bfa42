"""Upload policy shared by every attachment backend: size cap, MIME allowlist, content checks.

Store code raises `UploadRejected`, an `ApiError` that the HTTP layer (the `/chatkit` endpoint and
the upload route) answers with its status code and a JSON error body.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import ApiError

MAX_NAME_LENGTH = 255

# Images shown inline (previews). Anything else, SVG included (it can carry scripts), is a file.
PREVIEWABLE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

# Types a browser may send when it does not know better; the declared type is used instead.
GENERIC_CONTENT_TYPES = frozenset({"", "application/octet-stream"})

# Leading bytes of binary formats, checked so a file cannot claim to be what it is not.
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}

# Bytes needed from the start of a file to run `check_content`.
SNIFF_BYTES = 16


class UploadRejected(ApiError):
    """An attachment that breaks the upload policy (413 too large, 400 otherwise)."""


def too_large(max_bytes: int) -> UploadRejected:
    """The rejection for a file over the size cap."""
    return UploadRejected(413, "payload_too_large", f"Files are limited to {max_bytes} bytes.")


def invalid(message: str) -> UploadRejected:
    """The rejection for any other policy violation."""
    return UploadRejected(400, "invalid_upload", message)


def normalize_mime_type(value: str) -> str:
    """`Text/Plain; charset=utf-8` -> `text/plain`."""
    return value.split(";", 1)[0].strip().lower()


def is_previewable_image(mime_type: str) -> bool:
    """Whether the attachment is an image the client may show inline."""
    return mime_type in PREVIEWABLE_IMAGE_TYPES


@dataclass(frozen=True)
class UploadPolicy:
    """The limits every upload must respect."""

    max_bytes: int
    allowed_types: frozenset[str]

    @classmethod
    def create(cls, max_bytes: int, allowed_types: Iterable[str]) -> UploadPolicy:
        """Build a policy, normalizing the allowlist."""
        return cls(max_bytes, frozenset(normalize_mime_type(t) for t in allowed_types if t.strip()))

    def check_new(self, name: str, size: int, mime_type: str) -> str:
        """Validate the metadata of `attachments.create`; returns the normalized MIME type."""
        if not name.strip():
            raise invalid("The file name is empty.")
        if len(name) > MAX_NAME_LENGTH:
            raise invalid(f"File names are limited to {MAX_NAME_LENGTH} characters.")
        if size < 0:
            raise invalid("The file size cannot be negative.")
        self.check_size(size)
        return self.check_type(mime_type)

    def check_size(self, size: int) -> None:
        """Refuse a size over the cap."""
        if size > self.max_bytes:
            raise too_large(self.max_bytes)

    def check_type(self, mime_type: str) -> str:
        """Refuse a MIME type outside the allowlist; returns it normalized."""
        normalized = normalize_mime_type(mime_type)
        if normalized not in self.allowed_types:
            allowed = ", ".join(sorted(self.allowed_types))
            raise invalid(f"Files of type {mime_type!r} are not accepted (allowed: {allowed}).")
        return normalized

    def check_received(self, declared: str, content_type: str | None, head: bytes) -> None:
        """Check uploaded bytes against the type declared when the attachment was created.

        `content_type` is what the upload request said; `head` the first `SNIFF_BYTES` bytes.
        """
        received = normalize_mime_type(content_type or "")
        if received not in GENERIC_CONTENT_TYPES and received != declared:
            raise invalid(
                f"The upload is {received!r} but the attachment was declared {declared!r}."
            )
        self.check_type(declared)
        check_content(declared, head)


def check_content(mime_type: str, head: bytes) -> None:
    """Refuse bytes whose signature contradicts a binary MIME type."""
    if mime_type == "image/webp":
        matches = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    else:
        signatures = _SIGNATURES.get(mime_type)
        matches = signatures is None or head.startswith(signatures)
    if not matches:
        raise invalid(f"The file content is not valid {mime_type}.")
