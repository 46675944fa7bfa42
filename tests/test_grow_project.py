"""add-agent on a project made from the real project template: it only adds files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatkit_scaffold import render
from chatkit_scaffold.grow import add_agent
from chatkit_scaffold.manifest import MANIFEST_NAME
from chatkit_scaffold.options import ProjectOptions
from chatkit_scaffold.plan import Action
from chatkit_scaffold.project import new_project


@pytest.fixture
def agent_component(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    template = tmp_path / "component"
    module = template / "src/{{ package_name }}/agents/specialists/{{ agent_name }}.py.jinja"
    module.parent.mkdir(parents=True)
    (template / "copier.yml").write_text("_templates_suffix: .jinja\n")
    module.write_text('INSTRUCTIONS = """{{ agent_instructions }}"""\n')
    monkeypatch.setattr(render, "component_template", lambda kind: template)


def test_add_agent_creates_files_only_and_is_idempotent(
    tmp_path: Path, agent_component: None
) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app", "database": "postgres"}), project)
    (project / "README.md").write_text("# my-app, edited by its owner\n")

    first = add_agent(project, "billing", "Invoices.")

    assert {(change.path, change.action) for change in first.writes} == {
        ("src/my_app/agents/specialists/billing.py", Action.CREATE),
        (MANIFEST_NAME, Action.MODIFY),
    }
    assert first.notes == ()
    manifest = json.loads((project / MANIFEST_NAME).read_text())
    assert manifest["components"]["agents"] == [{"name": "billing", "instructions": "Invoices."}]
    assert manifest["components"]["stores"] == ["postgres"]
    assert add_agent(project, "billing").writes == ()
