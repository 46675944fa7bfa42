"""Error bodies of the HTTP API and the ChatKit error events that end a stream."""

from __future__ import annotations

from chatkit.types import ErrorEvent
from fastapi.responses import JSONResponse


class ApiError(Exception):
    """A request refused with an HTTP status and a JSON error body."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message


def error_response(status_code: int, code: str, message: str) -> JSONResponse:
    """A JSON error: `{"error": {"code": ..., "message": ...}}`."""
    return JSONResponse(
        status_code=status_code, content={"error": {"code": code, "message": message}}
    )


def sse_error(message: str, *, allow_retry: bool) -> bytes:
    """A final ChatKit `error` event, encoded as one server-sent event."""
    event = ErrorEvent(code="custom", message=message, allow_retry=allow_retry)
    return b"data: " + event.model_dump_json(by_alias=True, exclude_none=True).encode() + b"\n\n"
