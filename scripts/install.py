"""Install chatkit-scaffold from this checkout, with uv, on any machine with Python 3.11+.

    python3 scripts/install.py [new NAME ...]

1. Finds uv on PATH, or in this installer's own folder; otherwise installs it there, into a
   private virtual environment (so an externally managed system Python, PEP 668, is never
   touched), or, where `venv` is unavailable, from the uv wheel on PyPI.
2. `uv tool install`s the tool from this checkout: an isolated environment with the tool's
   runtime dependencies only (not its test and lint tools), and the `chatkit-scaffold` command in
   uv's tool bin folder (`~/.local/bin` by default).
3. Runs `chatkit-scaffold` with the arguments given (for example `new ~/my-app`), and says how
   to put the command on PATH when it is not.

Only the standard library is used. `--uv-from-wheel` skips the virtual environment (tests use
it to exercise the fallback).
"""

from __future__ import annotations

import io
import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import urllib.request
import venv
import zipfile
from pathlib import Path
from urllib.parse import urljoin

CHECKOUT = Path(__file__).resolve().parent.parent
PYPI_UV = "https://pypi.org/pypi/uv/json"
MIN_PYTHON = (3, 11)


def data_dir() -> Path:
    """Where the installer keeps a uv of its own (XDG data home)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "chatkit-scaffold-installer"


def find_uv() -> Path | None:
    """uv on PATH, or the one this installer installed before."""
    found = shutil.which("uv")
    if found:
        return Path(found)
    for candidate in (data_dir() / "venv" / "bin" / "uv", data_dir() / "bin" / "uv"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def uv_in_venv() -> Path:
    """uv installed with pip into a private virtual environment."""
    target = data_dir() / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    python = target / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "uv"], check=True)
    return target / "bin" / "uv"


def wheel_tags() -> list[str]:
    """Platform tag fragments of uv wheels that run here, most specific first."""
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    if sys.platform.startswith("linux"):
        libc = "musllinux" if "musl" in (platform.libc_ver()[0] or "").lower() else "manylinux"
        return [f"{libc}_", arch]
    if sys.platform == "darwin":
        return ["macosx", "arm64" if arch == "aarch64" else "x86_64"]
    raise SystemExit("Install uv first (https://docs.astral.sh/uv/), then run this again.")


def uv_from_wheel() -> Path:
    """uv's binary, taken out of its wheel on PyPI (no pip, no venv needed)."""
    with urllib.request.urlopen(PYPI_UV, timeout=60) as response:
        release = json.load(response)
        base = response.geturl()
    parts = wheel_tags()
    candidates = [
        file
        for file in release["urls"]
        if file["filename"].endswith(".whl") and all(part in file["filename"] for part in parts)
    ]
    if not candidates:
        raise SystemExit(f"No uv wheel for {platform.platform()}; install uv by hand.")
    # A mirror may answer with URLs relative to the JSON document.
    with urllib.request.urlopen(urljoin(base, candidates[0]["url"]), timeout=300) as response:
        wheel = zipfile.ZipFile(io.BytesIO(response.read()))
    member = next(name for name in wheel.namelist() if name.endswith("/scripts/uv"))
    target = data_dir() / "bin" / "uv"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(wheel.read(member))
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return target


def ensure_uv(from_wheel: bool) -> Path:
    found = find_uv()
    if found is not None:
        return found
    print("uv not found: installing it into", data_dir(), file=sys.stderr)
    if not from_wheel:
        try:
            return uv_in_venv()
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"A virtual environment did not work ({exc}); using uv's wheel.", file=sys.stderr)
    return uv_from_wheel()


def main(argv: list[str]) -> int:
    if sys.version_info < MIN_PYTHON:
        raise SystemExit("chatkit-scaffold needs Python 3.11 or newer.")
    from_wheel = "--uv-from-wheel" in argv
    arguments = [argument for argument in argv if argument != "--uv-from-wheel"]
    uv = ensure_uv(from_wheel)
    install = [str(uv), "tool", "install", "--force", "--python", sys.executable, str(CHECKOUT)]
    subprocess.run(install, check=True, stdout=subprocess.DEVNULL)
    bin_dir = Path(
        subprocess.run(
            [str(uv), "tool", "dir", "--bin"], check=True, capture_output=True, text=True
        ).stdout.strip()
    )
    command = bin_dir / "chatkit-scaffold"
    print(f"Installed {command}", file=sys.stderr)
    if str(bin_dir) not in os.environ.get("PATH", "").split(os.pathsep):
        print(
            f'Add it to PATH: export PATH="{bin_dir}:$PATH" (or run: {uv} tool update-shell)',
            file=sys.stderr,
        )
    if arguments:
        return subprocess.run([str(command), *arguments], check=False).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
