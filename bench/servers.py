"""The processes of the bench: generated projects, their databases, the servers and the fake.

Every server runs as a direct child (``<project>/.venv/bin/python -m uvicorn ...``, no ``uv run``
wrapper), so its pid is the process whose CPU time and memory the bench reads. Each one runs in
its own process group and is always stopped, with its group, when the bench ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import httpx

from tests.e2e.server_process import ServerProcess

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "bench_app"
ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
START_TIMEOUT_S = 600.0

#: Variables of the bench's own environment that must not reach a project's processes.
_LEAKY = (
    "VIRTUAL_ENV",
    "UV_PROJECT_ENVIRONMENT",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONDONTWRITEBYTECODE",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "DATABASE_URL",
    "LOG_LEVEL",
)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a project's processes: the bench's, minus what would leak into it."""
    env = {key: value for key, value in os.environ.items() if key not in _LEAKY}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.update(extra or {})
    return env


def run(command: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> str:
    """Run a command to completion; raise with its output unless it exits 0."""
    completed = subprocess.run(
        list(command),
        cwd=cwd,
        env=dict(env) if env is not None else clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(command)}` exited {completed.returncode}:\n{completed.stdout[-5000:]}"
        )
    return completed.stdout


def generate(root: Path, database: str, source: Path | None = None, name: str = "") -> Path:
    """Generate and ``uv sync`` a project on ``database``.

    The tool is this checkout's, or the one in ``source`` (a tree of another commit, run with
    this environment's dependencies).
    """
    project = root / f"app-{name or database}"
    tool = [sys.executable, "-m", "chatkit_scaffold", "new", "bench-app", "-o", str(project)]
    env = clean_env({"PYTHONPATH": str(source)} if source is not None else None)
    run([*tool, "-y", "--database", database], cwd=source or REPO, env=env)
    run(["uv", "sync", "--quiet"], cwd=project)
    return project


def export(ref: str, target: Path) -> Path:
    """The tree of git ``ref`` in ``target`` (no worktree bookkeeping)."""
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", ref], cwd=REPO, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def python_of(project: Path) -> str:
    return str(project / ".venv" / "bin" / "python")


@contextmanager
def postgres_database(project: Path) -> Iterator[str]:
    """A fresh database on the local server (with the project's asyncpg); dropped afterwards."""
    name = f"chatkit_bench_{uuid.uuid4().hex[:12]}"
    admin_sql(project, f'CREATE DATABASE "{name}"')
    try:
        yield f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        admin_sql(project, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def admin_sql(project: Path, statement: str, url: str = ADMIN_URL) -> None:
    """Run one statement on ``url`` (outside a transaction) with the project's asyncpg."""
    script = (
        "import asyncio, sys, asyncpg\n"
        "async def run():\n"
        "    conn = await asyncpg.connect(dsn=sys.argv[1])\n"
        "    try:\n"
        "        await conn.execute(sys.argv[2])\n"
        "    finally:\n"
        "        await conn.close()\n"
        "asyncio.run(run())\n"
    )
    run([python_of(project), "-c", script, url, statement], cwd=project)


def chatkit_answers(url: str) -> bool:
    """The readiness check of a server without `/health` (the quickstart): `threads.list`."""
    body = {"type": "threads.list", "params": {"limit": 1}}
    return httpx.post(f"{url}/chatkit", json=body, timeout=5).status_code == 200


bench_server = partial(ServerProcess, start_timeout=START_TIMEOUT_S)
"""A bench server: the tests' process helper, with a start time-out for a loaded machine."""
