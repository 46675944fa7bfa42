"""The bench's one client: ChatKit requests over HTTP, timed, with the server's CPU and memory.

A batch runs requests against one server and reads that server's CPU time before and after
(``/proc/<pid>/stat``), so ``cpu_per_request`` is the server's own work, not the client's. Turn
batches also sample the server's resident memory while they run. Each batch opens its own
connections (and a JSON batch primes its one connection before the clock starts): a connection
left idle while other servers are measured would be closed by uvicorn's keep-alive timeout.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.stats import cpu_seconds, rss_kib

TEXT_DELTA = "assistant_message.content_part.text_delta"
TURN_TIMEOUT_S = 120.0
RSS_SAMPLE_S = 0.02


@dataclass(frozen=True)
class Target:
    """One server under test: where it listens and which process serves it."""

    name: str
    url: str
    pid: int

    @property
    def endpoint(self) -> str:
        return f"{self.url}/chatkit"


@dataclass
class Batch:
    """What one batch measured on one server."""

    walls: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0
    requests: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def cpu_per_request(self) -> float:
        return self.cpu_seconds / self.requests if self.requests else 0.0


@dataclass
class Turn:
    """One streamed turn, timed by the client."""

    text: str
    first_delta: float | None = None
    total: float = 0.0
    error: str | None = None


@dataclass
class TurnBatch(Batch):
    turns: list[Turn] = field(default_factory=list)
    rss_before_kib: int = 0
    rss_peak_kib: int = 0


def new_client(connections: int = 32) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(TURN_TIMEOUT_S))


async def json_request(client: httpx.AsyncClient, target: Target, body: bytes) -> float:
    """Send one JSON request; its wall time in seconds. Anything but 200 raises."""
    started = time.perf_counter()
    response = await client.post(
        target.endpoint, content=body, headers={"content-type": "application/json"}
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{target.name}: HTTP {response.status_code}: {response.text[:300]}")
    return elapsed


async def json_batch(target: Target, body: bytes, count: int) -> Batch:
    """``count`` requests one after the other, on one connection opened beforehand."""
    batch = Batch(requests=count)
    async with new_client(1) as client:
        await json_request(client, target, body)
        before = cpu_seconds(target.pid)
        for _ in range(count):
            batch.walls.append(await json_request(client, target, body))
        batch.cpu_seconds = cpu_seconds(target.pid) - before
    return batch


def user_message(thread_id: str, text: str) -> bytes:
    """A ``threads.add_user_message`` request."""
    request = {
        "type": "threads.add_user_message",
        "params": {
            "thread_id": thread_id,
            "input": {
                "content": [{"type": "input_text", "text": text}],
                "attachments": [],
                "inference_options": {},
            },
        },
    }
    return json.dumps(request).encode()


async def streamed_turn(
    client: httpx.AsyncClient, target: Target, thread_id: str, text: str
) -> Turn:
    """Send a message and read the whole stream; never raises (errors are recorded)."""
    turn = Turn(text)
    started = time.perf_counter()
    try:
        async with client.stream(
            "POST",
            target.endpoint,
            content=user_message(thread_id, text),
            headers={"content-type": "application/json"},
        ) as response:
            if response.status_code != 200:
                await response.aread()
                turn.error = f"HTTP {response.status_code}: {response.text[:200]}"
            else:
                async for line in response.aiter_lines():
                    if not line.startswith("data: "):
                        continue
                    event = json.loads(line[6:])
                    if event["type"] == "error":
                        turn.error = f"error event: {event}"
                    elif (
                        turn.first_delta is None
                        and event["type"] == "thread.item.updated"
                        and event["update"]["type"] == TEXT_DELTA
                    ):
                        turn.first_delta = time.perf_counter() - started
            if turn.error is None and turn.first_delta is None:
                turn.error = "the stream ended without a text delta"
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        turn.error = f"{type(exc).__name__}: {exc}"
    turn.total = time.perf_counter() - started
    return turn


class RssSampler:
    """Samples a process's resident memory in a thread while a batch runs; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_kib(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(RSS_SAMPLE_S):
            self.peak = max(self.peak, rss_kib(self.pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kib(self.pid))


async def turn_batch(
    targets: Sequence[Target],
    jobs: Sequence[tuple[str, str]],
    *,
    concurrent: bool,
) -> TurnBatch:
    """Turns ``(thread id, text)``: all at once, or one after the other.

    With several targets (processes sharing one database) the jobs are dealt to them in turn;
    CPU time and memory are summed over the processes.
    """
    batch = TurnBatch(requests=len(jobs))
    pids = [target.pid for target in targets]
    batch.rss_before_kib = sum(rss_kib(pid) for pid in pids)
    before = sum(cpu_seconds(pid) for pid in pids)
    samplers = [RssSampler(pid) for pid in pids]
    client = new_client(len(jobs) + 1)
    for sampler in samplers:
        sampler.__enter__()
    try:
        calls: list[Callable[[], Awaitable[Turn]]] = [
            _bind(client, targets[index % len(targets)], thread_id, text)
            for index, (thread_id, text) in enumerate(jobs)
        ]
        if concurrent:
            batch.turns = list(await asyncio.gather(*(call() for call in calls)))
        else:
            batch.turns = [await call() for call in calls]
    finally:
        for sampler in samplers:
            sampler.__exit__()
        await client.aclose()
    batch.cpu_seconds = sum(cpu_seconds(pid) for pid in pids) - before
    batch.rss_peak_kib = sum(sampler.peak for sampler in samplers)
    batch.walls = [turn.total for turn in batch.turns]
    batch.errors = [turn.error for turn in batch.turns if turn.error is not None]
    return batch


def _bind(
    client: httpx.AsyncClient, target: Target, thread_id: str, text: str
) -> Callable[[], Awaitable[Turn]]:
    def call() -> Awaitable[Turn]:
        return streamed_turn(client, target, thread_id, text)

    return call


async def fake_timings(fake_url: str) -> dict[str, Any]:
    """The fake model's records since the last call: ``{text: [first delta, last delta]}``."""
    async with new_client(1) as client:
        response = await client.get(f"{fake_url}/timings")
    response.raise_for_status()
    timings: dict[str, Any] = response.json()
    return timings
