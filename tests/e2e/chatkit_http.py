"""Talk to a running ChatKit server over HTTP: requests, SSE parsing, event helpers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

_TIMEOUT = httpx.Timeout(60.0)


def user_input(text: str) -> dict[str, Any]:
    """A ChatKit ``UserMessageInput`` holding ``text``."""
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


def post_stream(
    base_url: str, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """POST a streaming ChatKit request; return its SSE events (each ``data:`` line as JSON)."""
    events = []
    with httpx.stream(
        "POST", f"{base_url}/chatkit", json=body, headers=headers, timeout=_TIMEOUT
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
            else:
                assert line == "", f"unexpected SSE line: {line!r}"
    return events


def post_json(base_url: str, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> Any:
    """POST a non-streaming ChatKit request; return its JSON answer."""
    response = httpx.post(f"{base_url}/chatkit", json=body, headers=headers, timeout=_TIMEOUT)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def text_deltas(events: list[dict[str, Any]]) -> list[str]:
    """The assistant text deltas streamed in ``events``."""
    return [
        event["update"]["delta"]
        for event in events
        if event["type"] == "thread.item.updated"
        and event["update"]["type"] == "assistant_message.content_part.text_delta"
    ]


def done_items(events: list[dict[str, Any]], item_type: str) -> list[dict[str, Any]]:
    """Items of ``item_type`` finished (``thread.item.done``) in ``events``."""
    return [
        event["item"]
        for event in events
        if event["type"] == "thread.item.done" and event["item"]["type"] == item_type
    ]


def item_text(item: dict[str, Any]) -> str:
    """The text of a user or assistant message item."""
    return "".join(part.get("text", "") for part in item["content"])
