"""Each combination of the matrix: generate, ``uv sync``, then the project's own checks pass."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import prepared_project, project_env, run_checked

from .leftovers import template_leftovers
from .matrix import COMBINATIONS, combination_id, uncovered_pairs

pytestmark = pytest.mark.generated


def test_matrix_covers_every_pair_of_option_values() -> None:
    assert uncovered_pairs() == []


@pytest.mark.parametrize("answers", COMBINATIONS, ids=combination_id)
def test_generated_project_passes_its_own_checks(
    answers: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    project = prepared_project(tmp_path_factory, answers)
    assert template_leftovers(project) == []
    # PostgreSQL projects' tests create their own databases on TEST_DATABASE_URL's server
    # (by default the local one CI provides).
    env = project_env()
    run_checked(["uv", "run", "ruff", "check"], project, env=env)
    run_checked(["uv", "run", "ruff", "format", "--check"], project, env=env)
    run_checked(["uv", "run", "mypy"], project, env=env)
    output = run_checked(["uv", "run", "pytest", "-q", "-p", "no:cacheprovider"], project, env=env)
    summary = output.strip().splitlines()[-1]
    assert " passed" in summary, output[-5000:]
    assert "skipped" not in summary and "xfail" not in summary, output[-5000:]
