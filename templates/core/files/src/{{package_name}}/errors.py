"""Error bodies of the HTTP API and the ChatKit error events that end a stream."""

from __future__ import annotations

from chatkit.types import ErrorEvent
from fastapi import Request, Response
from fastapi.responses import JSONResponse


class ApiError(Exception):
    """A request refused with an HTTP status and a JSON error body."""

    def __init__(
        self, status_code: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = headers


def error_response(
    status_code: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON error: `{"error": {"code": ..., "message": ...}}`."""
    return JSONResponse(
        status_code=status_code,
        content={"error": {"code": code, "message": message}},
        headers=headers,
    )


async def handle_api_error(request: Request, exc: Exception) -> Response:
    """Exception handler: an `ApiError` raised anywhere (e.g. by auth) as its JSON error."""
    assert isinstance(exc, ApiError)  # registered for ApiError only
    return error_response(exc.status_code, exc.code, exc.message, exc.headers)


RETRY_AFTER_SECONDS = 2
"""What a 503 for an unavailable database asks the client to wait (`Retry-After`)."""


def unavailable_response() -> JSONResponse:
    """503 for a database that cannot be reached or has no free connection: retry shortly."""
    return error_response(
        503,
        "unavailable",
        "The service is busy or its database is unavailable; retry shortly.",
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def handle_store_unavailable(request: Request, exc: Exception) -> Response:
    """Exception handler: `StoreUnavailable` raised by any route as a 503."""
    return unavailable_response()


def sse_error(message: str, *, allow_retry: bool) -> bytes:
    """A final ChatKit `error` event, encoded as one server-sent event."""
    event = ErrorEvent(code="custom", message=message, allow_retry=allow_retry)
    return b"data: " + event.model_dump_json(by_alias=True, exclude_none=True).encode() + b"\n\n"
