"""The grow engine on small stand-in templates: plans, safety, idempotence, rollback.

The stand-in catalog mirrors the real one's shape (a multi-value database kind with a
dependency, a compose fragment and a README that lists them; a single-value file store kind
whose values own different files; named agents), so every rule of grow.py is exercised exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatkit_scaffold import catalog, cli, options, plan
from chatkit_scaffold.errors import RefusedError, ScaffoldError, UsageError
from chatkit_scaffold.grow import add_agent, add_component
from chatkit_scaffold.manifest import MANIFEST_NAME
from chatkit_scaffold.options import ProjectOptions, default_instructions
from chatkit_scaffold.plan import Action
from chatkit_scaffold.project import new_project

STAND_IN: dict[str, str] = {
    "core/component.toml": (
        'summary = "core"\ndependencies = ["fastapi>=0.115"]\ndev_dependencies = ["pytest>=8"]\n'
    ),
    "core/files/pyproject.toml.jinja": (
        '[project]\nname = "{{ project_name }}"\ndependencies = [\n'
        "{%- for requirement in dependencies %}\n"
        '    "{{ requirement }}",\n'
        "{%- endfor %}\n"
        "]\n\n[dependency-groups]\ndev = [\n"
        "{%- for requirement in dev_dependencies %}\n"
        '    "{{ requirement }}",\n'
        "{%- endfor %}\n"
        "]\n"
    ),
    "core/files/README.md.jinja": (
        "# {{ project_name }}\n\nStores: {{ installed.database | join(', ') }}\n"
    ),
    "core/files/.env.example.jinja": (
        "{% for value in installed.database %}# DATABASE_URL for {{ value }}\n{% endfor %}"
    ),
    "core/files/src/{{ package_name }}/stores/backends.py.jinja": (
        "SCHEMES = [\n"
        '{%- for view in components if view.get("store") %}\n'
        "    {{ view.get('store').schemes | tojson }},\n"
        "{%- endfor %}\n"
        "]\n"
    ),
    "core/files/src/{{ package_name }}/agents/registry.py.jinja": (
        "AGENTS = {{ named.agent | map(attribute='name') | list }}\n"
    ),
    "components/database/kind.toml": (
        'flag = "--database"\nprompt = "Database"\nhelp = "Database"\ncardinality = "many"\n'
        'default = "sqlite"\nvalues = ["sqlite", "postgres"]\ngrow = "add-store"\n'
        'argument = "BACKEND"\norder = 10\n'
    ),
    "components/database/sqlite/component.toml": (
        'summary = "SQLite"\ndependencies = ["aiosqlite>=0.20"]\n[store]\nschemes = ["sqlite"]\n'
    ),
    "components/database/postgres/component.toml": (
        'summary = "PostgreSQL"\ndependencies = ["asyncpg>=0.30"]\n'
        '[store]\nschemes = ["postgresql"]\n'
    ),
    "components/database/postgres/fragments/compose.services.yaml": (
        "  db:\n    image: postgres:16\n"
    ),
    "components/database/postgres/files/tests/test_store_postgres.py.jinja": (
        "from {{ package_name }}.stores import backends\n"
    ),
    "components/file_store/kind.toml": (
        'flag = "--file-store"\nprompt = "File store"\nhelp = "File store"\n'
        'cardinality = "one"\ndefault = "none"\nvalues = ["none", "local"]\n'
        'grow = "add-file-store"\nargument = "FILE_STORE"\norder = 20\n'
    ),
    "components/file_store/none/component.toml": 'summary = "none"\n',
    "components/file_store/none/files/src/{{ package_name }}/files.py": "FILES = None\n",
    "components/file_store/local/component.toml": 'summary = "local"\n',
    "components/file_store/local/files/src/{{ package_name }}/files.py": "FILES = 'local'\n",
    "components/file_store/local/files/src/{{ package_name }}/uploads.py": "UPLOADS = True\n",
    "components/docker/kind.toml": (
        'flag = "--docker/--no-docker"\nprompt = "Docker?"\nhelp = "Docker files"\n'
        'cardinality = "flag"\ndefault = true\nvalues = ["on"]\norder = 50\n'
    ),
    "components/docker/on/component.toml": 'summary = "Docker files"\n',
    "components/docker/on/files/compose.yaml.jinja": (
        "services:\n  app:\n    build: .\n{{ fragments('compose.services.yaml') }}"
    ),
    "components/agent/kind.toml": (
        'flag = "--agent"\nprompt = "Agents"\nhelp = "An agent"\ncardinality = "named"\n'
        'values = ["specialist"]\ngrow = "add-agent"\nargument = "NAME"\norder = 90\n'
    ),
    "components/agent/specialist/component.toml": 'summary = "A specialist"\n',
    "components/agent/specialist/files/src/{{ package_name }}/agents/specialists/"
    "{{ component.name }}.py.jinja": 'INSTRUCTIONS = """{{ component.params.instructions }}"""\n',
    "components/agent/specialist/files/tests/test_agent_{{ component.name }}.py.jinja": (
        "from {{ package_name }}.agents.specialists import {{ component.name }}\n"
    ),
}

AGENT_MODULE = "src/my_app/agents/specialists/billing.py"
REGISTRY = "src/my_app/agents/registry.py"


def add_store(project: Path, backend: str, *, dry_run: bool = False) -> plan.Plan:
    return add_component(project, "database", backend, dry_run=dry_run)


def write_template(root: Path, files: dict[str, str]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def tree_digest(root: Path) -> dict[str, str]:
    digest: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            digest[os.path.relpath(os.path.join(dirpath, name), root) + "/"] = ""
        for name in filenames:
            path = Path(dirpath, name)
            digest[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


def manifest_of(project: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((project / MANIFEST_NAME).read_text())
    return data


@pytest.fixture(autouse=True)
def stand_in_templates(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    root = write_template(tmp_path_factory.mktemp("templates"), STAND_IN)
    monkeypatch.setattr(catalog, "template_root", lambda: root)
    catalog.load_catalog.cache_clear()
    options.generated_test_modules.cache_clear()
    yield root
    catalog.load_catalog.cache_clear()
    options.generated_test_modules.cache_clear()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app"}), target)
    return target


def test_add_agent_creates_module_and_test_and_records_them(project: Path) -> None:
    result = add_agent(project, "billing", "Handle invoices.")

    actions = {change.path: change.action for change in result.changes}
    assert actions == {
        AGENT_MODULE: Action.CREATE,
        "tests/test_agent_billing.py": Action.CREATE,
        REGISTRY: Action.MODIFY,
        MANIFEST_NAME: Action.MODIFY,
    }
    assert (project / AGENT_MODULE).read_text() == 'INSTRUCTIONS = """Handle invoices."""\n'
    assert (project / REGISTRY).read_text() == "AGENTS = ['billing']\n"
    registry = next(change for change in result.changes if change.path == REGISTRY)
    assert "-AGENTS = []\n+AGENTS = ['billing']" in registry.diff()
    manifest = manifest_of(project)
    assert manifest["components"] == [
        {"kind": "database", "value": "sqlite", "params": {}},
        {"kind": "file_store", "value": "none", "params": {}},
        {"kind": "docker", "value": "on", "params": {}},
        {
            "kind": "agent",
            "value": "specialist",
            "name": "billing",
            "params": {"instructions": "Handle invoices."},
        },
    ]
    files = manifest["files"]
    assert isinstance(files, dict)
    for path in (AGENT_MODULE, "tests/test_agent_billing.py", REGISTRY):
        assert files[path] == hashlib.sha256((project / path).read_bytes()).hexdigest()


def test_add_agent_twice_changes_nothing_the_second_time(project: Path) -> None:
    add_agent(project, "billing")
    before = tree_digest(project)
    second = add_agent(project, "billing")
    assert second.writes == ()
    assert tree_digest(project) == before
    [agent] = [c for c in manifest_of(project)["components"] if c["kind"] == "agent"]
    assert agent["params"] == {"instructions": default_instructions("billing")}


def test_add_agent_keeps_the_users_edits_to_an_existing_agent(project: Path) -> None:
    add_agent(project, "billing")
    (project / AGENT_MODULE).write_text("INSTRUCTIONS = 'mine'\n")
    assert add_agent(project, "billing").writes == ()
    assert (project / AGENT_MODULE).read_text() == "INSTRUCTIONS = 'mine'\n"


def test_an_existing_agent_asked_for_again_is_reported_and_unchanged(project: Path) -> None:
    add_agent(project, "billing", "Handle invoices.")
    before = tree_digest(project)
    for instructions in (None, "Handle invoices.", "  Handle invoices.\n"):
        result = add_agent(project, "billing", instructions)
        assert result.changes == ()
        assert result.notes == (
            f"The agent 'billing' already exists ({AGENT_MODULE}); nothing changed.",
        )
    assert tree_digest(project) == before


def test_other_instructions_for_an_existing_agent_are_refused(project: Path) -> None:
    add_agent(project, "billing")
    before = tree_digest(project)
    with pytest.raises(RefusedError) as caught:
        add_agent(project, "billing", "Only refunds.")
    assert caught.value.exit_code == 4
    assert "The agent 'billing' already exists with other instructions" in caught.value.message
    assert caught.value.hint is not None
    assert f"Edit INSTRUCTIONS in {AGENT_MODULE}" in caught.value.hint
    assert tree_digest(project) == before


def test_add_agent_dry_run_writes_nothing(project: Path) -> None:
    before = tree_digest(project)
    result = add_agent(project, "billing", dry_run=True)
    assert tree_digest(project) == before
    assert {change.path for change in result.writes} == {
        AGENT_MODULE,
        "tests/test_agent_billing.py",
        REGISTRY,
        MANIFEST_NAME,
    }


def test_a_user_edited_file_that_needs_a_change_stops_with_the_snippet(project: Path) -> None:
    (project / REGISTRY).write_text("AGENTS = []  # my comment\n")
    before = tree_digest(project)
    with pytest.raises(RefusedError) as caught:
        add_agent(project, "billing")
    assert caught.value.exit_code == 4
    assert "1 file(s) you edited" in caught.value.message
    assert caught.value.hint is not None
    assert f"{REGISTRY}:" in caught.value.hint
    assert "+AGENTS = ['billing']" in caught.value.hint
    assert tree_digest(project) == before

    # Once the user makes the change, the command goes through and keeps their file.
    (project / REGISTRY).write_text("AGENTS = ['billing']\n# my comment\n")
    result = add_agent(project, "billing")
    assert result.notes == (f"{REGISTRY} was edited and already has the change.",)
    assert (project / REGISTRY).read_text() == "AGENTS = ['billing']\n# my comment\n"
    assert (project / AGENT_MODULE).is_file()


def test_a_foreign_file_in_the_way_is_never_overwritten(project: Path) -> None:
    (project / AGENT_MODULE).parent.mkdir(parents=True)
    (project / AGENT_MODULE).write_text("# my own billing module\n")
    with pytest.raises(RefusedError, match="you edited"):
        add_agent(project, "billing")
    assert (project / AGENT_MODULE).read_text() == "# my own billing module\n"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Billing", "Did you mean 'billing'?"), ("assistant", "reserved"), ("for", "keyword")],
)
def test_add_agent_bad_name(project: Path, name: str, expected: str) -> None:
    with pytest.raises(UsageError) as caught:
        add_agent(project, name)
    assert caught.value.exit_code == 2
    assert expected in f"{caught.value.message} {caught.value.hint}"


def test_add_agent_empty_instructions(project: Path) -> None:
    with pytest.raises(UsageError, match="--instructions"):
        add_agent(project, "billing", "  ")


def test_not_a_project_is_refused_naming_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(RefusedError) as caught:
        add_agent(tmp_path, "billing")
    assert caught.value.exit_code == 4
    assert f"{MANIFEST_NAME} is missing" in caught.value.message
    with pytest.raises(RefusedError, match="not a folder"):
        add_store(tmp_path / "nowhere", "postgres")


def test_a_broken_manifest_is_refused(project: Path) -> None:
    (project / MANIFEST_NAME).write_text('{"tool_version": "0.1.0"}')
    with pytest.raises(RefusedError) as caught:
        add_agent(project, "billing")
    assert "not a valid chatkit-scaffold manifest" in caught.value.message
    assert "answers" in caught.value.message


def test_add_store_adds_data_dependency_compose_service_and_tests(project: Path) -> None:
    result = add_store(project, "postgres")

    actions = {change.path: change.action for change in result.writes}
    assert actions == {
        "src/my_app/stores/backends.py": Action.MODIFY,
        "tests/test_store_postgres.py": Action.CREATE,
        "pyproject.toml": Action.MODIFY,
        "compose.yaml": Action.MODIFY,
        "README.md": Action.MODIFY,
        ".env.example": Action.MODIFY,
        MANIFEST_NAME: Action.MODIFY,
    }
    pyproject = (project / "pyproject.toml").read_text()
    assert '"aiosqlite>=0.20",\n    "asyncpg>=0.30",\n]' in pyproject
    assert "image: postgres:16" in (project / "compose.yaml").read_text()
    backends = (project / "src/my_app/stores/backends.py").read_text()
    assert backends == 'SCHEMES = [\n    ["sqlite"],\n    ["postgresql"],\n]\n'
    manifest = manifest_of(project)
    databases = [c["value"] for c in manifest["components"] if c["kind"] == "database"]
    assert databases == ["sqlite", "postgres"]
    answers = manifest["answers"]
    assert isinstance(answers, dict)
    assert answers["database"] == "sqlite"


def test_add_store_twice_changes_nothing(project: Path) -> None:
    add_store(project, "postgres")
    before = tree_digest(project)
    again = add_store(project, "postgres")
    assert again.writes == ()
    assert again.notes == ("The database 'postgres' is already part of this project.",)
    assert tree_digest(project) == before
    assert add_store(project, "sqlite").writes == ()


def test_add_store_merges_dependencies_into_an_edited_pyproject(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    recorded = manifest_of(project)["files"]
    assert isinstance(recorded, dict)
    edited = pyproject.read_text().replace('"fastapi>=0.115",', '"fastapi>=0.115",\n    "rich",')
    pyproject.write_text(edited + "\n[tool.mine]\nkeep = true\n")

    add_store(project, "postgres")

    text = pyproject.read_text()
    assert '"rich",' in text
    assert '"asyncpg>=0.30",' in text
    assert "[tool.mine]\nkeep = true\n" in text
    files = manifest_of(project)["files"]
    assert isinstance(files, dict)
    assert files["pyproject.toml"] == recorded["pyproject.toml"]


def test_add_store_without_a_dependency_list_prints_the_lines_to_add(project: Path) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "my-app"\n')
    before = tree_digest(project)
    with pytest.raises(RefusedError) as caught:
        add_store(project, "postgres")
    assert caught.value.hint is not None
    assert "[project] dependencies is missing or not a list" in caught.value.hint
    assert '"asyncpg>=0.30",' in caught.value.hint
    assert tree_digest(project) == before


def test_add_store_stops_on_an_edited_compose_file(project: Path) -> None:
    compose = project / "compose.yaml"
    compose.write_text(compose.read_text() + "  cache:\n    image: redis\n")
    before = tree_digest(project)
    with pytest.raises(RefusedError) as caught:
        add_store(project, "postgres")
    assert caught.value.hint is not None
    assert "compose.yaml:" in caught.value.hint
    assert "+  db:\n+    image: postgres:16" in caught.value.hint
    assert tree_digest(project) == before


def test_edited_documentation_is_left_alone_with_a_note(project: Path) -> None:
    (project / "README.md").write_text("# My own README\n")
    result = add_store(project, "postgres")
    assert (project / "README.md").read_text() == "# My own README\n"
    assert any(note.startswith("README.md was edited") for note in result.notes)
    assert "+Stores: sqlite, postgres" in "\n".join(result.notes)


def test_add_store_bad_backend(project: Path) -> None:
    with pytest.raises(UsageError) as caught:
        add_store(project, "postgresql")
    assert caught.value.exit_code == 2
    assert caught.value.message == (
        "Invalid value for BACKEND: 'postgresql'. Allowed values: sqlite, postgres. "
        "Did you mean 'postgres'?"
    )


def test_a_component_that_renders_nothing_is_a_bug(project: Path, stand_in_templates: Path) -> None:
    postgres = stand_in_templates / "components/database/postgres"
    for path in sorted(postgres.rglob("*"), reverse=True):
        if path.is_file() and path.name != "component.toml":
            path.unlink()
    (postgres / "component.toml").write_text('summary = "PostgreSQL"\n')
    (stand_in_templates / "core/files/README.md.jinja").write_text("# {{ project_name }}\n")
    (stand_in_templates / "core/files/.env.example.jinja").write_text("\n")
    catalog.load_catalog.cache_clear()
    before = tree_digest(project)
    with pytest.raises(ScaffoldError) as caught:
        add_store(project, "postgres")
    assert caught.value.exit_code == 1
    assert "render nothing for database postgres" in caught.value.message
    assert tree_digest(project) == before


def test_switching_a_single_value_kind_replaces_and_deletes_pristine_files(
    project: Path,
) -> None:
    result = add_component(project, "file_store", "local")
    actions = {change.path: change.action for change in result.writes}
    assert actions == {
        "src/my_app/files.py": Action.MODIFY,
        "src/my_app/uploads.py": Action.CREATE,
        MANIFEST_NAME: Action.MODIFY,
    }
    assert result.notes == ("The file_store 'local' replaces 'none'.",)
    manifest = manifest_of(project)
    assert manifest["answers"]["file_store"] == "local"  # type: ignore[index]
    assert add_component(project, "file_store", "local").writes == ()

    back = add_component(project, "file_store", "none")
    assert {c.path: c.action for c in back.writes}["src/my_app/uploads.py"] is Action.DELETE
    assert not (project / "src/my_app/uploads.py").exists()
    assert (project / "src/my_app/files.py").read_text() == "FILES = None\n"


def test_switching_away_from_an_edited_file_is_refused(project: Path) -> None:
    add_component(project, "file_store", "local")
    (project / "src/my_app/uploads.py").write_text("UPLOADS = 'mine'\n")
    before = tree_digest(project)
    with pytest.raises(RefusedError) as caught:
        add_component(project, "file_store", "none")
    assert caught.value.hint is not None
    assert "src/my_app/uploads.py: no longer part of the project" in caught.value.hint
    assert tree_digest(project) == before


def test_a_project_of_another_version_must_be_updated_first(project: Path) -> None:
    manifest = manifest_of(project)
    manifest["tool_version"] = "0.0.1"
    (project / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(RefusedError) as caught:
        add_agent(project, "billing")
    assert "generated by chatkit-scaffold 0.0.1" in caught.value.message
    assert caught.value.hint == "Bring the project to this version first: chatkit-scaffold update"


def test_a_manifest_value_the_catalog_does_not_know_is_the_files_problem(project: Path) -> None:
    manifest = manifest_of(project)
    manifest["answers"]["database"] = "mongodb"  # type: ignore[index]
    (project / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(RefusedError) as caught:
        add_agent(project, "billing")
    assert "is not a valid chatkit-scaffold manifest" in caught.value.message
    assert "answers.database is 'mongodb'" in caught.value.message


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failure_midway_restores_every_file(
    project: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    before = tree_digest(project)
    real_write = plan._write
    calls: list[Path] = []

    def failing_write(path: Path, content: bytes, executable: bool) -> None:
        calls.append(path)
        if len(calls) == 4:
            raise failure
        real_write(path, content, executable)

    monkeypatch.setattr(plan, "_write", failing_write)
    expected = KeyboardInterrupt if isinstance(failure, KeyboardInterrupt) else ScaffoldError
    with pytest.raises(expected):
        add_store(project, "postgres")
    assert len(calls) > 4  # the restore wrote the saved files back
    assert tree_digest(project) == before


def test_cli_add_agent_and_add_store(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    dry = runner.invoke(cli.app, ["add-agent", "billing", "--project", str(project), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "create" in dry.output
    assert "specialists/billing.py" in dry.output
    assert "+AGENTS = ['billing']" in dry.output
    assert "Dry run: nothing was written." in dry.output
    assert not (project / AGENT_MODULE).exists()

    monkeypatch.chdir(project)
    done = runner.invoke(cli.app, ["add-agent", "billing", "--instructions", "Invoices."])
    assert done.exit_code == 0, done.output
    assert (project / AGENT_MODULE).is_file()
    again = runner.invoke(cli.app, ["add-agent", "billing", "--instructions", "Invoices."])
    assert again.exit_code == 0
    assert "The agent 'billing' already exists" in " ".join(again.output.split())
    assert "Nothing to do" in again.output
    other = runner.invoke(cli.app, ["add-agent", "billing", "--instructions", "Refunds."])
    assert other.exit_code == 4
    assert "Edit INSTRUCTIONS in" in " ".join(other.output.split())
    assert (project / AGENT_MODULE).read_text() == 'INSTRUCTIONS = """Invoices."""\n'

    store = runner.invoke(cli.app, ["add-store", "postgres"])
    assert store.exit_code == 0, store.output
    assert "+    image: postgres:16" in store.output
    bad = runner.invoke(cli.app, ["add-store", "mysql"])
    assert bad.exit_code == 2
    assert "Allowed values: sqlite, postgres" in " ".join(bad.output.split())
