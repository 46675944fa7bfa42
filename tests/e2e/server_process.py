"""Start a generated app's server as a subprocess and always stop it, with its children."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

_START_TIMEOUT_SECONDS = 90.0
_STOP_TIMEOUT_SECONDS = 15.0


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def health_answers(url: str) -> bool:
    """The readiness check of a generated app: ``GET /health`` answers 200."""
    return httpx.get(f"{url}/health", timeout=2).status_code == 200


class ServerProcess:
    """A server command run in its own process group, logged to ``log_path``.

    ``start()`` (or entering it as a context manager) launches it and waits until
    ``ready_check(url)`` holds; exiting kills the whole process group (``uv run`` starts uvicorn
    as a child), even when a test fails. The bench launches several, then waits for each.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        port: int,
        log_path: Path,
        name: str = "the server",
        ready_check: Callable[[str], bool] = health_answers,
        start_timeout: float = _START_TIMEOUT_SECONDS,
    ) -> None:
        self.command, self.cwd, self.env, self.port = list(command), cwd, dict(env), port
        self.log_path, self.name = log_path, name
        self._ready_check, self._start_timeout = ready_check, start_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._process.pid

    def exited(self) -> bool:
        """It was launched and is no longer running."""
        return self._process is not None and self._process.poll() is not None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        """Launch it and wait until it is ready; stopped again if it never is."""
        self.launch()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def launch(self) -> None:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        """Wait until the ready check holds, at most the start time-out."""
        assert self._process is not None
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited with {self._process.returncode}:\n{self.log()}"
                )
            try:
                if self._ready_check(self.url):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} did not become ready:\n{self.log()}")

    def stop(self) -> None:
        """Terminate the process group; kill it if it does not exit in time."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            process.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
