"""A real OCI builder for the tests: Podman from Debian packages, and a stand-in base image.

The generated Dockerfile starts ``FROM python:3.11-slim``. :func:`ensure_base_image` uses that
image when the store has it or a registry gives it; where no registry answers, it builds a
stand-in from Debian bookworm packages (``mmdebstrap``: Python 3.11, pip, ``python`` on ``PATH``,
``groupadd``/``useradd``) and tags it ``docker.io/library/python:3.11-slim``, so the shipped
Dockerfile builds unchanged. The stand-in is built once per machine and reused while its recipe is
unchanged (a label records the recipe's hash).

CI prepares the machine before the tests, as root on Debian::

    uv run python -m tests.e2e.oci setup

which installs the packages (:data:`PACKAGES`) when missing and makes the base image available.
The tests never install packages: without Podman they fail, naming that command.

Two quirks of some machines are handled for every machine:

- Podman asks the runtime for ``nofile`` and ``nproc`` limits of 1048576, which a root without
  ``CAP_SYS_RESOURCE`` (a sandbox) cannot grant; every build and run asks for limits the current
  process already has instead (:func:`ulimit_options`).
- crun refuses a hybrid cgroup hierarchy (cgroup v1 with controllers also on the v2 mount); runc
  runs on every hierarchy, so it is the runtime used.

A TLS-intercepting proxy's CA that the host trusts (``/usr/local/share/ca-certificates``) is
trusted by the stand-in too, and ``SSL_CERT_FILE`` points uv at the system bundle: without them
``pip install uv`` and ``uv sync`` cannot reach PyPI from such a machine. Machines without local
CAs get neither.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: Debian packages of the builder: Podman, the runtime it uses, and user-mode networking (the
#: containers reach the host's loopback through slirp4netns).
RUN_PACKAGES = ("podman", "runc", "slirp4netns")
#: What :data:`RUN_PACKAGES` need to build the stand-in base image besides.
PACKAGES = (*RUN_PACKAGES, "mmdebstrap")

#: The image the generated Dockerfile's ``FROM python:${PYTHON_VERSION}-slim`` resolves to.
BASE_IMAGE = "docker.io/library/python:3.11-slim"

#: The label that marks (and versions) the stand-in base image.
STAND_IN_LABEL = "org.chatkit-scaffold.stand-in"

RUNTIME = "runc"

#: Where a container sees the host's loopback interface (slirp4netns with host loopback allowed).
HOST_FROM_CONTAINER = "10.0.2.2"
NETWORK = "slirp4netns:allow_host_loopback=true"

SETUP_COMMAND = "uv run python -m tests.e2e.oci setup"

_MIRROR = "http://deb.debian.org/debian"
_LOCAL_CAS = Path("/usr/local/share/ca-certificates")
_SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

# The essential set plus what the Dockerfile uses; docs, man pages and translations left out as
# in the official slim images. Unsafe I/O: the tree is written once and imported, never booted.
_BOOTSTRAP = (
    "mmdebstrap",
    "--quiet",
    "--variant=essential",
    # Merged /usr by symlinks, as debootstrap does; else apt pulls usrmerge, and with it Perl.
    "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
    # libstdc++6: in the official slim image (apt links it); greenlet, SQLAlchemy's async
    # bridge, needs it.
    "--include=passwd,python3,python3-pip,python-is-python3,libstdc++6",
    "--dpkgopt=force-unsafe-io",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/info/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    # The official image's pip installs into the system Python; Debian's refuses (PEP 668).
    '--customize-hook=rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',
)
_CONFIG = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)
_TRUST_LOCAL_CAS = (
    f'--customize-hook=cp {_LOCAL_CAS}/*.crt "$1"{_LOCAL_CAS}/',
    '--customize-hook=chroot "$1" update-ca-certificates',
)


class BuilderMissing(RuntimeError):
    """Podman or another package of :data:`PACKAGES` is not installed."""


@dataclass(frozen=True)
class BuiltImage:
    """An image in the local store (run it by ``image_id``: the tag may move), and its cost."""

    tag: str
    image_id: str
    build_seconds: float
    size_bytes: int


def run(
    command: Sequence[str], *, timeout: float = 900, env: Mapping[str, str] | None = None
) -> str:
    """Run ``command``; raise with its output unless it exits 0; return its stdout."""
    completed = subprocess.run(
        list(command),
        stdin=subprocess.DEVNULL,
        env=None if env is None else {**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(command)}` exited {completed.returncode}:\n"
            f"{completed.stdout[-10000:]}\n{completed.stderr[-10000:]}"
        )
    return completed.stdout


def podman(*args: str, timeout: float = 900) -> str:
    """Run ``podman ARGS`` with :data:`RUNTIME` (for builds too)."""
    return run(["podman", "--runtime", RUNTIME, *args], timeout=timeout)


def ulimit_options() -> list[str]:
    """``--ulimit`` options for limits the current process has, capped at Podman's defaults.

    Podman 4.3 sets its own ``nproc`` limit to 32768 before it starts the runtime.
    """
    nofile = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 1_048_576)
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 32_768)
    return ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={nproc}:{nproc}"]


def missing_packages(packages: Sequence[str] = PACKAGES) -> list[str]:
    """The ``packages`` whose command (of the same name) is not installed."""
    return [name for name in packages if shutil.which(name) is None]


def require_builder() -> None:
    """Raise :class:`BuilderMissing`, naming the set-up command, unless Podman can run here."""
    missing = missing_packages(RUN_PACKAGES)
    if missing:
        raise BuilderMissing(
            f"not installed: {', '.join(missing)}. The Docker image tests need a real OCI "
            f"builder: run `{SETUP_COMMAND}` (as root on Debian: apt-get install "
            f"{' '.join(PACKAGES)}, then the stand-in base image)."
        )


def install_builder() -> None:
    """Install :data:`PACKAGES` with apt-get when any is missing (root on Debian)."""
    if not missing_packages():
        return
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    quiet = {"DEBIAN_FRONTEND": "noninteractive"}
    try:
        run(install, env=quiet)
    except RuntimeError:  # stale package lists
        run(["apt-get", "update", "-q"], env=quiet)
        run(install, env=quiet)
    require_builder()


def _local_cas() -> list[Path]:
    return sorted(_LOCAL_CAS.glob("*.crt")) if _LOCAL_CAS.is_dir() else []


def _recipe() -> tuple[list[str], list[str], str]:
    """The bootstrap command, the image configuration, and their hash (with the local CAs)."""
    cas = _local_cas()
    bootstrap = [*_BOOTSTRAP, *(_TRUST_LOCAL_CAS if cas else ())]
    config = [*_CONFIG, *((f"ENV SSL_CERT_FILE={_SYSTEM_BUNDLE}",) if cas else ())]
    digest = hashlib.sha256(json.dumps([bootstrap, config, _MIRROR]).encode())
    for ca in cas:
        digest.update(ca.read_bytes())
    return bootstrap, config, digest.hexdigest()[:16]


def _image_labels(tag: str) -> dict[str, str] | None:
    """The labels of image ``tag``, or ``None`` when the store has no such image."""
    found = subprocess.run(
        ["podman", "image", "exists", tag], capture_output=True, check=False
    ).returncode
    if found != 0:
        return None
    labels = json.loads(podman("image", "inspect", "--format", "{{json .Labels}}", tag))
    return labels or {}


def _scratch_root() -> str | None:
    """A RAM-backed folder for the root file system when it has room (1 GB), else the default."""
    shm = Path("/dev/shm")
    if shm.is_dir() and shutil.disk_usage(shm).free > 1_000_000_000:
        return str(shm)
    return None


@contextmanager
def _machine_lock(name: str) -> Iterator[None]:
    """Serialise work on a machine-wide resource across processes (xdist workers, sessions)."""
    with (Path(tempfile.gettempdir()) / f"chatkit-scaffold-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@dataclass(frozen=True)
class BaseImage:
    """How :data:`BASE_IMAGE` came to be there (``found``, ``pulled`` or ``built``) and when."""

    how: str
    seconds: float


def _pull(image: str) -> bool:
    """Whether pulling ``image`` from its registry worked (it fails at once where none answers)."""
    pulled = subprocess.run(
        ["podman", "pull", "--quiet", image], capture_output=True, timeout=600, check=False
    )
    return pulled.returncode == 0


def ensure_base_image() -> BaseImage:
    """Make :data:`BASE_IMAGE` available: the one in the store, a pull, or the stand-in.

    An image in the store is used as it is, unless it is a stand-in of another recipe. Otherwise
    the registry is tried first, so that a machine that can pull never gets the stand-in.
    """
    require_builder()
    bootstrap, config, recipe = _recipe()
    started = time.monotonic()
    with _machine_lock("oci-base"):
        labels = _image_labels(BASE_IMAGE)
        if labels is not None and labels.get(STAND_IN_LABEL, recipe) == recipe:
            return BaseImage("found", 0.0)
        stale = labels and podman("image", "inspect", "--format", "{{.Id}}", BASE_IMAGE).strip()
        if _pull(BASE_IMAGE):
            return BaseImage("pulled", time.monotonic() - started)
        if shutil.which("mmdebstrap") is None:
            raise BuilderMissing(f"mmdebstrap is not installed: run `{SETUP_COMMAND}`")
        with tempfile.TemporaryDirectory(prefix="oci-base-", dir=_scratch_root()) as scratch:
            tarball = Path(scratch) / "rootfs.tar"
            command = [*bootstrap, "--format=tar", "bookworm", str(tarball), _MIRROR]
            run(command, env={"TMPDIR": scratch})
            changes = [f"--change={line}" for line in config]
            label = f"--change=LABEL {STAND_IN_LABEL}={recipe}"
            podman("import", *changes, label, str(tarball), BASE_IMAGE)
        if stale:  # a stand-in of an older recipe, now untagged
            subprocess.run(["podman", "rmi", stale], capture_output=True, check=False)
        return BaseImage("built", time.monotonic() - started)


def image_size(tag: str) -> int:
    """The size of image ``tag`` in bytes, as ``podman images`` reports it."""
    return int(podman("image", "inspect", "--format", "{{.Size}}", tag).strip())


def build_image(context: Path, tag: str) -> BuiltImage:
    """Build ``context``'s Dockerfile as ``tag``, with the layer cache, as Docker would.

    The Docker image format keeps the ``HEALTHCHECK`` (the OCI format has no such field).
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="oci-build-") as scratch:
        iidfile = Path(scratch) / "image-id"
        podman(
            "build",
            *ulimit_options(),
            "--format=docker",
            f"--iidfile={iidfile}",
            f"--tag={tag}",
            str(context),
        )
        image_id = iidfile.read_text().strip()
    return BuiltImage(tag, image_id, time.monotonic() - started, image_size(image_id))


def setup() -> None:
    """Install the builder and build the stand-in base image; print what it took."""
    started = time.monotonic()
    install_builder()
    print(f"builder: {' '.join(PACKAGES)} ready in {time.monotonic() - started:.1f} s")
    base = ensure_base_image()
    size = image_size(BASE_IMAGE) / 1_000_000
    print(f"base image {BASE_IMAGE}: {base.how} in {base.seconds:.1f} s, {size:.0f} MB")


if __name__ == "__main__":
    if sys.argv[1:] != ["setup"]:
        sys.exit(f"usage: {SETUP_COMMAND}")
    setup()
