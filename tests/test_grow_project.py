"""add-agent and add-store on projects made from the real templates."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chatkit_scaffold import cli
from chatkit_scaffold.grow import add_agent, add_store
from chatkit_scaffold.manifest import MANIFEST_NAME
from chatkit_scaffold.options import ProjectOptions
from chatkit_scaffold.plan import Action
from chatkit_scaffold.project import new_project


def test_new_with_agents_renders_one_component_each(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli.app,
        [
            "new",
            "my-app",
            "-y",
            "-o",
            str(tmp_path / "my-app"),
            "--agent",
            "billing",
            "--agent",
            "support",
        ],
    )
    assert result.exit_code == 0, result.output
    project = tmp_path / "my-app"
    for name in ("billing", "support"):
        module = project / f"src/my_app/agents/specialists/{name}.py"
        assert f'NAME = "{name}"' in module.read_text()
        assert (project / f"tests/test_agent_{name}.py").is_file()
    manifest = json.loads((project / MANIFEST_NAME).read_text())
    assert [agent["name"] for agent in manifest["components"]["agents"]] == ["billing", "support"]
    assert "src/my_app/agents/specialists/support.py" in manifest["files"]


def test_add_agent_adds_files_keeps_edits_and_is_idempotent(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app", "database": "postgres"}), project)
    (project / "README.md").write_text("# my-app, edited by its owner\n")

    first = add_agent(project, "billing", 'Handle "invoices"; quote C:\\paths and """.')

    assert {(change.path, change.action) for change in first.writes} == {
        ("src/my_app/agents/specialists/billing.py", Action.CREATE),
        ("tests/test_agent_billing.py", Action.CREATE),
        (MANIFEST_NAME, Action.MODIFY),
    }
    assert [note.splitlines()[0] for note in first.notes] == [
        "README.md was edited, so it was left alone. The template's change:"
    ]
    assert (project / "README.md").read_text() == "# my-app, edited by its owner\n"
    module = (project / "src/my_app/agents/specialists/billing.py").read_text()
    compile(module, "billing.py", "exec")
    manifest = json.loads((project / MANIFEST_NAME).read_text())
    assert manifest["components"]["agents"] == [
        {"name": "billing", "instructions": 'Handle "invoices"; quote C:\\paths and """.'}
    ]
    assert manifest["components"]["stores"] == ["postgres"]
    assert add_agent(project, "billing").writes == ()


def test_add_store_adds_the_backend_next_to_the_default_one(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app"}), project)

    result = add_store(project, "postgres")

    actions = {change.path: change.action for change in result.writes}
    assert actions["src/my_app/stores/postgres.py"] is Action.CREATE
    assert actions["pyproject.toml"] is Action.MODIFY
    assert actions["compose.yaml"] is Action.MODIFY
    assert actions[".github/workflows/ci.yml"] is Action.MODIFY
    assert "\n  db:\n" in (project / "compose.yaml").read_text()
    assert (project / "src/my_app/stores/sqlite.py").is_file()
    pyproject = (project / "pyproject.toml").read_text()
    assert '"psycopg[binary,pool]' in pyproject
    assert '"aiosqlite' in pyproject
    manifest = json.loads((project / MANIFEST_NAME).read_text())
    assert manifest["answers"]["database"] == "sqlite"
    assert manifest["components"]["stores"] == ["sqlite", "postgres"]
    assert add_store(project, "postgres").writes == ()


def test_add_store_sqlite_to_a_postgres_project(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app", "database": "postgres"}), project)

    result = add_store(project, "sqlite", dry_run=True)

    assert "src/my_app/stores/sqlite.py" in {change.path for change in result.writes}
    assert not (project / "src/my_app/stores/sqlite.py").exists()
    add_store(project, "sqlite")
    assert '"aiosqlite' in (project / "pyproject.toml").read_text()
