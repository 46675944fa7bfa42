"""HMAC-SHA256 signed, expiring URL tokens for the upload and download routes.

A browser cannot send an `Authorization` header from an `<img>` tag, so every file URL carries a
token bound to one attachment, one user and one purpose. The token holds those claims in clear
(base64url JSON) followed by their signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Literal

Purpose = Literal["upload", "download"]

# Expiry times are rounded up to this step, so a URL stays the same across reloads for a while
# and browsers can cache the previews.
_EXPIRY_STEP_SECONDS = 300


class InvalidToken(Exception):
    """A token that is malformed, forged or expired (HTTP 401)."""


class TokenScopeError(Exception):
    """A genuine token presented for another attachment or purpose (HTTP 403)."""


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UrlSigner:
    """Signs and verifies file URL tokens with one secret key."""

    def __init__(self, secret: bytes, *, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._clock = clock

    def sign(self, attachment_id: str, user_id: str, purpose: Purpose, ttl_seconds: int) -> str:
        """A token granting `purpose` on `attachment_id` to `user_id` for about `ttl_seconds`."""
        deadline = int(self._clock()) + ttl_seconds
        expires = -(-deadline // _EXPIRY_STEP_SECONDS) * _EXPIRY_STEP_SECONDS
        claims = {"a": attachment_id, "u": user_id, "p": purpose, "e": expires}
        payload = _encode(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        return f"{payload}.{self._signature(payload)}"

    def verify(self, token: str, attachment_id: str, purpose: Purpose) -> str:
        """Check a token for `purpose` on `attachment_id`; returns the user it was issued to."""
        payload, _, signature = token.partition(".")
        if not hmac.compare_digest(signature.encode(), self._signature(payload).encode()):
            raise InvalidToken("The file token is invalid.")
        try:
            claims = json.loads(_decode(payload))
            granted_id, user_id = str(claims["a"]), str(claims["u"])
            granted_purpose, expires = str(claims["p"]), int(claims["e"])
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
            raise InvalidToken("The file token is invalid.") from exc
        if expires < self._clock():
            raise InvalidToken("The file token has expired.")
        if granted_id != attachment_id or granted_purpose != purpose:
            raise TokenScopeError("The file token does not grant access to this file.")
        return user_id

    def _signature(self, payload: str) -> str:
        digest = hmac.new(self._secret, payload.encode(), hashlib.sha256).digest()
        return _encode(digest)
