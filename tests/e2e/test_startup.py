"""Start-up of a generated server: configuration errors stop it at once, naming the variable."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .apps import running_fake
from .chatkit_http import post_stream, user_input

pytestmark = pytest.mark.e2e


def test_missing_api_key_stops_the_server_at_start_up(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with running_fake({}, tmp_path, tmp_path_factory) as app:
        server = app.server()
    env = {key: value for key, value in server.env.items() if key != "OPENAI_API_KEY"}
    result = subprocess.run(
        server.command,
        cwd=server.cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "OPENAI_API_KEY" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_every_missing_variable_is_one_line_and_no_traceback(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    answers = {"database": "postgres", "file_store": "s3", "auth": "jwt"}
    with running_fake(answers, tmp_path, tmp_path_factory) as app:
        server = app.server()
    missing = ("DATABASE_URL", "UPLOAD_BUCKET", "OPENAI_API_KEY", "JWKS_URL or JWT_SECRET")
    env = {
        key: value
        for key, value in server.env.items()
        if key not in {"DATABASE_URL", "UPLOAD_BUCKET", "OPENAI_API_KEY", "JWT_SECRET"}
    }
    result = subprocess.run(
        server.command,
        cwd=server.cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output
    problems = [line.strip() for line in output.splitlines() if " is required" in line]
    assert len(problems) == len(missing), output
    for name in missing:
        assert any(line.startswith(name) for line in problems), (name, output)
    assert "(e.g. DATABASE_URL=postgresql://" in output


def test_first_stream_events_come_in_protocol_order(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with running_fake({}, tmp_path, tmp_path_factory) as app, app.server() as server:
        events = post_stream(
            server.url, {"type": "threads.create", "params": {"input": user_input("Hi")}}
        )
    kinds = [
        event["type"] + (f":{event['item']['type']}" if "item" in event else "") for event in events
    ]
    assert kinds[:4] == [
        "thread.created",
        "thread.item.done:user_message",
        "stream_options",
        "thread.item.added:assistant_message",
    ]
    assert kinds.index("thread.item.done:assistant_message") > kinds.index(
        "thread.item.added:assistant_message"
    )
