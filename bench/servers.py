"""The processes of the bench: generated projects, their databases, the servers and the fake.

Every server runs as a direct child (``<project>/.venv/bin/python -m uvicorn ...``, no ``uv run``
wrapper), so its pid is the process whose CPU time and memory the bench reads. Each one runs in
its own process group and is always stopped, with its group, when the bench ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "bench_app"
ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
START_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 15.0

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """A server process on 127.0.0.1: started, awaited until it answers, always stopped."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        port: int,
        log_path: Path,
        ready_path: str = "/health",
    ) -> None:
        self.name, self.command, self.cwd, self.env = name, list(command), cwd, dict(env)
        self.port, self.log_path, self.ready_path = port, log_path, ready_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        """Wait until the server answers its readiness request (bounded)."""
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            try:
                if self._ready():
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"{self.name} did not become ready:\n{self.log_tail()}")

    def _ready(self) -> bool:
        if self.ready_path == "/chatkit":
            body = {"type": "threads.list", "params": {"limit": 1}}
            response = httpx.post(f"{self.url}/chatkit", json=body, timeout=5)
        else:
            response = httpx.get(f"{self.url}{self.ready_path}", timeout=5)
        return response.status_code == 200

    def log_tail(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """Stop the process group: SIGTERM, then SIGKILL if it lingers."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            process.wait()
