"""HTTP routes: the single ChatKit endpoint (hardened) and the health check."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from chatkit.server import ChatKitServer, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    ChatKitReq,
    ClientToolCallItem,
    InputTranscribeReq,
    ItemsFeedbackReq,
    ItemsListReq,
    StructuredInputItem,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsDeleteReq,
    ThreadsGetByIdReq,
    ThreadsListReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    ThreadsUpdateReq,
    UserMessageItem,
    WidgetItem,
)
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import TypeAdapter, ValidationError

from .auth import get_request_context
from .context import RequestContext
from .errors import ApiError, error_response, sse_error
from .server import AppChatKitServer
from .settings import Settings
from .stores.base import AppStore

logger = logging.getLogger(__name__)

router = APIRouter()

REQUEST_ADAPTER: TypeAdapter[ChatKitReq] = TypeAdapter(ChatKitReq)
MAX_TITLE_LENGTH = 200
# The ChatKit composer's own default limit; every attachment is re-read for each turn.
MAX_ATTACHMENTS_PER_MESSAGE = 10
HEALTH_TIMEOUT_SECONDS = 5.0
# Keep proxies (nginx and friends) from buffering or caching the event stream.
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def current_server(request: Request) -> AppChatKitServer:
    server: AppChatKitServer = request.app.state.server
    return server


def current_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post("/chatkit")
async def chatkit_endpoint(
    request: Request,
    context: Annotated[RequestContext, Depends(get_request_context)],
    server: Annotated[AppChatKitServer, Depends(current_server)],
    settings: Annotated[Settings, Depends(current_settings)],
) -> Response:
    """The one ChatKit endpoint: JSON requests get JSON, streaming requests get SSE."""
    try:
        body = await read_body(request, settings.max_request_bytes)
        await check_request(parse_request(body), server, context)
        result = await server.process(body, context)
    except ApiError as exc:
        return error_response(exc.status_code, exc.code, exc.message, exc.headers)
    except NotFoundError:
        return error_response(404, "not_found", "Not found.")
    except Exception:
        logger.exception("ChatKit request failed")
        return error_response(500, "internal_error", "Something went wrong.")
    if isinstance(result, StreamingResult):
        return StreamingResponse(
            guard_stream(result), media_type="text/event-stream", headers=SSE_HEADERS
        )
    return Response(content=result.json, media_type="application/json")


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """200 when the database answers, 503 otherwise."""
    store: AppStore = request.app.state.store
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS):
            await store.ping()
    except Exception:
        logger.warning("Health check failed: the database does not answer", exc_info=True)
        return JSONResponse(status_code=503, content={"status": "unavailable"})
    return JSONResponse(content={"status": "ok"})


async def read_body(request: Request, limit: int) -> bytes:
    """Read the body chunk by chunk, refusing it as soon as it exceeds `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "invalid_request", "Invalid Content-Length header.")
        if int(declared) > limit:
            raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def parse_request(body: bytes) -> ChatKitReq:
    """Validate the body as a ChatKit request; 400 with the first problem otherwise."""
    try:
        return REQUEST_ADAPTER.validate_json(body)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False, include_context=False)[0]
        location = ".".join(str(part) for part in error["loc"])
        message = f"{location}: {error['msg']}" if location else error["msg"]
        raise ApiError(400, "invalid_request", message) from exc


async def check_request(
    request: ChatKitReq, server: AppChatKitServer, context: RequestContext
) -> None:
    """Refuse what the ChatKit server would turn into a 500 or a dead stream.

    Every thread, item and attachment a request names must exist and belong to the caller
    (404), features that are not configured answer 501, and items must be of the kind the
    request expects (400).
    """
    store = server.store
    match request:
        case ThreadsCreateReq():
            await _check_attachments(request.params.input.attachments, None, server, context)
        case ThreadsAddUserMessageReq():
            await store.load_thread(request.params.thread_id, context)
            await _check_attachments(
                request.params.input.attachments, request.params.thread_id, server, context
            )
        case ThreadsAddClientToolOutputReq():
            await store.load_thread(request.params.thread_id, context)
            last = await store.load_thread_items(request.params.thread_id, None, 1, "desc", context)
            if not any(
                isinstance(item, ClientToolCallItem) and item.status == "pending"
                for item in last.data
            ):
                raise ApiError(400, "invalid_request", "No client tool call is waiting for output.")
        case ThreadsAddStructuredInputReq():
            await store.load_thread(request.params.thread_id, context)
            item = await store.load_item(request.params.thread_id, request.params.item_id, context)
            if not isinstance(item, StructuredInputItem) or item.status != "pending":
                raise ApiError(
                    400, "invalid_request", "That item is not awaiting structured input."
                )
        case ThreadsRetryAfterItemReq():
            await store.load_thread(request.params.thread_id, context)
            item = await store.load_item(request.params.thread_id, request.params.item_id, context)
            if not isinstance(item, UserMessageItem):
                raise ApiError(400, "invalid_request", "Only a user message can be retried.")
        case ThreadsCustomActionReq() | ThreadsSyncCustomActionReq():
            method = "action" if isinstance(request, ThreadsCustomActionReq) else "sync_action"
            _require_override(server, method, "Widget actions are not enabled: override action().")
            await store.load_thread(request.params.thread_id, context)
            if request.params.item_id is not None:
                sender = await store.load_item(
                    request.params.thread_id, request.params.item_id, context
                )
                if not isinstance(sender, WidgetItem):
                    raise ApiError(400, "invalid_request", "Actions must come from a widget.")
        case ThreadsGetByIdReq() | ItemsListReq() | ThreadsDeleteReq():
            await store.load_thread(request.params.thread_id, context)
        case ThreadsUpdateReq():
            if len(request.params.title) > MAX_TITLE_LENGTH:
                raise ApiError(
                    400, "invalid_request", f"A title is at most {MAX_TITLE_LENGTH} characters."
                )
            await store.load_thread(request.params.thread_id, context)
        case ItemsFeedbackReq():
            await store.load_thread(request.params.thread_id, context)
            for item_id in request.params.item_ids:
                await store.load_item(request.params.thread_id, item_id, context)
        case AttachmentsCreateReq():
            _require_attachments(server)
        case AttachmentsDeleteReq():
            _require_attachments(server)
            await store.load_attachment(request.params.attachment_id, context)
        case InputTranscribeReq():
            _require_override(server, "transcribe", "Dictation is off: override transcribe().")
        case ThreadsListReq():
            pass


async def guard_stream(result: StreamingResult) -> AsyncIterator[bytes]:
    """End a failing stream with a ChatKit `error` event instead of a dropped connection."""
    try:
        async for chunk in result:
            yield chunk
    except NotFoundError:
        yield sse_error("Not found.", allow_retry=False)
    except Exception:
        # CancelledError (client gone) is not an Exception: it propagates, as it must.
        logger.exception("ChatKit stream failed")
        yield sse_error("Something went wrong.", allow_retry=True)


async def _check_attachments(
    attachment_ids: list[str],
    thread_id: str | None,
    server: AppChatKitServer,
    context: RequestContext,
) -> None:
    """Each attachment must be the caller's and unbound or bound to `thread_id` already.

    Deleting a thread deletes its attachments, so one shared with another thread would vanish
    from that thread's messages.
    """
    if not attachment_ids:
        return
    _require_attachments(server)
    if len(attachment_ids) > MAX_ATTACHMENTS_PER_MESSAGE:
        raise ApiError(
            400,
            "invalid_request",
            f"A message has at most {MAX_ATTACHMENTS_PER_MESSAGE} attachments.",
        )
    for attachment_id in attachment_ids:
        attachment = await server.store.load_attachment(attachment_id, context)
        if attachment.thread_id is not None and attachment.thread_id != thread_id:
            raise ApiError(
                400,
                "invalid_request",
                f"Attachment {attachment_id} already belongs to another thread; "
                "upload the file again to use it here.",
            )


def _require_attachments(server: AppChatKitServer) -> None:
    if server.attachment_store is None:
        raise ApiError(501, "not_implemented", "File uploads are not configured.")


def _require_override(server: AppChatKitServer, method: str, message: str) -> None:
    if getattr(type(server), method) is getattr(ChatKitServer, method):
        raise ApiError(501, "not_implemented", message)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"The request body exceeds {limit} bytes.")
