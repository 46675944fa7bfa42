"""Limits on request headers: at most `MAX_HEADERS` lines and `MAX_HEADER_BYTES` in all (431).

The run commands (README, Dockerfile) serve with uvicorn's h11 parser and
`--h11-max-incomplete-event-size 32768`, which refuses a request head over 32 KiB while it is
being received, before it is held in memory (httptools, uvicorn's default parser, has no such
limit). A head that arrives whole within one read reaches the app; this middleware refuses it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import error_response

MAX_HEADERS = 100
MAX_HEADER_BYTES = 32768


class HeaderLimits:
    """ASGI middleware: 431 for a request with too many or too large headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers: list[tuple[bytes, bytes]] = scope["headers"]
            size = sum(len(name) + len(value) for name, value in headers)
            if len(headers) > MAX_HEADERS or size > MAX_HEADER_BYTES:
                message = (
                    f"A request carries at most {MAX_HEADERS} headers"
                    f" and {MAX_HEADER_BYTES} bytes of them."
                )
                response = error_response(431, "headers_too_large", message)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
