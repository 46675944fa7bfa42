"""A fake OpenAI Responses API (``POST /v1/responses``), streaming and not.

It answers every request with an echo of the last user message, or with the tool call the
message asks for (see ``echo.py``), streamed as the same SSE event sequences the real API sends
for a text reply and for a function call, and records every request body in
``FakeResponsesServer.requests`` so tests can assert what history the model received.

    with FakeResponsesServer() as fake:
        client = AsyncOpenAI(base_url=fake.base_url, api_key="test")
"""

from __future__ import annotations

import asyncio
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
    CUT_MARKER,
    HANG_MARKER,
    SLOW_MARKER,
    after_last_user,
    failure_body,
    last_user_text,
    reply_for,
    requested_call,
    text_deltas,
    tool_reply,
)

_USAGE = {
    "input_tokens": 10,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 5,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 15,
}


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _response_object(
    response_id: str, body: dict[str, Any], status: str, output: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": body.get("model", "fake-model"),
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": _USAGE if status == "completed" else None,
    }


def _message(message_id: str, text: str | None) -> dict[str, Any]:
    """An assistant output message: in progress (no content yet) while ``text`` is None."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "status": "in_progress" if text is None else "completed",
        "content": []
        if text is None
        else [{"type": "output_text", "text": text, "annotations": []}],
    }


def _stream_events(body: dict[str, Any], reply: str) -> list[dict[str, Any]]:
    """The Responses SSE events of one text reply, in the order the real API sends them."""
    response_id, message_id = _new_id("resp"), _new_id("msg")
    part = {"type": "output_text", "text": "", "annotations": []}
    done_message = _message(message_id, reply)
    located = {"item_id": message_id, "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {
            "type": "response.created",
            "response": _response_object(response_id, body, "in_progress", []),
        },
        {
            "type": "response.in_progress",
            "response": _response_object(response_id, body, "in_progress", []),
        },
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": _message(message_id, None),
        },
        {"type": "response.content_part.added", **located, "part": part},
    ]
    events += [
        {"type": "response.output_text.delta", **located, "delta": delta, "logprobs": []}
        for delta in text_deltas(reply)
    ]
    events += [
        {"type": "response.output_text.done", **located, "text": reply, "logprobs": []},
        {"type": "response.content_part.done", **located, "part": {**part, "text": reply}},
        {"type": "response.output_item.done", "output_index": 0, "item": done_message},
        {
            "type": "response.completed",
            "response": _response_object(response_id, body, "completed", [done_message]),
        },
    ]
    return [{**event, "sequence_number": number} for number, event in enumerate(events)]


def _function_call(item_id: str, call_id: str, name: str, arguments: str | None) -> dict[str, Any]:
    """A function call output item: in progress (no arguments yet) while ``arguments`` is None."""
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments or "",
        "status": "in_progress" if arguments is None else "completed",
    }


def _call_events(body: dict[str, Any], name: str, arguments: str) -> list[dict[str, Any]]:
    """The Responses SSE events of one function call, in the order the real API sends them."""
    response_id, item_id, call_id = _new_id("resp"), _new_id("fc"), _new_id("call")
    done = _function_call(item_id, call_id, name, arguments)
    located = {"item_id": item_id, "output_index": 0}
    events: list[dict[str, Any]] = [
        {
            "type": "response.created",
            "response": _response_object(response_id, body, "in_progress", []),
        },
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": _function_call(item_id, call_id, name, None),
        },
        {"type": "response.function_call_arguments.delta", **located, "delta": arguments},
        {
            "type": "response.function_call_arguments.done",
            **located,
            "arguments": arguments,
            "name": name,
        },
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        {
            "type": "response.completed",
            "response": _response_object(response_id, body, "completed", [done]),
        },
    ]
    return [{**event, "sequence_number": number} for number, event in enumerate(events)]


def _offered_tools(body: dict[str, Any]) -> set[str]:
    return {
        str(tool.get("name"))
        for tool in body.get("tools") or []
        if isinstance(tool, dict) and tool.get("type") == "function"
    }


def _tool_outputs(body: dict[str, Any]) -> list[str]:
    """Outputs of the tool calls made since the last user message, oldest first."""
    outputs = []
    for item in after_last_user(body.get("input")):
        if item.get("type") == "function_call_output":
            output = item.get("output")
            outputs.append(output if isinstance(output, str) else json.dumps(output))
    return outputs


async def _sse(events: list[dict[str, Any]], fault: str | None = None) -> AsyncIterator[bytes]:
    """The events as SSE; `fault` (a marker of `echo`) makes the stream hang, slow or cut."""
    for number, event in enumerate(events):
        if fault == SLOW_MARKER:
            await asyncio.sleep(0.2)
        if fault == CUT_MARKER and number == 6:
            raise ConnectionResetError("the fake provider dropped the connection")
        yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
        if fault == HANG_MARKER:
            await asyncio.Event().wait()


def _fault(user_text: str) -> str | None:
    return next((m for m in (HANG_MARKER, SLOW_MARKER, CUT_MARKER) if m in user_text), None)


def create_app(requests: list[dict[str, Any]]) -> Starlette:
    """The fake API; every request body is appended to ``requests``."""

    async def responses(request: Request) -> Response:
        body = await request.json()
        requests.append(body)
        user_text = last_user_text(body.get("input"))
        error = failure_body(user_text)
        if error is not None:
            return JSONResponse(error, status_code=400)
        outputs = _tool_outputs(body)
        call = None if outputs else requested_call(user_text, _offered_tools(body))
        if call is not None:
            events = _call_events(body, *call)
            if body.get("stream"):
                return StreamingResponse(_sse(events), media_type="text/event-stream")
            return JSONResponse(events[-1]["response"])
        reply = tool_reply(outputs[-1]) if outputs else reply_for(user_text)
        if body.get("stream"):
            return StreamingResponse(
                _sse(_stream_events(body, reply), _fault(user_text)),
                media_type="text/event-stream",
            )
        message = _message(_new_id("msg"), reply)
        return JSONResponse(_response_object(_new_id("resp"), body, "completed", [message]))

    return Starlette(routes=[Route("/v1/responses", responses, methods=["POST"])])


class FakeResponsesServer(BackgroundServer):
    """The fake Responses API on a free loopback port; ``base_url`` ends in ``/v1``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        super().__init__(create_app(self.requests))

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"
