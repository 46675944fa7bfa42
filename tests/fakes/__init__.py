"""Fake model providers served on loopback, for tests that must not call a real provider."""

from __future__ import annotations

from .chat_completions import FakeChatCompletionsServer
from .echo import FAIL_MARKER, call_marker, conversation, reply_for, tool_reply
from .openai_responses import FakeResponsesServer

__all__ = [
    "FAIL_MARKER",
    "FakeChatCompletionsServer",
    "FakeResponsesServer",
    "call_marker",
    "conversation",
    "reply_for",
    "tool_reply",
]
