"""Benchmark the generated ChatKit stores at 100k rows.

For each backend this generates a project with this checkout's CLI (`--database sqlite`, then
`--database postgres`), installs it with `uv sync`, and runs this same script inside the project's
environment as a worker. The worker fills a fresh database (a temporary SQLite file, or a
temporary PostgreSQL database created through TEST_DATABASE_URL) through the store API and
measures:

- insert throughput of `save_thread` and `add_thread_item` (`--concurrency` writers at once);
- `threads.list` (`load_threads`) and `items.list` (`load_thread_items`) page latency, p50 and
  p95, for first pages and for pages behind a random `after` cursor, in both orders.

With `--baseline REF` it also renders each project with the tool as it was at git `REF` (a
temporary worktree) and runs the two side by side, baseline first, printing the ratio of each
figure (current / baseline): the figures of one run on one machine, comparable with each other.

Usage (from the repository root; needs uv, and PostgreSQL for the postgres backend):

    .venv/bin/python bench/store_bench.py [--rows 100000] [--backends sqlite,postgres]
        [--baseline 86f1597^1]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import random
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "bench_app"
USERS = 100
THREADS_WITH_ITEMS = 100
PAGE_SIZE = 20
SAMPLES = 300
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="threads, and items, to insert")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent writers")
    parser.add_argument("--baseline", metavar="REF", help="also bench the tool at git REF")
    parser.add_argument(
        "--rounds", type=int, default=1, help="with --baseline: alternate the two this many times"
    )
    parser.add_argument("--worker", metavar="BACKEND", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # Every user, and every thread with items, needs a few full pages.
    minimum = max(USERS, THREADS_WITH_ITEMS) * PAGE_SIZE * 3
    if args.rows < minimum:
        parser.error(f"--rows must be at least {minimum}")
    if args.worker:
        with database_url(args.worker) as url:
            result = asyncio.run(measure(url, args.rows, args.concurrency))
        print(json.dumps(result))
        return
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    unknown = set(backends) - {"sqlite", "postgres"}
    if unknown:
        parser.error(f"unknown backend(s) {sorted(unknown)}; choose from sqlite, postgres")
    with tool_at(args.baseline) as baseline_tool:
        for backend in backends:
            print(f"\n== {backend}: {args.rows:,} threads and {args.rows:,} items", flush=True)
            if baseline_tool is None:
                report(run_in_project(REPO, backend, args.rows, args.concurrency))
                continue
            with project_of(baseline_tool, backend) as old, project_of(REPO, backend) as new:
                befores: list[dict[str, Any]] = []
                afters: list[dict[str, Any]] = []
                for round_ in range(args.rounds):
                    # Alternate which goes first, so that a drift of the machine's load
                    # falls on both sides.
                    order = [(old, befores), (new, afters)]
                    for project, results in order if round_ % 2 == 0 else order[::-1]:
                        results.append(run_worker(project, backend, args.rows, args.concurrency))
            compare(args.baseline, median_of(befores), median_of(afters), args.rounds)


@contextmanager
def tool_at(ref: str | None) -> Iterator[Path | None]:
    """A checkout of the tool at git `ref` (a temporary worktree), or None without a ref."""
    if ref is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="store-bench-baseline-") as tmp:
        checkout = Path(tmp) / "tool"
        git = ["git", "-C", str(REPO), "worktree"]
        subprocess.run(
            [*git, "add", "--detach", str(checkout), ref], check=True, capture_output=True
        )
        try:
            yield checkout
        finally:
            subprocess.run([*git, "remove", "--force", str(checkout)], check=True)


@contextmanager
def project_of(tool: Path, backend: str) -> Iterator[Path]:
    """A project for `backend` rendered by the tool in `tool`, installed, deleted after."""
    with tempfile.TemporaryDirectory(prefix=f"store-bench-{backend}-") as tmp:
        project = Path(tmp) / "bench-app"
        new = ["uv", "run", "--quiet", "--project", str(tool), "python", "-m", "chatkit_scaffold"]
        new += ["new", "bench-app", "-y", "-o", str(project), "--database", backend]
        subprocess.run([*new, "--file-store", "none"], cwd=tool, check=True, capture_output=True)
        subprocess.run(["uv", "sync", "--quiet", "--no-dev"], cwd=project, check=True)
        yield project


def run_in_project(tool: Path, backend: str, rows: int, concurrency: int) -> dict[str, Any]:
    """Render a project for `backend` with the tool in `tool` and run the worker in it."""
    with project_of(tool, backend) as project:
        return run_worker(project, backend, rows, concurrency)


def run_worker(project: Path, backend: str, rows: int, concurrency: int) -> dict[str, Any]:
    """This script as a worker in `project`'s environment, on a fresh database."""
    completed = subprocess.run(
        [
            str(project / ".venv" / "bin" / "python"),
            str(Path(__file__).resolve()),
            "--worker",
            backend,
            "--rows",
            str(rows),
            "--concurrency",
            str(concurrency),
        ],
        cwd=project,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def median_of(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per figure, the median over rounds (of the rates, and of the p50s)."""
    first = results[0]
    return {
        "inserts_per_second": {
            name: statistics.median(r["inserts_per_second"][name] for r in results)
            for name in first["inserts_per_second"]
        },
        "latency_ms": {
            name: {"p50": statistics.median(r["latency_ms"][name]["p50"] for r in results)}
            for name in first["latency_ms"]
        },
    }


def compare(ref: str, before: dict[str, Any], after: dict[str, Any], rounds: int) -> None:
    """Baseline and current figures side by side, with current / baseline."""
    print(f"  medians of {rounds} round(s), baseline and current alternating")
    print(f"  {'figure':<35} {ref:>12} {'current':>12} {'ratio':>7}")
    for name, rate in after["inserts_per_second"].items():
        old = before["inserts_per_second"][name]
        print(f"  insert/s {name:<26} {old:>12,.0f} {rate:>12,.0f} {rate / old:>6.2f}x")
    for name, stats in after["latency_ms"].items():
        old = before["latency_ms"][name]["p50"]
        print(f"  p50 ms {name:<28} {old:>12.2f} {stats['p50']:>12.2f} {stats['p50'] / old:>6.2f}x")


def report(result: dict[str, Any]) -> None:
    for name, rate in result["inserts_per_second"].items():
        print(f"  insert {name:<28} {rate:>10,.0f} rows/s")
    for name, stats in result["latency_ms"].items():
        print(f"  {name:<35} p50 {stats['p50']:7.2f} ms   p95 {stats['p95']:7.2f} ms")


# --- worker: runs inside the rendered project's environment -----------------------------------


@contextmanager
def database_url(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    admin_url = os.environ.get("TEST_DATABASE_URL", DEFAULT_ADMIN_URL)
    name = f"store_bench_{uuid.uuid4().hex[:12]}"
    admin_sql(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        admin_sql(admin_url, f'DROP DATABASE "{name}" WITH (FORCE)')


def admin_sql(admin_url: str, statement: str) -> None:
    """Run one statement outside a transaction with the project's driver: asyncpg, or psycopg
    in projects from before the SQLAlchemy store."""
    try:
        import asyncpg  # type: ignore[import-not-found]
    except ImportError:
        import psycopg  # type: ignore[import-not-found]

        with psycopg.connect(admin_url, autocommit=True) as sync_conn:
            sync_conn.execute(statement)
        return

    async def run() -> None:
        conn = await asyncpg.connect(dsn=admin_url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


async def measure(url: str, rows: int, concurrency: int) -> dict[str, Any]:
    stores = importlib.import_module(f"{PACKAGE}.stores")
    context_module = importlib.import_module(f"{PACKAGE}.context")
    types = importlib.import_module("chatkit.types")
    store = stores.create_store(url, pool_size=concurrency)
    await store.initialize()
    users = [context_module.RequestContext(user_id=f"user_{n}") for n in range(USERS)]
    start = datetime(2026, 1, 1)
    # Timestamps repeat in runs of 10, so ties on created_at are part of every page.
    threads = [
        types.ThreadMetadata(
            id=f"thr_{n:08d}", title=f"Thread {n}", created_at=start + timedelta(seconds=n // 10)
        )
        for n in range(rows)
    ]
    item_threads = threads[:THREADS_WITH_ITEMS]
    items = [
        types.AssistantMessageItem(
            id=f"msg_{n:08d}",
            thread_id=item_threads[n % THREADS_WITH_ITEMS].id,
            created_at=start + timedelta(seconds=n // 10),
            content=[types.AssistantMessageContent(text=f"Answer number {n}. " * 8)],
        )
        for n in range(rows)
    ]

    inserts = {
        "threads (save_thread)": await throughput(
            [partial(store.save_thread, t, users[n % USERS]) for n, t in enumerate(threads)],
            concurrency,
        ),
        "items (add_thread_item)": await throughput(
            [
                partial(
                    store.add_thread_item,
                    item.thread_id,
                    item,
                    users[n % THREADS_WITH_ITEMS % USERS],  # the owner of the item's thread
                )
                for n, item in enumerate(items)
            ],
            concurrency,
        ),
    }

    user = users[0]
    thread_id = item_threads[0].id
    # Cursors away from both ends, so every page is full in either order.
    thread_cursors = [t.id for n, t in enumerate(threads) if n % USERS == 0][PAGE_SIZE:-PAGE_SIZE]
    item_cursors = [i.id for i in items if i.thread_id == thread_id][PAGE_SIZE:-PAGE_SIZE]

    async def threads_page(order: str, after: str | None) -> Any:
        return await store.load_threads(PAGE_SIZE, after, order, user)

    async def items_page(order: str, after: str | None) -> Any:
        return await store.load_thread_items(thread_id, after, PAGE_SIZE, order, user)

    latency: dict[str, dict[str, float]] = {}
    for order in ("desc", "asc"):
        for name, fetch, cursors in [
            ("threads.list", threads_page, thread_cursors),
            ("items.list", items_page, item_cursors),
        ]:
            latency[f"{name} first page ({order})"] = await latencies(partial(fetch, order), [None])
            latency[f"{name} after cursor ({order})"] = await latencies(
                partial(fetch, order), cursors
            )
    await store.close()
    return {"inserts_per_second": inserts, "latency_ms": latency}


async def throughput(calls: list[Callable[[], Awaitable[None]]], concurrency: int) -> float:
    """Run `calls` with `concurrency` workers; return calls per second."""
    queue = iter(calls)

    async def writer() -> None:
        for call in queue:
            await call()

    began = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(concurrency)))
    return len(calls) / (time.perf_counter() - began)


async def latencies(
    fetch: Callable[[str | None], Awaitable[Any]], cursors: Sequence[str | None]
) -> dict[str, float]:
    """Milliseconds per page over SAMPLES sequential loads, each after a random cursor."""
    rng = random.Random(7)
    timings = []
    for _ in range(SAMPLES):
        after = rng.choice(cursors)
        began = time.perf_counter()
        page = await fetch(after)
        timings.append((time.perf_counter() - began) * 1000)
        if len(page.data) != PAGE_SIZE:
            raise AssertionError("a short page: the benchmark data is not what it expects")
    cuts = statistics.quantiles(timings, n=100)
    return {"p50": cuts[49], "p95": cuts[94]}


if __name__ == "__main__":
    main()
