"""One log line per HTTP request: request id, ChatKit op, user, status and duration.

`RequestLogMiddleware` gives every request an id (the caller's `X-Request-ID` when it is a
plain token, a new one otherwise), returns it in the `X-Request-ID` response header, and logs
one INFO line when the response is complete (for a stream, when its last event is sent). The
endpoint adds what only it knows with `annotate(op=..., user=...)`. The line carries no body,
no message text, no query string (signed file URLs hold tokens there) and no headers.

`RequestIdFilter` adds the id to every log record written while the request runs, so an error
logged deep inside a turn can be matched with its request line, and with tracing on the id of
the current trace. With `LOG_FORMAT=json`, `JsonFormatter` writes each record as one JSON
object, the request line's fields (`op`, `user`, `status`, `duration_ms`...) as keys of their
own. When the request is complete, the app's `RequestObserver` (the metrics) hears of it too.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from opentelemetry import trace
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: The fields of the request line, given to the log record as attributes of their own.
REQUEST_FIELDS = ("method", "path", "op", "user", "status", "duration_ms")


class RequestObserver(Protocol):
    """Hears of every completed request (the metrics); kept on `app.state.request_observer`."""

    def request_done(self, op: str, status: int, seconds: float) -> None: ...


@dataclass
class RequestRecord:
    """What the request line says; the endpoint fills in `op` and `user`."""

    request_id: str
    op: str = "-"
    user: str = "-"


_current: ContextVar[RequestRecord | None] = ContextVar("request_record", default=None)


def annotate(*, op: str | None = None, user: str | None = None) -> None:
    """Record the ChatKit op or the user of the current request (no-op outside a request)."""
    record = _current.get()
    if record is None:
        return
    if op is not None:
        record.op = op
    if user is not None:
        record.user = user


def current_request_id() -> str | None:
    """The id of the request being served, if any."""
    record = _current.get()
    return record.request_id if record is not None else None


def request_id_from(scope: Scope) -> str:
    """The caller's `X-Request-ID` when it is a plain token, else a new random id."""
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == REQUEST_ID_HEADER.encode():
            given = value.decode("latin-1")
            if _VALID_REQUEST_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


class RequestLogMiddleware:
    """Pure ASGI middleware (streams pass through untouched) that logs each HTTP request once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record = RequestRecord(request_id_from(scope))
        token = _current.set(record)
        started = time.perf_counter()
        status = 500  # what the server answers when the app fails before responding

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = record.request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            fields = {
                "method": scope["method"],
                "path": scope["path"],
                "op": record.op,
                "user": record.user,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
            }
            logger.info(
                "%s %s op=%s user=%s status=%d duration_ms=%.1f",
                *fields.values(),
                extra=fields,
            )
            observer: RequestObserver | None = getattr(scope["app"].state, "request_observer", None)
            if observer is not None:
                observer.request_done(record.op, status, seconds)
            _current.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` ("-" outside a request) to every record, and `trace_id` when traced.

    `trace_id` is the current OpenTelemetry trace in hex, or "-" outside one.
    """

    def __init__(self, *, traced: bool = False) -> None:
        super().__init__()
        self.traced = traced

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        if self.traced:
            span = trace.get_current_span().get_span_context()
            record.trace_id = trace.format_trace_id(span.trace_id) if span.is_valid else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id, trace id, and the
    request line's fields. Exceptions come as their formatted traceback under `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("request_id", "trace_id", *REQUEST_FIELDS):
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class QueryStringFilter(logging.Filter):
    """Strips query strings from uvicorn's access lines: signed file URLs carry tokens there.

    uvicorn logs `(client, method, path with query, http version, status)`; the path keeps its
    path part only. (The access log shows with `LOG_LEVEL=DEBUG`; the request line never has
    a query string.)
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True
