"""Three replicas of one generated project behind a round-robin client.

``postgres+s3+jwt`` with ``REDIS_URL``: three uvicorn processes share one PostgreSQL database,
one S3-compatible server (moto) and Redis, and answer with a fake OpenAI provider. A
conversation moves from replica to replica at every turn, a run paused for approval on one
replica is approved on another, a user's request rate holds across all three (counted in
Redis), and a batch of concurrent streamed turns, spread over the replicas, all complete
without an error. The replicas' `/metrics` are read at the end.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.fakes import call_marker, tool_reply

from .apps import App, assert_answered, running_fake
from .chatkit_http import done_items, item_text, post_json, post_stream, user_input
from .databases import fresh_database
from .s3 import s3_bucket
from .server_process import ServerProcess, free_port
from .test_interactive import buttons, texts

pytestmark = pytest.mark.replicas

SECRET = "replicas-test-secret-of-at-least-32-characters"
REPLICAS = 3
RATE_LIMIT = 12
CONCURRENT_TURNS = int(os.environ.get("REPLICAS_CONCURRENT_TURNS", "300"))
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def bearer(user_id: str) -> dict[str, str]:
    claims = {"sub": user_id, "exp": int(time.time()) + 900}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


@pytest.fixture
def replicas(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServerProcess]]:
    """Three running replicas of one postgres+s3+jwt project."""
    answers = {"database": "postgres", "file_store": "s3", "auth": "jwt", "provider": "openai"}
    with (
        s3_bucket() as s3_env,
        running_fake(answers, tmp_path, tmp_path_factory) as app,
        fresh_database(app.project) as database_url,
        ExitStack() as servers,
    ):
        app.env.update(
            s3_env,
            DATABASE_URL=database_url,
            JWT_SECRET=SECRET,
            REDIS_URL=REDIS_URL,
            REDIS_KEY_PREFIX=f"replicas-{uuid.uuid4().hex}:",
            RATE_LIMIT_PER_MINUTE=str(RATE_LIMIT),
            METRICS_ENABLED="true",
            LOG_FORMAT="json",
            # 100 streams per process on 2 shared cores: a turn may wait longer than the
            # default 5 s for one of the pool's connections, which is load, not an outage.
            DATABASE_POOL_TIMEOUT="30",
        )
        # The first replica creates the schema; the others start on it.
        yield [servers.enter_context(replica(app, index)) for index in range(REPLICAS)]


def replica(app: App, index: int) -> ServerProcess:
    port = free_port()
    env = {**app.env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    command = ["uv", "run", "uvicorn", "my_app.main:app", "--host", "127.0.0.1"]
    return ServerProcess(
        [*command, "--port", str(port), "--no-access-log"],
        cwd=app.project,
        env=env,
        port=port,
        log_path=app.data / f"replica-{index}.log",
    )


def test_replicas_share_conversations_limits_and_carry_a_concurrent_batch(
    replicas: list[ServerProcess],
) -> None:
    urls = [server.url for server in replicas]
    round_robin = itertools.cycle(urls)
    conversation_moves_between_replicas(round_robin)
    approval_resumed_on_another_replica(round_robin)
    rate_limit_holds_across_replicas(round_robin)
    answered = asyncio.run(concurrent_turns(urls, CONCURRENT_TURNS))
    assert answered == CONCURRENT_TURNS
    totals = read_metrics(urls)
    assert totals["chatkit_active_streams"] == 0
    assert totals['chatkit_requests_total{op="threads.create",status="200"}'] >= CONCURRENT_TURNS
    assert totals['chatkit_limit_refusals_total{limit="rate",request="json"}'] >= 1
    request_lines_are_json_without_message_text(replicas)


def conversation_moves_between_replicas(round_robin: Iterator[str]) -> None:
    headers = bearer("ann")
    questions = ["First, on one replica.", "Then on the next.", "And on the third."]
    events = post_stream(
        next(round_robin),
        {"type": "threads.create", "params": {"input": user_input(questions[0])}},
        headers,
    )
    thread_id = events[0]["thread"]["id"]
    assert_answered(events, questions[0])
    for question in questions[1:]:
        events = post_stream(
            next(round_robin),
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": user_input(question)},
            },
            headers,
        )
        assert_answered(events, question)
    page = post_json(
        next(round_robin),
        {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}},
        headers,
    )
    texts = [item_text(item) for item in page["data"]]
    assert texts == [text for q in questions for text in (q, f"echo: {q}")]


def approval_resumed_on_another_replica(round_robin: Iterator[str]) -> None:
    headers = bearer("bob")
    ask = f"Note it {call_marker('save_note', {'text': 'milk'})}"
    events = post_stream(
        next(round_robin), {"type": "threads.create", "params": {"input": user_input(ask)}}, headers
    )
    thread_id = events[0]["thread"]["id"]
    (widget,) = done_items(events, "widget")
    action = buttons(widget["widget"])["Approve"]["onClickAction"]
    params = {"thread_id": thread_id, "item_id": widget["id"], "action": action}
    events = post_stream(
        next(round_robin), {"type": "threads.custom_action", "params": params}, headers
    )
    assert not [event for event in events if event["type"] == "error"], events
    (answer,) = texts(events)
    assert answer.startswith(tool_reply("Saved note")), answer


def rate_limit_holds_across_replicas(round_robin: Iterator[str]) -> None:
    # A fixed one-minute window: start early in one, so that every request falls in it.
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)
    headers = bearer("rate-limited-user")
    body = {"type": "threads.list", "params": {"limit": 1}}
    statuses = []
    for _ in range(RATE_LIMIT + 3):
        response = httpx.post(f"{next(round_robin)}/chatkit", json=body, headers=headers)
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert 1 <= int(response.headers["retry-after"]) <= 60
    assert statuses == [200] * RATE_LIMIT + [429] * 3


async def concurrent_turns(replicas: list[str], count: int) -> int:
    """`count` streamed first turns at once, one user each, spread over the replicas."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(timeout=httpx.Timeout(120.0), limits=limits) as client:
        results = await asyncio.gather(
            *(one_turn(client, replicas[i % len(replicas)], i) for i in range(count))
        )
    return sum(results)


async def one_turn(client: httpx.AsyncClient, url: str, index: int) -> int:
    question = f"Concurrent question {index}"
    body = {"type": "threads.create", "params": {"input": user_input(question)}}
    events: list[dict[str, Any]] = []
    async with client.stream(
        "POST", f"{url}/chatkit", json=body, headers=bearer(f"user-{index}")
    ) as response:
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
    assert_answered(events, question)
    return 1


def read_metrics(replicas: list[str]) -> dict[str, float]:
    """The replicas' metrics summed by sample (`name{labels}`), from each one's `/metrics`."""
    totals: dict[str, float] = {}
    for url in replicas:
        response = httpx.get(f"{url}/metrics")
        assert response.status_code == 200
        for line in response.text.splitlines():
            if line and not line.startswith("#"):
                sample, value = line.rsplit(" ", 1)
                totals[sample] = totals.get(sample, 0.0) + float(value)
    return totals


def request_lines_are_json_without_message_text(replicas: list[ServerProcess]) -> None:
    """`LOG_FORMAT=json`: one JSON object per request, and no message text anywhere."""
    streamed = 0
    for server in replicas:
        log = server.log()
        assert "Concurrent question" not in log
        assert "Note it" not in log
        for line in log.splitlines():
            if '"my_app.request_log"' in line:
                entry = json.loads(line)
                assert {"request_id", "op", "user", "status", "duration_ms"} <= entry.keys()
                streamed += entry["op"] == "threads.create" and entry["status"] == 200
    assert streamed >= CONCURRENT_TURNS
