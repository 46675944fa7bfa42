"""The CLI as a real process: no terminal never hangs, exit codes, --help stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chatkit_scaffold.manifest import MANIFEST_NAME


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatkit_scaffold", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_no_terminal_and_no_yes_takes_defaults_without_hanging(tmp_path: Path) -> None:
    result = run_cli("new", "my-app", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "No terminal to prompt on: using the defaults" in result.stderr
    assert (tmp_path / "my-app" / MANIFEST_NAME).is_file()
    assert "uv run uvicorn my_app.main:app" in result.stdout


def test_exit_codes_of_a_real_process(tmp_path: Path) -> None:
    bad = run_cli("new", "my-app", "--database", "mysql", cwd=tmp_path)
    assert bad.returncode == 2
    assert "Invalid value for --database: 'mysql'" in " ".join(bad.stderr.split())
    assert "Traceback" not in bad.stderr

    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("x")
    refused = run_cli("new", "my-app", "-o", "taken", "-y", cwd=tmp_path)
    assert refused.returncode == 4
    assert "Traceback" not in refused.stderr

    not_a_project = run_cli("add-agent", "billing", cwd=tmp_path)
    assert not_a_project.returncode == 4
    assert MANIFEST_NAME in not_a_project.stderr


#: What ``--help`` must not import: the renderer, the grow engine, the manifest and their
#: libraries. (Typer itself imports pydantic to describe a command's parameters.)
HEAVY_MODULES = (
    "jinja2",
    "tomlkit",
    "chatkit_scaffold.render",
    "chatkit_scaffold.grow",
    "chatkit_scaffold.manifest",
    "chatkit_scaffold.project",
)


def imported_by(*args: str, cwd: Path) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "chatkit_scaffold", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines()}


@pytest.mark.parametrize("args", [["--help"], ["new", "--help"], ["add-store", "--help"]])
def test_help_imports_neither_the_renderer_nor_the_grow_engine(
    tmp_path: Path, args: list[str]
) -> None:
    imported = imported_by(*args, cwd=tmp_path)
    assert "chatkit_scaffold.cli" in imported
    heavy = [name for name in imported if name.startswith(HEAVY_MODULES)]
    assert heavy == []
