"""A generated server under uvicorn holds a conversation with a fake provider over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import prepared_project, project_env
from tests.fakes import (
    FAIL_MARKER,
    FakeChatCompletionsServer,
    FakeResponsesServer,
    conversation,
    reply_for,
)

from .chatkit_http import done_items, item_text, post_json, post_stream, text_deltas, user_input
from .server_process import ServerProcess, free_port

pytestmark = pytest.mark.e2e

FakeProvider = FakeResponsesServer | FakeChatCompletionsServer

#: provider -> (fake server class, the environment that points the app at the fake)
PROVIDERS: dict[str, tuple[type[FakeProvider], Callable[[str], dict[str, str]]]] = {
    "openai": (
        FakeResponsesServer,
        lambda url: {"OPENAI_API_KEY": "test", "OPENAI_BASE_URL": url},
    ),
    "gemini": (
        FakeChatCompletionsServer,
        lambda url: {"GEMINI_API_KEY": "test", "GEMINI_BASE_URL": url},
    ),
    "openai-compatible": (
        FakeChatCompletionsServer,
        lambda url: {"LLM_API_KEY": "test", "LLM_BASE_URL": url},
    ),
    "litellm": (
        FakeChatCompletionsServer,
        lambda url: {
            "LLM_MODEL": "openai/fake-model",  # LiteLLM's route for OpenAI-compatible servers
            "LLM_API_KEY": "test",
            "LLM_BASE_URL": url,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the price list at import
        },
    ),
}


class App:
    """A generated project plus what it needs to run: a fake provider and a data folder."""

    def __init__(self, project: Path, fake: FakeProvider, env: dict[str, str], data: Path):
        self.project, self.fake, self.env, self.data = project, fake, env, data

    def server(self) -> ServerProcess:
        port = free_port()
        command = ["uv", "run", "uvicorn", "my_app.main:app", "--host", "127.0.0.1"]
        return ServerProcess(
            [*command, "--port", str(port)],
            cwd=self.project,
            env=self.env,
            port=port,
            log_path=self.data / "server.log",
        )


def _app(provider: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    project = prepared_project(tmp_path_factory, {"provider": provider})
    fake_class, provider_env = PROVIDERS[provider]
    with fake_class() as fake:
        env = project_env(
            {
                **provider_env(fake.base_url),
                "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
                "UPLOAD_DIR": str(tmp_path / "uploads"),
                "OPENAI_AGENTS_DISABLE_TRACING": "true",
            }
        )
        yield App(project, fake, env, tmp_path)


@pytest.fixture(params=list(PROVIDERS))
def app(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[App]:
    yield from _app(request.param, tmp_path, tmp_path_factory)


@pytest.fixture
def openai_app(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    yield from _app("openai", tmp_path, tmp_path_factory)


def _assert_answered(events: list[dict[str, Any]], question: str) -> dict[str, Any]:
    """The turn streamed the echo of ``question`` and finished its assistant message."""
    assert not [event for event in events if event["type"] == "error"], events
    deltas = text_deltas(events)
    assert len(deltas) > 1
    assert "".join(deltas) == reply_for(question)
    (assistant,) = done_items(events, "assistant_message")
    assert item_text(assistant) == reply_for(question)
    assert assistant["id"] != "__fake_id__"
    return assistant


def _model_requests_for(fake: FakeProvider, question: str) -> list[list[tuple[str, str]]]:
    """The chat history of every model request whose last user message is ``question``."""
    histories = []
    for body in fake.requests:
        chat = [(role, text) for role, text in conversation(body) if role in {"user", "assistant"}]
        if chat and chat[-1] == ("user", question):
            histories.append(chat)
    return histories


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
        first_answer = _assert_answered(events, first)

        events = post_stream(
            server.url,
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": user_input(second)},
            },
        )
        second_answer = _assert_answered(events, second)
        assert second_answer["id"] != first_answer["id"]

    expected_history = [("user", first), ("assistant", reply_for(first)), ("user", second)]
    assert expected_history in _model_requests_for(app.fake, second)

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
        assert "error" in types, events
        error = events[types.index("error")]
        assert error["allow_retry"] is True
        # Only the thread's new (fallback) title may follow the error.
        assert set(types[types.index("error") + 1 :]) <= {"thread.updated"}, types
        assert not done_items(events, "assistant_message")
        page = post_json(server.url, {"type": "items.list", "params": {"thread_id": thread_id}})
    assert [(item["type"], item_text(item)) for item in page["data"]] == [
        ("user_message", question)
    ]


def test_bad_requests_get_clear_status_codes(openai_app: App) -> None:
    with openai_app.server() as server:
        url = f"{server.url}/chatkit"

        malformed = httpx.post(url, content=b"{not json", timeout=30)
        assert malformed.status_code == 400
        assert malformed.json()["error"]["message"]

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

        chunked = httpx.post(url, content=chunks(), timeout=30)
        assert chunked.status_code == 413

        assert httpx.get(f"{server.url}/health", timeout=30).status_code == 200
