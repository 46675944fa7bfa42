"""A tiny image to upload, and the image parts a recorded model request carried."""

from __future__ import annotations

import struct
import zlib
from typing import Any


def tiny_png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def images_sent(body: dict[str, Any]) -> list[str]:
    """Image URLs of every image part in a recorded model request.

    Reads both wire formats: Responses (``input`` with ``input_image`` parts) and Chat Completions
    (``messages`` with ``image_url`` parts).
    """
    found = []
    for message in [*body.get("input", []), *body.get("messages", [])]:
        if isinstance(message, dict) and isinstance(message.get("content"), list):
            for part in message["content"]:
                if part.get("type") == "input_image":
                    found.append(part["image_url"])
                elif part.get("type") == "image_url":
                    found.append(part["image_url"]["url"])
    return found
