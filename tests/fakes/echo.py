"""What the fake providers answer: a deterministic echo of the last user message.

Both fakes share these rules so a test can predict the reply to any prompt:

- a prompt holding ``FAIL_MARKER`` makes the provider answer HTTP 400 (the app's error path);
- a prompt holding ``call_marker(name, arguments)`` makes it call that tool (when the request
  offers it), once: when tool outputs follow the last user message, it answers
  ``tool_reply(output)`` of the newest one instead;
- anything else gets ``reply_for(prompt)``.
"""

from __future__ import annotations

import json
import re
from typing import Any

REPLY_PREFIX = "echo: "
TOOL_REPLY_PREFIX = "tool said: "
FAIL_MARKER = "[fake-provider:fail]"
HANG_MARKER = "[fake-provider:hang]"
"""Streamed: `response.created`, then nothing until the client goes away."""
SLOW_MARKER = "[fake-provider:slow]"
"""Streamed with 0.2 s between events (well within an idle deadline of a second)."""
CUT_MARKER = "[fake-provider:cut]"
"""Streamed: the first deltas, then the connection is dropped mid-answer."""
_CALL = re.compile(r"\[fake-provider:call (?P<name>\w+)(?: (?P<arguments>\{.*\}))?\]")


def reply_for(user_text: str) -> str:
    """The assistant reply the fakes give to ``user_text``."""
    return f"{REPLY_PREFIX}{user_text}"


def call_marker(name: str, arguments: dict[str, Any] | None = None) -> str:
    """Text that makes the fakes call the tool ``name`` with ``arguments``."""
    return f"[fake-provider:call {name} {json.dumps(arguments or {})}]"


def tool_reply(output: str) -> str:
    """The reply the fakes give once a tool answered ``output``."""
    return f"{TOOL_REPLY_PREFIX}{output}"


def requested_call(user_text: str, offered: set[str]) -> tuple[str, str] | None:
    """``(name, JSON arguments)`` of the tool call ``user_text`` asks for, if it is offered."""
    match = _CALL.search(user_text)
    if match is None or match["name"] not in offered:
        return None
    return match["name"], match["arguments"] or "{}"


def text_deltas(text: str) -> list[str]:
    """Split ``text`` into the word-sized chunks streamed as deltas (joined, they give ``text``)."""
    return re.findall(r"\s*\S+\s*", text) or [text]


def _text_of(content: Any) -> str:
    """Plain text of a message ``content``: a string or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") in {"input_text", "text", "output_text"}
        ]
        return "".join(parts)
    return ""


def last_user_text(messages: Any) -> str:
    """Text of the last user message in a Responses ``input`` or a Chat Completions ``messages``."""
    if isinstance(messages, str):
        return messages
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def after_last_user(messages: Any) -> list[dict[str, Any]]:
    """The items of a Responses ``input`` or Chat Completions ``messages`` after the last user
    message (the tool calls and outputs of the turn in progress)."""
    if not isinstance(messages, list):
        return []
    items = [item for item in messages if isinstance(item, dict)]
    last = max((i for i, item in enumerate(items) if item.get("role") == "user"), default=-1)
    return items[last + 1 :]


def failure_body(user_text: str) -> dict[str, Any] | None:
    """An OpenAI-style error body when ``user_text`` asks for a failure, else ``None``."""
    if FAIL_MARKER not in user_text:
        return None
    return {
        "error": {
            "message": "The fake provider was asked to fail.",
            "type": "invalid_request_error",
            "param": None,
            "code": "fake_failure",
        }
    }


def conversation(body: dict[str, Any]) -> list[tuple[str, str]]:
    """``(role, text)`` of every message a recorded request body sent to the model."""
    messages = body.get("messages", body.get("input"))
    if isinstance(messages, str):
        return [("user", messages)]
    return [
        (message["role"], _text_of(message.get("content")))
        for message in messages or []
        if isinstance(message, dict) and "role" in message
    ]
