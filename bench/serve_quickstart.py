"""Serve the quickstart baseline under uvicorn, after filling its in-memory store with the seed.

Runs inside a generated project's environment (so every library has the generated project's
version), with the repository root on ``PYTHONPATH``:

    .venv/bin/python -m bench.serve_quickstart --port 8001 --layout JSON

``uvicorn.run`` gets the app object with uvicorn's defaults, as ``uvicorn module:app`` would.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import uvicorn

from bench.quickstart.main import app, server
from bench.seed import Layout, threads


async def seed(layout: Layout) -> None:
    """Write the seed through the quickstart store's own methods."""
    for thread, items in threads(layout):
        await server.store.save_thread(thread, {})
        for item in items:
            await server.store.add_thread_item(thread.id, item, {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--layout", required=True, help="Layout as JSON")
    args = parser.parse_args()
    started = time.perf_counter()
    asyncio.run(seed(Layout.from_json(args.layout)))
    print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
