"""The README's install command on a machine without uv, with an externally managed Python.

`scripts/install.py` runs under Debian's own `/usr/bin/python3` (PEP 668: externally managed),
with nothing but `/usr/bin:/bin` on PATH and a fresh home: it installs uv privately, the tool
with `uv tool install` (runtime dependencies only), and runs `new`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.e2e

SYSTEM_PYTHON = Path("/usr/bin/python3")

#: What reaching the package index needs on this machine (proxies, CA bundles), kept.
_NETWORK_VARIABLES = ("PROXY", "CERT", "CA_BUNDLE", "CA_CERTS", "PIP_")


def network_environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if any(part in name.upper() for part in _NETWORK_VARIABLES)
    }


@pytest.mark.parametrize("how", ["venv", "wheel"])
def test_install_then_new_on_a_machine_without_uv(tmp_path: Path, how: str) -> None:
    assert SYSTEM_PYTHON.is_file(), "the test needs the system's python3"
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **network_environment(),
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv")),
        "UV_PYTHON_DOWNLOADS": "never",
        "LANG": "C.UTF-8",
    }
    args = [str(SYSTEM_PYTHON), str(REPO_ROOT / "scripts" / "install.py")]
    if how == "wheel":
        args.append("--uv-from-wheel")
    work = tmp_path / "projects"
    work.mkdir()
    result = subprocess.run(
        [*args, "new", "my-app", "--yes"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (work / "my-app" / ".chatkit-scaffold.json").is_file()
    assert "Add it to PATH" in result.stderr
    tool = home / ".local" / "bin" / "chatkit-scaffold"
    assert tool.is_file()
    environment = home / ".local" / "share" / "uv" / "tools" / "chatkit-scaffold"
    installed = {path.name.split("-")[0].lower() for path in environment.rglob("*.dist-info")}
    assert {"typer", "jinja2", "chatkit_scaffold"} <= installed
    assert not installed & {"pytest", "mypy", "moto", "ruff", "playwright"}, installed
