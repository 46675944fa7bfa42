"""Generated Docker and CI files against their specifications: the Compose and GitHub Actions
JSON schemas (as vendored by ``check-jsonschema``), and a Dockerfile that needs no registry.

The schemas are the Compose specification's and SchemaStore's GitHub workflow schema, shipped
inside the ``check-jsonschema`` package, so the check runs offline. A deliberately broken copy
shows that the Compose check can fail.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import generate_project

pytestmark = pytest.mark.generated

#: Option combinations whose compose.yaml differ: services, environment, dependencies, volumes.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "sqlite-none": {"file_store": "none"},
    "postgres-s3": {"database": "postgres", "file_store": "s3"},
    "largest": {
        "database": "postgres",
        "file_store": "s3",
        "auth": "jwt",
        "provider": "gemini",
        "agents": ("billing",),
    },
    "sqlite-local-after-add-store-postgres": {"stores": ("sqlite", "postgres")},
}


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("specs")
    return {name: generate_project(root / name, answers) for name, answers in VARIANTS.items()}


def _check(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("check-jsonschema")
    assert command.exists(), "check-jsonschema is missing: it comes with the dev group"
    return subprocess.run(
        [str(command), "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_compose_files_follow_the_compose_specification(projects: dict[str, Path]) -> None:
    checked = _check("vendor.compose-spec", *(p / "compose.yaml" for p in projects.values()))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_compose_check_rejects_a_broken_file(projects: dict[str, Path], tmp_path: Path) -> None:
    text = (projects["default"] / "compose.yaml").read_text()
    assert "required: false" in text
    broken = tmp_path / "compose.yaml"
    broken.write_text(text.replace("required: false", "requird: false"))
    checked = _check("vendor.compose-spec", broken)
    assert checked.returncode == 1
    assert "env_file" in checked.stdout


def test_ci_workflows_follow_the_github_workflow_schema(projects: dict[str, Path]) -> None:
    workflows = [p / ".github" / "workflows" / "ci.yml" for p in projects.values()]
    checked = _check("vendor.github-workflows", *workflows)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_dockerfile_needs_no_frontend_image(projects: dict[str, Path]) -> None:
    """A ``# syntax=`` directive makes BuildKit pull a frontend image from a registry first.

    The built-in frontend handles everything the Dockerfile uses (cache mounts included), and
    the image must build where only package registries are reachable.
    """
    for project in projects.values():
        head = (project / "Dockerfile").read_text().splitlines()[0].replace(" ", "").lower()
        assert not head.startswith("#syntax="), project
