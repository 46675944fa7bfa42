"""Streams an upload request body to disk under a size cap.

A `multipart/form-data` body must carry the file in the field `file` (what the ChatKit client
sends with POST); any other body is the file itself (PUT of raw bytes). The cap is enforced while
reading, so an oversized upload is refused before it is ever held in memory or fully on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from .policy import SNIFF_BYTES, invalid, too_large

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

FILE_FIELD = b"file"

# Room for boundaries, part headers and small extra fields around the file in a multipart body.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class ReceivedFile:
    """What was written: size, the content type the client gave, and the first bytes."""

    size: int
    content_type: str | None
    head: bytes


class _MultipartFile:
    """Extracts the field `file` from a multipart body fed to it chunk by chunk."""

    def __init__(self, boundary: bytes) -> None:
        self.content_type: str | None = None
        self._found = self._complete = self._in_file = False
        self._pending: list[bytes] = []
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, str] = {}
        self._parser = MultipartParser(boundary, self._callbacks())

    def feed(self, chunk: bytes) -> bytes:
        """Parse the next chunk of the body; returns the file bytes it contained."""
        try:
            self._parser.write(chunk)
        except FormParserError as exc:
            raise invalid("The multipart body is malformed.") from exc
        data = b"".join(self._pending)
        self._pending.clear()
        return data

    def finish(self) -> None:
        """Check, once the body is over, that it held one complete file."""
        if not self._found:
            raise invalid("The multipart body has no field 'file'.")
        if not self._complete:
            raise invalid("The multipart body is incomplete.")

    def _callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._headers.clear,
            "on_header_field": lambda data, start, end: self._header_name.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._header_value.extend(data[start:end]),
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
        }

    def _on_header_end(self) -> None:
        name = self._header_name.decode("latin-1").strip().lower()
        self._headers[name] = self._header_value.decode("latin-1").strip()
        self._header_name.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition"))
        if params.get(b"name") != FILE_FIELD:
            return
        if self._found:
            raise invalid("Send exactly one file in the multipart field 'file'.")
        self._found = self._in_file = True
        self.content_type = self._headers.get("content-type")

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._pending.append(data[start:end])

    def _on_part_end(self) -> None:
        if self._in_file:
            self._complete = True
            self._in_file = False


async def receive_upload(request: Request, destination: Path, max_bytes: int) -> ReceivedFile:
    """Write the uploaded file to `destination`; raises `UploadRejected` (413 or 400).

    On error `destination` may hold partial data: the caller removes it.
    """
    content_type = request.headers.get("content-type")
    media_type, params = parse_options_header(content_type)
    multipart: _MultipartFile | None = None
    body_cap = max_bytes
    if media_type == b"multipart/form-data":
        boundary = params.get(b"boundary")
        if not boundary:
            raise invalid("The multipart body has no boundary.")
        multipart = _MultipartFile(boundary)
        body_cap += MULTIPART_OVERHEAD_BYTES

    declared_length = request.headers.get("content-length", "")
    if declared_length.isdigit() and int(declared_length) > body_cap:
        raise too_large(max_bytes)

    received = size = 0
    head = b""
    async with await anyio.open_file(destination, "wb") as out:
        try:
            async for chunk in request.stream():
                received += len(chunk)
                if received > body_cap:
                    raise too_large(max_bytes)
                data = multipart.feed(chunk) if multipart else chunk
                size += len(data)
                if size > max_bytes:
                    raise too_large(max_bytes)
                head += data[: max(0, SNIFF_BYTES - len(head))]
                await out.write(data)
        except ClientDisconnect as exc:
            raise invalid("The upload was interrupted before it finished.") from exc

    if multipart is None:
        return ReceivedFile(size=size, content_type=content_type, head=head)
    multipart.finish()
    return ReceivedFile(size=size, content_type=multipart.content_type, head=head)
