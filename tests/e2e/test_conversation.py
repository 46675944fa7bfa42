"""A generated server under uvicorn holds a conversation with a fake provider over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes import FAIL_MARKER, conversation, reply_for

from .apps import PROVIDERS, App, FakeProvider, assert_answered, running_fake
from .chatkit_http import done_items, item_text, post_json, post_stream, user_input

pytestmark = pytest.mark.e2e


@pytest.fixture(params=list(PROVIDERS))
def app(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[App]:
    with running_fake({"provider": request.param}, tmp_path, tmp_path_factory) as app:
        yield app


@pytest.fixture
def openai_app(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with running_fake({}, tmp_path, tmp_path_factory) as app:
        yield app


def _model_requests_for(fake: FakeProvider, question: str) -> list[list[tuple[str, str]]]:
    """The chat history of every model request whose last user message is ``question``."""
    histories = []
    for body in fake.requests:
        chat = [(role, text) for role, text in conversation(body) if role in {"user", "assistant"}]
        if chat and chat[-1] == ("user", question):
            histories.append(chat)
    return histories


def _assistant_contents(fake: FakeProvider) -> list[object]:
    """The raw ``content`` of every assistant message the model was sent."""
    return [
        message["content"]
        for body in fake.requests
        for message in body.get("messages", body.get("input", []))
        if isinstance(message, dict) and message.get("role") == "assistant"
    ]


def test_two_turn_conversation_survives_a_restart(app: App) -> None:
    first, second = "What is ChatKit?", "And the Agents SDK?"
    with app.server() as server:
        events = post_stream(
            server.url, {"type": "threads.create", "params": {"input": user_input(first)}}
        )
        assert events[0]["type"] == "thread.created"
        thread_id = events[0]["thread"]["id"]
        (user_item,) = done_items(events, "user_message")
        assert item_text(user_item) == first
        first_answer = assert_answered(events, first)

        events = post_stream(
            server.url,
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": user_input(second)},
            },
        )
        second_answer = assert_answered(events, second)
        assert second_answer["id"] != first_answer["id"]

    expected_history = [("user", first), ("assistant", reply_for(first)), ("user", second)]
    assert expected_history in _model_requests_for(app.fake, second)
    # Assistant history goes back as plain string content, which every provider accepts.
    assert _assistant_contents(app.fake) == [reply_for(first)]

    with app.server() as server:
        thread = post_json(
            server.url, {"type": "threads.get_by_id", "params": {"thread_id": thread_id}}
        )
        page = post_json(
            server.url,
            {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}},
        )
        threads = post_json(server.url, {"type": "threads.list", "params": {}})

    expected = [
        ("user_message", first),
        ("assistant_message", reply_for(first)),
        ("user_message", second),
        ("assistant_message", reply_for(second)),
    ]
    assert [(item["type"], item_text(item)) for item in thread["items"]["data"]] == expected
    assert [(item["type"], item_text(item)) for item in page["data"]] == expected
    assert page["has_more"] is False
    assert [item["id"] for item in page["data"]][1::2] == [first_answer["id"], second_answer["id"]]
    assert thread_id in [listed["id"] for listed in threads["data"]]


def test_provider_error_ends_the_stream_with_an_error_event(openai_app: App) -> None:
    question = f"Please fail {FAIL_MARKER}"
    with openai_app.server() as server:
        events = post_stream(
            server.url, {"type": "threads.create", "params": {"input": user_input(question)}}
        )
        thread_id = events[0]["thread"]["id"]
        types = [event["type"] for event in events]
        # PRODUCT.md: the stream ends with the error event, nothing after it.
        assert types[-1] == "error", types
        assert types.count("error") == 1, types
        assert events[-1]["allow_retry"] is True
        assert not done_items(events, "assistant_message")
        page = post_json(server.url, {"type": "items.list", "params": {"thread_id": thread_id}})
    assert [(item["type"], item_text(item)) for item in page["data"]] == [
        ("user_message", question)
    ]


def test_bad_requests_get_clear_status_codes(openai_app: App) -> None:
    with openai_app.server() as server:
        url = f"{server.url}/chatkit"

        as_json = {"content-type": "application/json"}
        malformed = httpx.post(url, content=b"{not json", headers=as_json, timeout=30)
        assert malformed.status_code == 400
        assert malformed.json()["error"]["message"]

        # A body not declared as JSON is what another site can post without a CORS preflight.
        undeclared = httpx.post(url, content=b'{"type": "threads.list", "params": {}}', timeout=30)
        assert undeclared.status_code == 415
        assert undeclared.json()["error"]["message"]

        unknown_type = httpx.post(url, json={"type": "threads.explode", "params": {}}, timeout=30)
        assert unknown_type.status_code == 400
        assert unknown_type.json()["error"]["message"]

        missing_thread = httpx.post(
            url,
            json={
                "type": "threads.add_user_message",
                "params": {"thread_id": "thr_doesnotexist", "input": user_input("hello?")},
            },
            timeout=30,
        )
        assert missing_thread.status_code == 404
        assert missing_thread.json()["error"]["message"]

        too_big = user_input("x" * (2 * 1024 * 1024))
        oversized = httpx.post(
            url, json={"type": "threads.create", "params": {"input": too_big}}, timeout=30
        )
        assert oversized.status_code == 413

        def chunks() -> Iterator[bytes]:
            yield b'{"type": "threads.create", "params": {"input": {"content": [{"type": '
            for _ in range(64):
                yield b'"input_text", "text": "' + b"y" * 32 * 1024 + b'", "type": '
            yield b'"input_text", "text": "end"}], "attachments": [], "inference_options": {}}}}'

        chunked = httpx.post(url, content=chunks(), headers=as_json, timeout=30)
        assert chunked.status_code == 413

        assert httpx.get(f"{server.url}/health", timeout=30).status_code == 200
