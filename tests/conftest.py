"""Shared helpers: generate a project, and run commands in it with a clean environment."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

# Hooks: the Docker image tests print their build times and image sizes at the end of the run.
from tests.e2e.oci_report import pytest_configure, pytest_terminal_summary  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parent.parent

#: The tool's defaults, so equal answers given in different ways share one prepared project.
DEFAULT_ANSWERS: dict[str, Any] = {
    "database": "sqlite",
    "file_store": "local",
    "provider": "openai",
    "auth": "none",
    "docker": True,
    "deploy": "none",
    "agents": (),
}

#: Variables of the outer environment that must not leak into a generated project's commands.
_LEAKY_VARIABLES = (
    "VIRTUAL_ENV",
    "UV_PROJECT_ENVIRONMENT",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTEST_ADDOPTS",
    "PYTEST_XDIST_WORKER",
    "PYTEST_XDIST_WORKER_COUNT",
    "PYTEST_CURRENT_TEST",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "GEMINI_API_KEY",
    "LLM_API_KEY",
    "DATABASE_URL",
)


def generate_project(target: Path, answers: Mapping[str, Any] | None = None) -> Path:
    """Generate project ``my-app`` into ``target`` (which must not exist yet) and return it.

    ``answers`` use the option names of the catalog (``database``, ``file_store``,
    ``provider``, ``auth``, ``docker``, ``deploy``) and ``agents``, plus ``stores``: the
    databases the project ends up with, as after ``add-store`` of each one that is not
    ``database``.
    """
    from chatkit_scaffold.grow import add_component
    from chatkit_scaffold.options import ProjectOptions
    from chatkit_scaffold.project import new_project

    values: dict[str, Any] = {"name": "my-app", **(answers or {})}
    stores = list(values.pop("stores", ()))
    new_project(ProjectOptions.parse(values), target, dry_run=False)
    for backend in stores:
        add_component(target, "database", backend)
    return target


def project_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for commands run inside a generated project."""
    env = {key: value for key, value in os.environ.items() if key not in _LEAKY_VARIABLES}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


def run_checked(
    command: Sequence[str],
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> str:
    """Run ``command`` in ``cwd``; fail the test with its output unless it exits 0."""
    completed = subprocess.run(
        list(command),
        cwd=cwd,
        env=dict(env) if env is not None else project_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise AssertionError(
            f"`{' '.join(command)}` exited {completed.returncode} in {cwd}:\n"
            f"{completed.stdout[-20000:]}"
        )
    return completed.stdout


#: Slowest tiers first: with two workers, a long test started last leaves the other idle.
_TIER_ORDER = ("docker", "faults", "replicas", "generated", "bench", "release", "e2e", "browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the slow tiers first (the order is the same on every xdist worker)."""

    def tier(item: pytest.Item) -> int:
        names = {marker.name for marker in item.iter_markers()}
        return next((n for n, name in enumerate(_TIER_ORDER) if name in names), len(_TIER_ORDER))

    items.sort(key=tier)


@pytest.fixture(scope="session", autouse=True)
def mypy_cache_per_worker(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One mypy cache for every mypy run of this worker (they run one after another).

    The generated projects share their third-party packages (same versions), whose analysis is
    most of a cold run: measured, 31 s cold, 1.9 s for another project on the warm cache. mypy
    keys its cache by module and content, not by path, so each project's own modules are still
    checked anew.
    """
    os.environ["MYPY_CACHE_DIR"] = str(tmp_path_factory.getbasetemp() / "mypy-cache")


def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary folder shared by every xdist worker of this test session."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def prepared_project(
    tmp_path_factory: pytest.TempPathFactory, answers: Mapping[str, Any] | None = None
) -> Path:
    """Generate and ``uv sync`` a project once per session for these answers, across workers."""
    answers = {**DEFAULT_ANSWERS, **(answers or {})}
    key = "-".join(f"{name}={answers[name]}" for name in sorted(answers))
    key = "".join(char if char.isalnum() or char in "=-" else "_" for char in key)
    root = shared_dir(tmp_path_factory) / "projects"
    root.mkdir(exist_ok=True)
    project, ready = root / key, root / f"{key}.ready"
    with (root / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            shutil.rmtree(project, ignore_errors=True)
            generate_project(project, answers)
            run_checked(["uv", "sync"], project)
            ready.touch()
    return project
