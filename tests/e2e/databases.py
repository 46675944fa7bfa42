"""Throw-away PostgreSQL databases for servers under test.

The server is ``TEST_DATABASE_URL`` (the same variable the generated projects' tests read),
by default the local one CI provides. The databases are created and dropped with the generated
project's own asyncpg, so the tool's environment needs no PostgreSQL driver.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import run_checked

ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

_ADMIN_SCRIPT = """
import asyncio
import sys

import asyncpg


async def main(admin_url: str, action: str, name: str) -> None:
    conn = await asyncpg.connect(dsn=admin_url)
    try:
        if action == "create":
            await conn.execute(f'CREATE DATABASE "{name}"')
        else:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


asyncio.run(main(*sys.argv[1:]))
"""


@contextmanager
def fresh_database(project: Path) -> Iterator[str]:
    """Create an empty database, yield its URL, drop it afterwards."""
    name = f"chatkit_e2e_{uuid.uuid4().hex[:12]}"

    def admin(action: str) -> None:
        command = ["uv", "run", "python", "-c", _ADMIN_SCRIPT, ADMIN_URL, action, name]
        run_checked(command, project)

    admin("create")
    try:
        yield f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        admin("drop")
