"""A generated project wired to a fake provider, ready to start under uvicorn."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import prepared_project, project_env
from tests.fakes import FakeChatCompletionsServer, FakeResponsesServer, reply_for

from .chatkit_http import done_items, item_text, text_deltas
from .server_process import ServerProcess, free_port

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

    def server(self, extra_env: Mapping[str, str] | None = None) -> ServerProcess:
        """The app's server on a free port; ``PUBLIC_BASE_URL`` is its own URL."""
        port = free_port()
        env = {**self.env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", **(extra_env or {})}
        command = ["uv", "run", "uvicorn", "my_app.main:app", "--host", "127.0.0.1"]
        return ServerProcess(
            [*command, "--port", str(port)],
            cwd=self.project,
            env=env,
            port=port,
            log_path=self.data / "server.log",
        )


@contextmanager
def running_fake(
    answers: Mapping[str, Any], tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[App]:
    """The project for ``answers`` and a fake for its provider, with data under ``tmp_path``."""
    project = prepared_project(tmp_path_factory, answers)
    fake_class, provider_env = PROVIDERS[answers.get("provider", "openai")]
    with fake_class() as fake:
        env = project_env(
            {
                **provider_env(fake.base_url),
                "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
                "UPLOAD_DIR": str(tmp_path / "uploads"),
                "SIGNING_SECRET": "e2e-signing-secret-0123456789abcdef",
                "OPENAI_AGENTS_DISABLE_TRACING": "true",
            }
        )
        yield App(project, fake, env, tmp_path)


def assert_answered(events: list[dict[str, Any]], question: str) -> dict[str, Any]:
    """The turn streamed the echo of ``question`` and finished its assistant message."""
    assert not [event for event in events if event["type"] == "error"], events
    deltas = text_deltas(events)
    assert len(deltas) > 1
    assert "".join(deltas) == reply_for(question)
    (assistant,) = done_items(events, "assistant_message")
    assert item_text(assistant) == reply_for(question)
    assert assistant["id"] != "__fake_id__"
    return assistant
