"""Bring the database schema to the version this code needs (`python -m <package>.stores.migrate`).

`migrate(engine)` runs at start-up (`SqlStore.initialize`) and in the deployment's init
container. It creates the tables of `schema.metadata` that are missing; concurrent starts that
race to create them retry and find them there.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from .schema import metadata

ATTEMPTS = 3


async def migrate(engine: AsyncEngine) -> None:
    """Create the missing tables and indexes."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
            return
        except DBAPIError:
            if attempt == ATTEMPTS:
                raise
            await asyncio.sleep(0.1 * attempt)


async def _main() -> None:
    from ..settings import load_settings
    from . import create_store

    settings = load_settings()
    store = create_store(settings.database_url, pool_size=1)
    try:
        await store.initialize()
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(_main())
