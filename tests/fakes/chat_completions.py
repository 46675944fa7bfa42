"""A fake Chat Completions API (``POST /v1/chat/completions``), streaming and not.

It stands in for the Gemini, LiteLLM and OpenAI-compatible providers: it answers with an echo of
the last user message, or with the tool call the message asks for (see ``echo.py``), streamed as
``chat.completion.chunk`` SSE events closed by ``data: [DONE]``, and records every request body
in ``FakeChatCompletionsServer.requests``.

    with FakeChatCompletionsServer() as fake:
        client = AsyncOpenAI(base_url=fake.base_url, api_key="test")
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .background import BackgroundServer
from .echo import (
    after_last_user,
    failure_body,
    last_user_text,
    reply_for,
    requested_call,
    text_deltas,
    tool_reply,
)

_USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def _chunk(
    completion_id: str, model: str, delta: dict[str, Any], finish_reason: str | None
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def _stream_chunks(body: dict[str, Any], reply: str) -> list[dict[str, Any]]:
    completion_id, model = f"chatcmpl-{uuid.uuid4().hex}", body.get("model", "fake-model")
    chunks = [_chunk(completion_id, model, {"role": "assistant", "content": ""}, None)]
    chunks += [
        _chunk(completion_id, model, {"content": delta}, None) for delta in text_deltas(reply)
    ]
    chunks.append(_chunk(completion_id, model, {}, "stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        usage_chunk = _chunk(completion_id, model, {}, None)
        usage_chunk.update(choices=[], usage=_USAGE)
        chunks.append(usage_chunk)
    return chunks


def _call_chunks(body: dict[str, Any], name: str, arguments: str) -> list[dict[str, Any]]:
    """The chunks of one streamed tool call: its id and name, then its arguments."""
    completion_id, model = f"chatcmpl-{uuid.uuid4().hex}", body.get("model", "fake-model")
    call_id = f"call_{uuid.uuid4().hex[:24]}"
    opening = {"index": 0, "id": call_id, "type": "function"}
    chunks = [
        _chunk(
            completion_id,
            model,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{**opening, "function": {"name": name, "arguments": ""}}],
            },
            None,
        ),
        _chunk(
            completion_id,
            model,
            {"tool_calls": [{"index": 0, "function": {"arguments": arguments}}]},
            None,
        ),
        _chunk(completion_id, model, {}, "tool_calls"),
    ]
    if (body.get("stream_options") or {}).get("include_usage"):
        usage_chunk = _chunk(completion_id, model, {}, None)
        usage_chunk.update(choices=[], usage=_USAGE)
        chunks.append(usage_chunk)
    return chunks


def _offered_tools(body: dict[str, Any]) -> set[str]:
    return {
        str(tool["function"].get("name"))
        for tool in body.get("tools") or []
        if isinstance(tool, dict) and isinstance(tool.get("function"), dict)
    }


def _tool_outputs(body: dict[str, Any]) -> list[str]:
    """Contents of the tool messages since the last user message, oldest first."""
    return [
        str(message.get("content"))
        for message in after_last_user(body.get("messages"))
        if message.get("role") == "tool"
    ]


async def _sse(chunks: list[dict[str, Any]]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield f"data: {json.dumps(chunk)}\n\n".encode()
    yield b"data: [DONE]\n\n"


def _completion(body: dict[str, Any], reply: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake-model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply},
                "finish_reason": "stop",
            }
        ],
        "usage": _USAGE,
    }


def create_app(requests: list[dict[str, Any]]) -> Starlette:
    """The fake API; every request body is appended to ``requests``."""

    async def chat_completions(request: Request) -> Response:
        body = await request.json()
        requests.append(body)
        user_text = last_user_text(body.get("messages"))
        error = failure_body(user_text)
        if error is not None:
            return JSONResponse(error, status_code=400)
        outputs = _tool_outputs(body)
        call = None if outputs else requested_call(user_text, _offered_tools(body))
        if call is not None:
            if not body.get("stream"):
                return JSONResponse({"error": {"message": "tool calls are streamed only"}}, 400)
            return StreamingResponse(
                _sse(_call_chunks(body, *call)), media_type="text/event-stream"
            )
        reply = tool_reply(outputs[-1]) if outputs else reply_for(user_text)
        if body.get("stream"):
            return StreamingResponse(
                _sse(_stream_chunks(body, reply)), media_type="text/event-stream"
            )
        return JSONResponse(_completion(body, reply))

    return Starlette(routes=[Route("/v1/chat/completions", chat_completions, methods=["POST"])])


class FakeChatCompletionsServer(BackgroundServer):
    """The fake Chat Completions API on a free loopback port; ``base_url`` ends in ``/v1``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        super().__init__(create_app(self.requests))

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"
