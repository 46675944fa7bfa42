"""Run a built image with Podman: a named volume, a container on a loopback port, always removed.

The container gets its own network namespace (slirp4netns) with a port published on the host's
127.0.0.1 only; it reaches servers on the host's loopback (the fake provider, PostgreSQL, the S3
server) at :data:`~tests.e2e.oci.HOST_FROM_CONTAINER`, which :func:`from_container` substitutes.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import httpx

from . import oci
from .server_process import free_port

_START_TIMEOUT_SECONDS = 120.0
_STOP_TIMEOUT_SECONDS = 30


def from_container(url: str) -> str:
    """``url`` of a server on the host's loopback, as a container reaches it."""
    return re.sub(r"(?<=[/@])127\.0\.0\.1(?=[:/]|$)", oci.HOST_FROM_CONTAINER, url)


class Container:
    """A running container of the image, serving on ``url``."""

    def __init__(self, name: str, port: int) -> None:
        self.name, self.port = name, port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        completed = subprocess.run(
            ["podman", "logs", self.name], capture_output=True, text=True, check=False
        )
        return completed.stdout + completed.stderr

    def state(self) -> dict[str, object]:
        state: dict[str, object] = json.loads(
            oci.podman("inspect", "--format", "{{json .State}}", self.name)
        )
        return state

    def exec(self, *command: str) -> str:
        """Run ``command`` in the container, as its user; return its output."""
        return oci.podman("exec", self.name, *command)

    def healthcheck(self) -> subprocess.CompletedProcess[str]:
        """Run the image's ``HEALTHCHECK`` once, as the engine would."""
        return subprocess.run(
            ["podman", "--runtime", oci.RUNTIME, "healthcheck", "run", self.name],
            capture_output=True,
            text=True,
            check=False,
        )

    def stop(self) -> int:
        """Stop the container as ``docker stop`` does (SIGTERM, then SIGKILL); its exit code."""
        oci.podman("stop", "--time", str(_STOP_TIMEOUT_SECONDS), self.name)
        code = self.state()["ExitCode"]
        assert isinstance(code, int)
        return code

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if not self.state()["Running"]:
                raise AssertionError(f"the container exited:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"the container did not become healthy:\n{self.logs()}")


@contextmanager
def volume() -> Iterator[str]:
    """A new named volume, removed afterwards."""
    name = f"chatkit-e2e-{uuid.uuid4().hex[:12]}"
    oci.podman("volume", "create", name)
    try:
        yield name
    finally:
        subprocess.run(["podman", "volume", "rm", "--force", name], capture_output=True)


@contextmanager
def container(
    image_id: str, *, env: Mapping[str, str], data_volume: str, options: Sequence[str] = ()
) -> Iterator[Container]:
    """Start ``image_id`` with ``data_volume`` on ``/app/data`` (and ``podman run`` ``options``);
    yield it once healthy."""
    name = f"chatkit-e2e-{uuid.uuid4().hex[:12]}"
    port = free_port()
    arguments = [*options, *(f"--env={key}={value}" for key, value in env.items())]
    oci.podman(
        "run",
        "--detach",
        f"--name={name}",
        *oci.ulimit_options(),
        f"--network={oci.NETWORK}",
        f"--publish=127.0.0.1:{port}:8000",
        f"--volume={data_volume}:/app/data",
        *arguments,
        image_id,
    )
    running = Container(name, port)
    try:
        running.wait_healthy()
        yield running
    finally:
        subprocess.run(
            ["podman", "rm", "--force", "--time=0", name], capture_output=True, check=False
        )
