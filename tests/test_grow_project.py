"""The grow commands on projects made from the real templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chatkit_scaffold import cli
from chatkit_scaffold.errors import RefusedError, ScaffoldError, UsageError
from chatkit_scaffold.grow import add_agent, add_component, add_tool, add_widget
from chatkit_scaffold.manifest import MANIFEST_NAME
from chatkit_scaffold.options import ProjectOptions
from chatkit_scaffold.plan import Action
from chatkit_scaffold.project import new_project


def components_of(project: Path, kind: str) -> list[dict[str, object]]:
    manifest = json.loads((project / MANIFEST_NAME).read_text())
    return [component for component in manifest["components"] if component["kind"] == kind]


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
    assert [agent["name"] for agent in components_of(project, "agent")] == ["billing", "support"]
    manifest = json.loads((project / MANIFEST_NAME).read_text())
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
    [agent] = components_of(project, "agent")
    assert agent["params"] == {"instructions": 'Handle "invoices"; quote C:\\paths and """.'}
    assert [c["value"] for c in components_of(project, "database")] == ["postgres"]
    assert add_agent(project, "billing").writes == ()


def test_add_store_adds_the_backend_next_to_the_default_one(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app"}), project)

    result = add_component(project, "database", "postgres")

    actions = {change.path: change.action for change in result.writes}
    assert actions["src/my_app/stores/backends.py"] is Action.MODIFY
    assert actions["tests/test_store_postgres.py"] is Action.CREATE
    assert actions["pyproject.toml"] is Action.MODIFY
    assert actions["compose.yaml"] is Action.MODIFY
    assert actions[".github/workflows/ci.yml"] is Action.MODIFY
    assert "\n  db:\n" in (project / "compose.yaml").read_text()
    backends = (project / "src/my_app/stores/backends.py").read_text()
    assert 'name="sqlite"' in backends
    assert 'name="postgres"' in backends
    pyproject = (project / "pyproject.toml").read_text()
    assert '"asyncpg' in pyproject
    manifest = json.loads((project / MANIFEST_NAME).read_text())
    assert manifest["answers"]["database"] == "sqlite"
    assert [c["value"] for c in components_of(project, "database")] == ["sqlite", "postgres"]
    assert add_component(project, "database", "postgres").writes == ()


def test_add_store_sqlite_to_a_postgres_project(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app", "database": "postgres"}), project)

    result = add_component(project, "database", "sqlite", dry_run=True)

    assert "tests/test_store_sqlite.py" in {change.path for change in result.writes}
    assert 'name="sqlite"' not in (project / "src/my_app/stores/backends.py").read_text()
    add_component(project, "database", "sqlite")
    backends = (project / "src/my_app/stores/backends.py").read_text()
    assert 'name="sqlite"' in backends
    assert 'driver="sqlite+pysqlite"' in backends  # Python's own sqlite3: no dependency


def test_add_file_store_s3_replaces_the_local_one(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app"}), project)

    result = add_component(project, "file_store", "s3")

    actions = {change.path: change.action for change in result.writes}
    assert actions["src/my_app/files/s3.py"] is Action.CREATE
    assert actions["src/my_app/files/__init__.py"] is Action.MODIFY
    for gone in ("local.py", "upload_body.py", "routes.py"):
        assert actions[f"src/my_app/files/{gone}"] is Action.DELETE
        assert not (project / f"src/my_app/files/{gone}").exists()
    assert actions["tests/test_files_s3.py"] is Action.CREATE
    assert actions["tests/test_files_local.py"] is Action.DELETE
    for shared in ("policy.py", "signing.py", "links.py", "downloads.py"):
        assert (project / f"src/my_app/files/{shared}").is_file()  # shared by both
    pyproject = (project / "pyproject.toml").read_text()
    assert '"boto3>=' in pyproject
    assert '"python-multipart' in pyproject  # dependencies are never removed
    assert "UPLOAD_BUCKET=" in (project / ".env.example").read_text()
    assert [c["value"] for c in components_of(project, "file_store")] == ["s3"]
    assert add_component(project, "file_store", "s3").writes == ()


def test_add_auth_jwt_replaces_auth_none(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app", "file_store": "none"}), project)

    result = add_component(project, "auth", "jwt")

    actions = {change.path: change.action for change in result.writes}
    assert actions["src/my_app/auth.py"] is Action.MODIFY
    assert actions["tests/identity.py"] is Action.MODIFY
    assert actions["tests/test_auth_jwt.py"] is Action.CREATE
    assert "import jwt" in (project / "src/my_app/auth.py").read_text()
    assert '"pyjwt[crypto]' in (project / "pyproject.toml").read_text()
    assert "JWT_SECRET=" in (project / ".env.example").read_text()
    assert add_component(project, "auth", "jwt").writes == ()


def test_add_auth_jwt_refuses_an_edited_auth_module_with_the_change(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app"}), project)
    auth = project / "src/my_app/auth.py"
    auth.write_text(auth.read_text().replace('LOCAL_USER_ID = "local"', 'LOCAL_USER_ID = "me"'))

    with pytest.raises(RefusedError) as caught:
        add_component(project, "auth", "jwt")

    assert caught.value.hint is not None
    assert "src/my_app/auth.py:" in caught.value.hint
    assert "+import jwt" in caught.value.hint
    assert 'LOCAL_USER_ID = "me"' in auth.read_text()
    assert not (project / "tests/test_auth_jwt.py").exists()


def test_add_provider_installs_another_provider(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app"}), project)

    add_component(project, "provider", "gemini")

    assert (project / "src/my_app/providers/gemini.py").is_file()
    assert (project / "src/my_app/providers/openai.py").is_file()
    settings = (project / "src/my_app/settings.py").read_text()
    assert 'Provider = Literal["openai", "gemini"]' in settings
    assert 'llm_provider: Provider = "openai"' in settings


def test_add_tool_adds_a_module_and_its_test_for_the_named_agent(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app", "agents": ("billing",)}), project)

    dry = add_tool(project, "refund_invoice", "approval", "billing", dry_run=True)
    assert not (project / "src/my_app/tools/refund_invoice.py").exists()
    plan = add_tool(project, "refund_invoice", "approval", "billing")

    assert {(change.path, change.action) for change in plan.writes} == {
        (change.path, change.action) for change in dry.writes
    }
    assert {(change.path, change.action) for change in plan.writes} == {
        ("src/my_app/tools/refund_invoice.py", Action.CREATE),
        ("tests/test_tool_refund_invoice.py", Action.CREATE),
        ("README.md", Action.MODIFY),
        (MANIFEST_NAME, Action.MODIFY),
    }
    module = (project / "src/my_app/tools/refund_invoice.py").read_text()
    compile(module, "refund_invoice.py", "exec")
    assert 'AGENT = "billing"' in module
    assert "@function_tool(needs_approval=True)" in module
    assert "async def refund_invoice(" in module
    billing = project / "src/my_app/agents/specialists/billing.py"
    assert "refund_invoice" not in billing.read_text()  # the agent's module is not edited
    [tool] = components_of(project, "tool")
    assert tool == {
        "kind": "tool",
        "value": "approval",
        "name": "refund_invoice",
        "params": {"agent": "billing"},
    }
    assert "| tool | `refund_invoice`:" in (project / "README.md").read_text()
    again = add_tool(project, "refund_invoice", "approval", "billing")
    assert again.writes == ()
    assert "already exists" in again.notes[0]


def test_add_tool_kinds_default_to_the_entry_agent(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app"}), project)

    add_tool(project, "lookup_order")
    add_tool(project, "page_selection", "client")

    server = (project / "src/my_app/tools/lookup_order.py").read_text()
    client = (project / "src/my_app/tools/page_selection.py").read_text()
    assert 'AGENT = "assistant"' in server and "CLIENT_TOOL" not in server
    assert "CLIENT_TOOL = True" in client
    assert "ClientToolCall(name=NAME" in client
    assert [c["value"] for c in components_of(project, "tool")] == ["server", "client"]


def test_add_tool_refuses_what_it_cannot_add(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app"}), project)
    add_tool(project, "lookup_order")
    edited = project / "src/my_app/tools/lookup_order.py"
    edited.write_text(edited.read_text() + "# mine\n")

    refusals: list[tuple[dict[str, Any], type[ScaffoldError], str]] = [
        ({"name": "lookup_order", "kind": "client"}, RefusedError, "already exists as a server"),
        ({"name": "lookup_order", "agent": "billing"}, UsageError, "no such specialist"),
        ({"name": "current_time"}, UsageError, "every project has a tool of that name"),
        ({"name": "transfer_to_billing"}, UsageError, "handoffs"),
        ({"name": "Lookup-Order"}, UsageError, "Did you mean 'lookup_order'?"),
        ({"name": "class"}, UsageError, "keyword"),
        ({"name": "x" * 41}, UsageError, "longer than 40"),
        ({"name": "other", "kind": "remote"}, UsageError, "Allowed kinds: server, client"),
    ]
    for arguments, error, words in refusals:
        with pytest.raises(error) as caught:
            add_tool(project, **arguments)
        assert words in f"{caught.value.message} {caught.value.hint}", arguments
    assert edited.read_text().endswith("# mine\n")
    assert [c["name"] for c in components_of(project, "tool")] == ["lookup_order"]


def test_add_widget_adds_template_builder_handler_and_test(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app"}), project)

    plan = add_widget(project, "order_status")

    created = {change.path for change in plan.writes if change.action is Action.CREATE}
    assert created == {
        "src/my_app/widgets/order_status.widget",
        "src/my_app/widgets/order_status.py",
        "src/my_app/actions/order_status.py",
        "tests/test_widget_order_status.py",
    }
    widget = json.loads((project / "src/my_app/widgets/order_status.widget").read_text())
    assert widget["version"] == "1.0"
    assert set(widget["jsonSchema"]["required"]) == {"title", "message", "button", "action", "done"}
    builder = (project / "src/my_app/widgets/order_status.py").read_text()
    assert "class Card(BaseModel):" in builder
    assert 'ACTION = "order_status.press"' in builder
    handler = (project / "src/my_app/actions/order_status.py").read_text()
    assert "HANDLER = StreamedAction(widget.ACTION, widget.Card, press)" in handler
    assert add_widget(project, "order_status").writes == ()
    for name, words in [("clock", "taken by a widget or action"), ("9lives", "identifier")]:
        with pytest.raises(UsageError) as caught:
            add_widget(project, name)
        assert words in caught.value.message


def test_cli_add_tool_and_add_widget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app"}), project)
    monkeypatch.chdir(project)
    runner = CliRunner()

    both = runner.invoke(cli.app, ["add-tool", "x", "--client", "--approval"])
    assert both.exit_code == 2
    assert "--client or --approval, not both" in both.output
    dry = runner.invoke(cli.app, ["add-tool", "lookup_order", "--approval", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "src/my_app/tools/lookup_order.py" in dry.output
    assert not (project / "src/my_app/tools/lookup_order.py").exists()
    done = runner.invoke(cli.app, ["add-tool", "lookup_order", "--approval"])
    assert done.exit_code == 0, done.output
    assert "needs_approval=True" in (project / "src/my_app/tools/lookup_order.py").read_text()
    widget = runner.invoke(cli.app, ["add-widget", "order_status"])
    assert widget.exit_code == 0, widget.output
    twice = runner.invoke(cli.app, ["add-widget", "order_status"])
    assert twice.exit_code == 0
    assert "Nothing to do" in twice.output
