"""The README's "add a table of your own" steps, followed literally in a generated project.

The table module is the README's own code block; the revision comes from ``alembic revision
--autogenerate`` and must pass the project's checks and its migration tests as it is written.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import generate_project, project_env, run_checked

pytestmark = pytest.mark.generated

IMPORT_HOOK = "# Your own tables: import their modules on the next line"


def _readme_table_module(readme: str) -> tuple[str, str]:
    """The path and code of the README's table module (its first line names the file)."""
    block = re.search(r"```python\n(.*?)```", readme, re.DOTALL)
    assert block, "the README shows no table module"
    lines = [line.removeprefix("   ") for line in block.group(1).splitlines()]
    assert lines[0].startswith("# src/"), lines[0]
    return lines[0].removeprefix("# "), "\n".join(lines[1:]).strip() + "\n"


def test_a_users_table_gets_its_revision_from_autogenerate(tmp_path: Path) -> None:
    project = generate_project(tmp_path / "my-app", {"database": "sqlite"})
    run_checked(["uv", "sync"], project)
    env = project_env({"OPENAI_API_KEY": "sk-test-never-sent"})
    readme = (project / "README.md").read_text()

    path, code = _readme_table_module(readme)
    (project / path).write_text(code)
    env_py = project / "src/my_app/migrations/env.py"
    step = re.search(r"comment that says so: `(from my_app import tables  # noqa: F401)`", readme)
    assert step, "the README does not say which import to add to env.py"
    source = env_py.read_text()
    assert IMPORT_HOOK in source
    hook_line = next(line for line in source.splitlines() if line.startswith(IMPORT_HOOK))
    env_py.write_text(source.replace(hook_line, f"{hook_line}\n{step.group(1)}"))

    run_checked(["uv", "run", "python", "-m", "my_app.stores.migrate"], project, env=env)
    run_checked(["uv", "run", "alembic", "current"], project, env=env)
    run_checked(
        ["uv", "run", "alembic", "revision", "--autogenerate", "-m", "add orders"],
        project,
        env=env,
    )
    (revision,) = (project / "src/my_app/migrations/versions").glob("*_add_orders.py")
    text = revision.read_text()
    assert 'op.create_table(\n        "orders"' in text, text
    assert "orders_by_user" in text, text
    assert "threads" not in text, text  # nothing else differs

    run_checked(["uv", "run", "alembic", "upgrade", "head"], project, env=env)
    with closing(sqlite3.connect(project / "data/app.db")) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert {"orders", "orders_by_user", "threads", "alembic_version"} <= tables
    run_checked(["uv", "run", "alembic", "check"], project, env=env)

    run_checked(["uv", "run", "ruff", "check"], project, env=env)
    run_checked(["uv", "run", "ruff", "format", "--check"], project, env=env)
    run_checked(["uv", "run", "mypy"], project, env=env)
    output = run_checked(
        [
            "uv",
            "run",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_migrations.py",
            "-k",
            "fresh or before_alembic",
        ],
        project,
        env=env,
    )
    assert " passed" in output.strip().splitlines()[-1], output
