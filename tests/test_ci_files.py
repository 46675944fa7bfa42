"""The generated GitHub workflow and Dependabot file: valid, pinned, least-privilege (zizmor)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from chatkit_scaffold.options import ProjectOptions
from chatkit_scaffold.project import new_project

COMBINATIONS = [{}, {"database": "postgres", "file_store": "s3", "auth": "jwt"}]


def run(*command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    executable = shutil.which(command[0])
    assert executable, f"{command[0]} is a dev dependency of the tool"
    return subprocess.run(
        [executable, *command[1:]], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(params=COMBINATIONS, ids=["default", "postgres-s3-jwt"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    target = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app", **request.param}), target)
    return target


def test_the_workflow_passes_zizmors_offline_audit(project: Path) -> None:
    result = run(
        "zizmor", "--offline", "--min-severity", "medium", ".github/workflows", cwd=project
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        (".github/workflows/ci.yml", "vendor.github-workflows"),
        (".github/dependabot.yml", "vendor.dependabot"),
    ],
)
def test_ci_files_match_their_published_schemas(project: Path, path: str, schema: str) -> None:
    result = run("check-jsonschema", "--builtin-schema", schema, path, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_action_is_pinned_to_a_full_commit_hash(project: Path) -> None:
    workflow = (project / ".github/workflows/ci.yml").read_text()
    uses = re.findall(r"uses: (\S+)@(\S+)(.*)", workflow)
    assert uses
    for action, ref, comment in uses:
        assert re.fullmatch(r"[0-9a-f]{40}", ref), (action, ref)
        assert re.search(r"# v\d+\.\d+\.\d+", comment), (action, comment)
    assert "persist-credentials: false" in workflow
    assert "permissions: {}" in workflow
