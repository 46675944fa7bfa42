"""HTTP routes: the single ChatKit endpoint and the health checks.

The endpoint reads the body under a size cap, hands it to the ChatKit server (which parses it
once and checks what it may touch, see `request_checks`), and turns refusals into status codes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated

from chatkit.server import StreamingResult
from chatkit.store import NotFoundError
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from .context import RequestContext
from .errors import ApiError, error_response, sse_error, unavailable_response
from .language import get_chat_context
from .metrics import Metrics
from .request_log import annotate
from .services import Services
from .stores import StoreUnavailable

logger = logging.getLogger(__name__)

router = APIRouter()

HEALTH_TIMEOUT_SECONDS = 5.0
# Keep proxies (nginx and friends) from buffering or caching the event stream.
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def current_services(request: Request) -> Services:
    """The services the app built at start-up."""
    services: Services = request.app.state.services
    return services


@router.post("/chatkit")
async def chatkit_endpoint(
    request: Request,
    context: Annotated[RequestContext, Depends(get_chat_context)],
    services: Annotated[Services, Depends(current_services)],
) -> Response:
    """The one ChatKit endpoint: JSON requests get JSON, streaming requests get SSE."""
    annotate(user=context.user_id)
    try:
        require_json(request)
        body = await read_body(request, services.settings.max_request_bytes)
        # One connection and transaction for the store calls made before the response (all of
        # a JSON request's; a stream's checks). The stream itself runs after, call by call.
        async with services.store.request_scope():
            result = await services.server.process(body, context)
    except ApiError as exc:
        return error_response(exc.status_code, exc.code, exc.message, exc.headers)
    except NotFoundError:
        return error_response(404, "not_found", "Not found.")
    except StoreUnavailable:
        logger.warning("ChatKit request refused: the database is unavailable", exc_info=True)
        return unavailable_response()
    except Exception:
        logger.exception("ChatKit request failed")
        return error_response(500, "internal_error", "Something went wrong.")
    if isinstance(result, StreamingResult):
        return StreamingResponse(
            guard_stream(result, services.metrics),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
    return Response(content=result.json, media_type="application/json")


@router.get("/health/live")
async def live() -> JSONResponse:
    """200 while the process serves requests (liveness: restart it when this fails)."""
    return JSONResponse(content={"status": "ok"})


@router.get("/health/ready")
@router.get("/health")
async def ready(services: Annotated[Services, Depends(current_services)]) -> JSONResponse:
    """200 when the database (and the limits' Redis) answer within the pool time-out, 503
    otherwise (readiness: send traffic elsewhere).

    The body reports the pool, e.g. `{"status": "ok", "pool": {"size": 10, "in_use": 3}}`;
    `busy` when no connection became free, `unavailable` when the database does not answer.
    """
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS):
            await services.store.ping()
            if services.limiter is not None:
                await services.limiter.counters.ping()
    except Exception:
        state = services.store.pool_state()
        status = "busy" if state.exhausted else "unavailable"
        logger.warning("Readiness check failed: the database or Redis is %s", status, exc_info=True)
        pool = {"size": state.size, "in_use": state.in_use}
        return JSONResponse(status_code=503, content={"status": status, "pool": pool})
    state = services.store.pool_state()
    return JSONResponse(
        content={"status": "ok", "pool": {"size": state.size, "in_use": state.in_use}}
    )


def require_json(request: Request) -> None:
    """Refuse bodies not declared as JSON (415).

    A page on another site can POST `text/plain` to this server without asking first (a "simple"
    cross-origin request); a JSON body needs the browser's CORS preflight, which only the
    origins in `CORS_ORIGINS` pass. Without auth this is what keeps other sites out.
    """
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(
            415, "unsupported_media_type", "Send the request as Content-Type: application/json."
        )


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


async def guard_stream(result: StreamingResult, metrics: Metrics) -> AsyncIterator[bytes]:
    """End a failing stream with a ChatKit `error` event instead of a dropped connection."""
    started = time.perf_counter()
    metrics.stream_started()
    try:
        async for chunk in result:
            yield chunk
    except NotFoundError:
        yield sse_error("Not found.", allow_retry=False)
    except Exception:
        # CancelledError (client gone) is not an Exception: it propagates, as it must.
        logger.exception("ChatKit stream failed")
        yield sse_error("Something went wrong.", allow_retry=True)
    finally:
        metrics.stream_ended(time.perf_counter() - started)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"The request body exceeds {limit} bytes.")
