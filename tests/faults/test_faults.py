"""Fault injection against a generated server under uvicorn: hung, slow and failing models,
bulk disconnects, oversize input, kill -9 mid-stream (SQLite and PostgreSQL), the database
made unavailable and back, two processes on one database (SQLite and PostgreSQL).

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
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.apps import App, running_fake
from tests.e2e.chatkit_http import item_text, post_json, user_input
from tests.e2e.databases import fresh_database
from tests.e2e.server_process import ServerProcess, free_port
from tests.fakes.echo import CUT_MARKER, HANG_MARKER, SLOW_MARKER, reply_for

from .figures import ROWS, Row
from .tcp_proxy import TcpProxy

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


def slow_answers_under_way(
    pool: ThreadPoolExecutor, url: str, count: int
) -> list[Future[dict[str, Any]]]:
    """`count` conversations with the slow model, returned once every user message is
    acknowledged (stored) and the answers are under way."""
    acknowledged: queue.Queue[None] = queue.Queue()
    futures = [
        pool.submit(
            converse,
            url,
            f"Long {SLOW_MARKER} {n}",
            on_acknowledged=lambda: acknowledged.put(None),
        )
        for n in range(count)
    ]
    for _ in range(count):
        acknowledged.get(timeout=30)
    return futures


def converse(
    url: str,
    text: str,
    *,
    thread: str | None = None,
    hang_up_after: str | None = None,
    on_acknowledged: Callable[[], None] | None = None,
    refusal_ok: bool = False,
) -> dict[str, Any]:
    """Start a thread with `text` (or add it to `thread`); the outcome: thread id, whether the
    user's message was acknowledged (its `thread.item.done`), the error event if any, the
    answer's text, the HTTP status (any with `refusal_ok`, else 200 only) and its headers."""
    if thread is None:
        body = {"type": "threads.create", "params": {"input": user_input(text)}}
    else:
        params = {"thread_id": thread, "input": user_input(text)}
        body = {"type": "threads.add_user_message", "params": params}
    outcome: dict[str, Any] = {
        "thread": thread,
        "acknowledged": False,
        "error": None,
        "text": "",
        "status": None,
        "headers": {},
    }
    with (
        suppress(httpx.TransportError),
        httpx.stream("POST", f"{url}/chatkit", json=body, timeout=30) as response,
    ):
        outcome["status"], outcome["headers"] = response.status_code, dict(response.headers)
        if response.status_code != 200 and refusal_ok:
            return outcome
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
    if "database" in message:
        return "database unavailable (retryable)" if error.get("allow_retry") else "database"
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
    row.rss_before_mib = rss_mib(server)

    def job(n: int) -> dict[str, Any]:
        marker = SLOW_MARKER if n % 2 else CUT_MARKER
        return converse(server.url, f"Tell me {marker} {n}")

    outcomes = in_parallel(20, job)
    row.seconds = time.monotonic() - started
    row.rss_after_mib = rss_mib(server)
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
            row.rss_before_mib = rss_mib(first)
            with ThreadPoolExecutor(max_workers=10) as pool:
                futures = slow_answers_under_way(pool, first.url, 10)
                row.rss_after_mib = rss_mib(first)  # just before the kill
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


POOL_TIMEOUT_SECONDS = 2.0
"""`DATABASE_POOL_TIMEOUT` of the server whose database is cut off: how long a call waits."""


def through(proxy: TcpProxy, database_url: str) -> str:
    """`database_url` with its host and port replaced by the proxy's."""
    parts = urlsplit(database_url)
    user, at, _ = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{user}{at}127.0.0.1:{proxy.port}").geturl()


@dataclass
class Shared:
    """Servers that share a database with another process, started together (starting one
    takes seconds): `postgres` two processes on a new PostgreSQL database, the first through
    `proxy` (which can cut it off) with a short pool time-out; `sqlite` a second process on
    the module server's SQLite file."""

    proxy: TcpProxy
    postgres: list[ServerProcess]
    sqlite: ServerProcess


@pytest.fixture(scope="module")
def shared(app: App) -> Iterator[Shared]:
    with ExitStack() as stack:
        database_url = stack.enter_context(fresh_database(app.project))
        parts = urlsplit(database_url)
        proxy = stack.enter_context(TcpProxy((parts.hostname or "", parts.port or 5432)))
        cut_off = {
            "DATABASE_URL": through(proxy, database_url),
            "DATABASE_POOL_TIMEOUT": str(POOL_TIMEOUT_SECONDS),
        }
        servers = [
            serve(app, cut_off),
            serve(app, {"DATABASE_URL": database_url}),
            serve(app),
        ]
        for started in servers:
            stack.callback(started.stop)
        with ThreadPoolExecutor(max_workers=len(servers)) as pool:
            for future in [pool.submit(started.start) for started in servers]:
                future.result()
        yield Shared(proxy, servers[:2], servers[2])


def timed_list(url: str) -> tuple[httpx.Response, float]:
    """A JSON request (`threads.list`) and how long its answer took."""
    started = time.monotonic()
    body = {"type": "threads.list", "params": {"limit": 5}}
    response = httpx.post(f"{url}/chatkit", json=body, timeout=60)
    return response, time.monotonic() - started


def test_database_unavailable_then_back(shared: Shared) -> None:
    row = Row("PostgreSQL cut off")
    server, proxy, started = shared.postgres[0], shared.proxy, time.monotonic()
    log_start = len(server.log())
    row.rss_before_mib = rss_mib(server)
    before = converse(server.url, "Before the outage")
    assert before["error"] is None and before["text"], before
    with ThreadPoolExecutor(max_workers=16) as pool:
        in_flight = slow_answers_under_way(pool, server.url, 5)
        proxy.cut()
        cut_at = time.monotonic()
        listed = [pool.submit(timed_list, server.url) for _ in range(5)]
        turns = [
            pool.submit(converse, server.url, f"During {n}", refusal_ok=True) for n in range(5)
        ]
        follow_up = pool.submit(
            converse, server.url, "During, in a thread", thread=before["thread"], refusal_ok=True
        )
        stopped = [future.result() for future in in_flight]
        refused = [future.result() for future in listed]
        during = [*(future.result() for future in turns), follow_up.result()]
    ready_started = time.monotonic()
    not_ready = httpx.get(f"{server.url}/health/ready", timeout=30)
    ready_seconds = time.monotonic() - ready_started
    proxy.restore()
    row.scenario = (
        f"PostgreSQL cut off for {time.monotonic() - cut_at:.0f} s (connections closed,"
        " new ones unanswered), 5 answers under way, then back"
    )
    back_started = time.monotonic()
    while httpx.get(f"{server.url}/health/ready", timeout=30).status_code != 200:
        assert time.monotonic() - back_started < 10, "not ready again 10 s after the outage"
        time.sleep(0.2)
    after = converse(server.url, "After the outage", thread=before["thread"])
    fresh = converse(server.url, "A new thread after the outage")
    listing = post_json(server.url, {"type": "threads.list", "params": {}})
    outcomes = [before, *stopped, *during, after, fresh]
    row.lost = lost_messages(server.url, outcomes)
    row.rss_after_mib = rss_mib(server)
    row.seconds = time.monotonic() - started
    row.requests = len(outcomes) + len(refused) + 1
    for outcome in outcomes:
        if outcome["status"] != 200:
            row.errors[f"refused {outcome['status']}"] += 1
        elif (kind := error_kind(outcome)) is not None:
            row.errors[f"stream ended: {kind}"] += 1
    for response, _ in refused:
        row.errors[f"refused {response.status_code}"] += 1
    row.errors[f"not ready {not_ready.status_code}"] += 1
    ROWS.append(row)
    slowest = max(seconds for _, seconds in refused)
    print(f"\noutage: slowest 503 in {slowest:.1f} s, readiness in {ready_seconds:.1f} s")

    # Answers under way when the database went: a retryable error event naming the database.
    assert [error_kind(outcome) for outcome in stopped] == [
        "database unavailable (retryable)"
    ] * 5, stopped
    # JSON requests: 503 with Retry-After within the pool time-out, twice at most (a wait for a
    # pool slot, then for the connection), not the drivers' 30 s or 60 s.
    assert [response.status_code for response, _ in refused] == [503] * 5
    assert all(int(response.headers["retry-after"]) > 0 for response, _ in refused)
    assert slowest < 2 * POOL_TIMEOUT_SECONDS + 2.5, refused
    # New turns: refused with 503 + Retry-After, or a stream ending with the same retryable error.
    for outcome in during:
        if outcome["status"] == 200:
            assert error_kind(outcome) == "database unavailable (retryable)", outcome
            assert not outcome["acknowledged"], outcome
        else:
            assert outcome["status"] == 503 and "retry-after" in outcome["headers"], outcome
    assert not_ready.status_code == 503
    assert not_ready.json()["status"] == "unavailable"
    # Back without a restart, nothing acknowledged lost, never a 500.
    assert after["error"] is None and after["text"], after
    assert fresh["error"] is None and fresh["text"], fresh
    assert {before["thread"], fresh["thread"]} <= {thread["id"] for thread in listing["data"]}
    assert row.lost == 0
    log = server.log()[log_start:]
    assert " ERROR " not in log  # an outage is logged as warnings, not crashes


def conversation(url: str, thread_id: str) -> list[tuple[str, str]]:
    """The thread's messages in order, as (type, text)."""
    return [
        (item["type"], item_text(item))
        for item in stored_items(url, thread_id)
        if item["type"] in {"user_message", "assistant_message"}
    ]


THREADS, TURNS = 4, 10


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_processes_on_one_database(server: ServerProcess, shared: Shared, backend: str) -> None:
    row = Row(f"two processes, {THREADS} threads x {TURNS} turns alternating ({backend})")
    started = time.monotonic()
    shared.proxy.restore()  # had the outage scenario failed before restoring it
    servers = [server, shared.sqlite] if backend == "sqlite" else shared.postgres
    row.rss_before_mib = rss_mib(servers[1])

    def thread_job(number: int) -> list[dict[str, Any]]:
        outcomes: list[dict[str, Any]] = []
        thread = None
        for turn in range(TURNS):
            target = servers[(number + turn) % 2]  # every thread moves at each turn
            outcome = converse(target.url, f"Thread {number} turn {turn}", thread=thread)
            thread = outcome["thread"]
            outcomes.append(outcome)
        return outcomes

    by_thread = in_parallel(THREADS, thread_job)
    row.seconds = time.monotonic() - started
    row.rss_after_mib = rss_mib(servers[1])
    outcomes = [outcome for turns in by_thread for outcome in turns]
    record(row, outcomes)
    expected = {
        turns[0]["thread"]: [
            message
            for turn in range(TURNS)
            for text in [f"Thread {number} turn {turn}"]
            for message in [("user_message", text), ("assistant_message", reply_for(text))]
        ]
        for number, turns in enumerate(by_thread)
    }
    seen = [{thread: conversation(target.url, thread) for thread in expected} for target in servers]
    listed = [
        {thread["id"] for thread in post_json(target.url, body)["data"]}
        for target in servers
        for body in [{"type": "threads.list", "params": {"limit": 50, "order": "desc"}}]
    ]
    row.lost = sum(
        message not in seen[0][thread]
        for thread, messages in expected.items()
        for message in messages
        if message[0] == "user_message"
    )

    assert [error_kind(outcome) for outcome in outcomes] == [None] * len(outcomes)
    assert seen[0] == seen[1] == expected  # each sees every thread, its items in order
    assert all(set(expected) <= ids for ids in listed)
    assert row.lost == 0
