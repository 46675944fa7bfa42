"""The built wheel carries the templates: an installed tool generates the same project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
ARGS = [
    *("--database", "postgres", "--file-store", "s3", "--auth", "jwt", "--provider", "gemini"),
    *("--agent", "billing"),
]


def clean_env() -> dict[str, str]:
    leaky = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT")
    return {key: value for key, value in os.environ.items() if key not in leaky}


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        command,
        cwd=cwd,
        env={**clean_env(), **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot of the checkout, so the wheel and the comparison see the same templates."""
    snapshot = tmp_path_factory.mktemp("checkout")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("chatkit_scaffold", "templates", "releases"):
        shutil.copytree(REPO_ROOT / folder, snapshot / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, snapshot / name)
    return snapshot


@pytest.fixture(scope="module")
def installed_tool(tmp_path_factory: pytest.TempPathFactory, checkout: Path) -> Path:
    """A fresh virtual environment with the tool installed from a freshly built wheel."""
    uv = shutil.which("uv")
    assert uv, "uv is needed to build and install the wheel"
    work = tmp_path_factory.mktemp("wheel")
    run([uv, "build", "--wheel", "--out-dir", str(work / "dist"), str(checkout)], cwd=work)
    (wheel,) = (work / "dist").glob("chatkit_scaffold-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "chatkit_scaffold/templates/core/component.toml" in names
    assert "chatkit_scaffold/templates/components/agent/kind.toml" in names
    assert "chatkit_scaffold/releases/0.1.0/release.toml" in names
    assert "chatkit_scaffold/releases/0.1.0/project/copier.yml" in names
    run([uv, "venv", "--python", sys.executable, str(work / "venv")], cwd=work)
    python = work / "venv" / "bin" / "python"
    run([uv, "pip", "install", "--python", str(python), str(wheel)], cwd=work)
    return work / "venv" / "bin"


def test_installed_wheel_uses_its_own_templates(installed_tool: Path, tmp_path: Path) -> None:
    where = run(
        [
            str(installed_tool / "python"),
            "-c",
            "from chatkit_scaffold.templates import template_root; print(template_root())",
        ],
        cwd=tmp_path,
    )
    assert Path(where.strip()).is_relative_to(installed_tool.parent)
    where = run(
        [
            str(installed_tool / "python"),
            "-c",
            "from chatkit_scaffold.releases import find_release; print(find_release('0.1.0').path)",
        ],
        cwd=tmp_path,
    )
    assert Path(where.strip()).is_relative_to(installed_tool.parent)


def test_wheel_generates_the_same_project_as_the_checkout(
    installed_tool: Path, checkout: Path, tmp_path: Path
) -> None:
    run([str(installed_tool / "chatkit-scaffold"), "new", "my-app", "-y", *ARGS], cwd=tmp_path)
    out = tmp_path / "from-checkout"
    out.mkdir()
    where = run(
        [
            sys.executable,
            "-c",
            "from chatkit_scaffold.templates import template_root as t; print(t())",
        ],
        cwd=out,
        env={"PYTHONPATH": str(checkout)},
    )
    assert Path(where.strip()) == checkout / "templates"
    run(
        [sys.executable, "-m", "chatkit_scaffold", "new", "my-app", "-y", *ARGS],
        cwd=out,
        env={"PYTHONPATH": str(checkout)},
    )

    from_wheel, from_checkout = tree(tmp_path / "my-app"), tree(out / "my-app")
    assert "src/my_app/agents/specialists/billing.py" in from_wheel
    assert sorted(from_wheel) == sorted(from_checkout)
    assert from_wheel == from_checkout
