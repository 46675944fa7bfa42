"""Seed a generated project's database through its own store module (``create_store``).

Runs inside the project's environment, with the repository root on ``PYTHONPATH``:

    .venv/bin/python -m bench.seed_store --package bench_app --database-url URL --layout JSON

It writes through the store's public methods (``save_thread``, ``add_thread_item``), with a few
writers at once, so the rows are exactly what the app would write, far faster than streamed turns.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import time
from typing import Any

from bench.seed import Layout, threads

WRITERS = 8


async def seed(package: str, database_url: str, layout: Layout) -> float:
    """Fill an empty database; return the seconds it took."""
    stores = importlib.import_module(f"{package}.stores")
    context_module = importlib.import_module(f"{package}.context")
    auth = importlib.import_module(f"{package}.auth")
    context: Any = context_module.RequestContext(user_id=auth.LOCAL_USER_ID)
    store = stores.create_store(database_url, pool_size=WRITERS)
    started = time.perf_counter()
    try:
        await store.initialize()
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=WRITERS * 64)

        async def writer() -> None:
            while (job := await queue.get()) is not None:
                thread_id, item = job
                await store.add_thread_item(thread_id, item, context)

        workers = [asyncio.create_task(writer()) for _ in range(WRITERS)]
        for thread, items in threads(layout):
            await store.save_thread(thread, context)
            for item in items:
                await queue.put((thread.id, item))
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
    finally:
        await store.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--layout", required=True, help="Layout as JSON")
    args = parser.parse_args()
    seconds = asyncio.run(seed(args.package, args.database_url, Layout.from_json(args.layout)))
    print(f"seeded in {seconds:.1f} s")


if __name__ == "__main__":
    main()
