"""Fault injection against a generated server under uvicorn: hung, slow and failing models,
bulk disconnects, oversize input, kill -9 mid-stream (SQLite and PostgreSQL).

Bounded (a few hundred requests, loopback only); each scenario adds a row to the figures
table printed at the end (`figures.py`) and kept in docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.apps import App, running_fake
from tests.e2e.chatkit_http import post_json, user_input
from tests.e2e.databases import fresh_database
from tests.e2e.server_process import ServerProcess, free_port
from tests.fakes.echo import CUT_MARKER, HANG_MARKER, SLOW_MARKER

from .figures import ROWS, Row

pytestmark = pytest.mark.faults

DEADLINES = {
    "MODEL_FIRST_TOKEN_TIMEOUT": "2",
    "MODEL_IDLE_TIMEOUT": "1",
    "MODEL_TOTAL_TIMEOUT": "20",
    "LOG_LEVEL": "WARNING",
}
LIMIT_OPTIONS = ["--http", "h11", "--h11-max-incomplete-event-size", "32768"]


def serve(app: App, extra_env: dict[str, str] | None = None) -> ServerProcess:
    """The app under uvicorn with the run commands' header limits and short model deadlines."""
    port = free_port()
    env = {**app.env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", **DEADLINES}
    command = ["uv", "run", "uvicorn", "my_app.main:app", "--host", "127.0.0.1"]
    return ServerProcess(
        [*command, "--port", str(port), *LIMIT_OPTIONS],
        cwd=app.project,
        env={**env, **(extra_env or {})},
        port=port,
        log_path=app.data / "server.log",
    )


def rss_mib(server: ServerProcess) -> float:
    """Resident memory of the server: the largest process of its group (uvicorn, not `uv`)."""
    assert server._process is not None
    group, largest = server._process.pid, 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != group:  # the process group id
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    largest = max(largest, int(line.split()[1]))
    assert largest, "no process of the server's group"
    return largest / 1024


def converse(
    url: str,
    text: str,
    *,
    hang_up_after: str | None = None,
    on_acknowledged: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Start a thread with `text`; the outcome: thread id, whether the user's message was
    acknowledged (its `thread.item.done`), the error event if any, the answer's text."""
    body = {"type": "threads.create", "params": {"input": user_input(text)}}
    outcome: dict[str, Any] = {"thread": None, "acknowledged": False, "error": None, "text": ""}
    with (
        suppress(httpx.TransportError),
        httpx.stream("POST", f"{url}/chatkit", json=body, timeout=30) as response,
    ):
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line.removeprefix("data: "))
            kind = event["type"]
            if kind == "thread.created":
                outcome["thread"] = event["thread"]["id"]
            elif kind == "thread.item.done" and event["item"]["type"] == "user_message":
                outcome["acknowledged"] = True
                if on_acknowledged is not None:
                    on_acknowledged()
            elif kind == "thread.item.updated" and "delta" in event["update"]:
                outcome["text"] += event["update"]["delta"]
            elif kind == "error":
                outcome["error"] = event
            if hang_up_after is not None and kind == hang_up_after:
                break
    return outcome


def stored_items(url: str, thread_id: str) -> list[dict[str, Any]]:
    page = post_json(
        url, {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}}
    )
    return list(page["data"])


def lost_messages(url: str, outcomes: list[dict[str, Any]]) -> int:
    """Acknowledged user messages that the database no longer has."""
    lost = 0
    for outcome in outcomes:
        if outcome["acknowledged"]:
            types = [item["type"] for item in stored_items(url, outcome["thread"])]
            lost += "user_message" not in types
    return lost


def in_parallel(count: int, job: Any) -> list[Any]:
    with ThreadPoolExecutor(max_workers=min(count, 32)) as pool:
        return list(pool.map(job, range(count)))


def error_kind(outcome: dict[str, Any]) -> str | None:
    error = outcome["error"]
    if error is None:
        return None
    message = str(error.get("message", ""))
    if "too long" in message:
        return "timeout (retryable)" if error.get("allow_retry") else "timeout"
    return "model failed (retryable)" if error.get("allow_retry") else "model failed"


def record(row: Row, outcomes: list[dict[str, Any]]) -> None:
    row.requests += len(outcomes)
    for outcome in outcomes:
        kind = error_kind(outcome)
        if kind is not None:
            row.errors[kind] += 1
    ROWS.append(row)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """One project with both databases (`DATABASE_URL` picks one), to build it only once."""
    answers = {"stores": ["postgres"]}
    with running_fake(answers, tmp_path_factory.mktemp("faults"), tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module")
def server(app: App) -> Iterator[ServerProcess]:
    with serve(app) as running:
        yield running


def test_hung_models_end_with_a_retryable_error_and_others_are_served(
    server: ServerProcess,
) -> None:
    row, started = Row("hung model x20, 1 normal user meanwhile"), time.monotonic()
    row.rss_before_mib = rss_mib(server)
    with ThreadPoolExecutor(max_workers=21) as pool:
        hung = [pool.submit(converse, server.url, f"Wait {HANG_MARKER} {n}") for n in range(20)]
        time.sleep(0.5)
        normal_started = time.monotonic()
        normal = converse(server.url, "Hello there")
        normal_seconds = time.monotonic() - normal_started
        outcomes = [future.result() for future in hung]
    row.seconds = time.monotonic() - started
    row.rss_after_mib = rss_mib(server)
    record(row, [*outcomes, normal])
    row.lost = lost_messages(server.url, [*outcomes, normal])

    assert normal["error"] is None and normal["text"], normal
    assert normal_seconds < 5
    assert [error_kind(outcome) for outcome in outcomes] == ["timeout (retryable)"] * 20
    assert row.seconds < 15
    assert row.lost == 0


def test_slow_and_failing_models(server: ServerProcess) -> None:
    row, started = Row("slow model x10, model cut mid-stream x10"), time.monotonic()

    def job(n: int) -> dict[str, Any]:
        marker = SLOW_MARKER if n % 2 else CUT_MARKER
        return converse(server.url, f"Tell me {marker} {n}")

    outcomes = in_parallel(20, job)
    row.seconds = time.monotonic() - started
    record(row, outcomes)
    row.lost = lost_messages(server.url, outcomes)

    slow, cut = outcomes[1::2], outcomes[0::2]
    assert all(outcome["error"] is None and outcome["text"] for outcome in slow), slow
    assert [error_kind(outcome) for outcome in cut] == ["model failed (retryable)"] * 10
    assert row.lost == 0


def test_bulk_disconnects_keep_messages_and_mark_answers_stopped(server: ServerProcess) -> None:
    row, started = Row("client disconnects mid-answer x60"), time.monotonic()
    row.rss_before_mib = rss_mib(server)
    log_start = len(server.log())

    def job(n: int) -> dict[str, Any]:
        hang_up = "thread.item.updated"  # the first text delta
        return converse(server.url, f"Go {SLOW_MARKER} {n}", hang_up_after=hang_up)

    outcomes = in_parallel(60, job)
    time.sleep(2)  # the server notices each hang-up at its next write
    row.seconds = time.monotonic() - started
    row.rss_after_mib = rss_mib(server)
    record(row, outcomes)
    row.lost = lost_messages(server.url, outcomes)
    stopped = sum(
        any(item["type"] == "task" for item in stored_items(server.url, outcome["thread"]))
        for outcome in outcomes
    )

    assert row.lost == 0
    assert stopped == 60
    assert " ERROR " not in server.log()[log_start:]
    assert httpx.get(f"{server.url}/health", timeout=5).status_code == 200


def status_of(server: ServerProcess, head: bytes) -> str:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        with suppress(OSError):
            connection.sendall(head)
        try:
            line = connection.recv(4096).split(b"\r\n", 1)[0].decode()
        except OSError:
            return "closed"
        return line.split(" ")[1] if line else "closed"


def test_oversize_headers_and_bodies_are_refused(server: ServerProcess) -> None:
    row = Row("oversize: 10 MB header, 10,000 headers, 2 MB body, x5 each")
    started = time.monotonic()
    row.rss_before_mib = rss_mib(server)
    statuses: list[str] = []
    big_header = b"GET /health HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 10_000_000 + b"\r\n\r\n"
    lines = b"".join(b"x-h%d: v\r\n" % number for number in range(10_000))
    many_headers = b"GET /health HTTP/1.1\r\nhost: x\r\n" + lines + b"\r\n"
    for _ in range(5):
        statuses.append(status_of(server, big_header))
        statuses.append(status_of(server, many_headers))
        body = b'{"type": "threads.list", "params": {}, "pad": "' + b"x" * 2_000_000 + b'"}'
        response = httpx.post(
            f"{server.url}/chatkit",
            content=body,
            headers={"content-type": "application/json"},
            timeout=30,
        )
        statuses.append(str(response.status_code))
    row.seconds = time.monotonic() - started
    row.rss_after_mib = rss_mib(server)
    row.requests = len(statuses)
    for status in statuses:
        row.errors[f"refused {status}"] += 1
    ROWS.append(row)

    assert "200" not in statuses
    assert row.rss_after_mib - row.rss_before_mib < 50


@contextmanager
def database_for(backend: str, app: App) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{app.data / 'kill.db'}"
    else:
        with fresh_database(app.project) as url:
            yield url


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_kill_9_mid_stream_loses_no_acknowledged_message(app: App, backend: str) -> None:
    row, started = Row(f"kill -9 mid-stream x10, restart ({backend})"), time.monotonic()
    with database_for(backend, app) as database_url:
        extra = {"DATABASE_URL": database_url}
        first = serve(app, extra)
        first.start()
        try:
            acknowledged: queue.Queue[None] = queue.Queue()
            with ThreadPoolExecutor(max_workers=10) as pool:
                futures = [
                    pool.submit(
                        converse,
                        first.url,
                        f"Long {SLOW_MARKER} {n}",
                        on_acknowledged=lambda: acknowledged.put(None),
                    )
                    for n in range(10)
                ]
                for _ in range(10):  # every user message acknowledged, the answers under way
                    acknowledged.get(timeout=30)
                assert first._process is not None
                os.killpg(first._process.pid, signal.SIGKILL)
                outcomes = [future.result() for future in futures]
        finally:
            first.stop()
        with serve(app, extra) as second:
            row.lost = lost_messages(second.url, outcomes)
    row.seconds = time.monotonic() - started
    row.requests = len(outcomes)
    row.errors["cut by kill -9"] = sum(outcome["acknowledged"] for outcome in outcomes)
    ROWS.append(row)

    assert sum(outcome["acknowledged"] for outcome in outcomes) == 10
    assert row.lost == 0
