"""new_project: the rendered tree, the manifest, dry runs, refusals and failures midway."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from chatkit_scaffold import __version__, plan, render
from chatkit_scaffold.errors import RefusedError, ScaffoldError
from chatkit_scaffold.manifest import MANIFEST_NAME
from chatkit_scaffold.options import ProjectOptions, default_instructions
from chatkit_scaffold.plan import Action
from chatkit_scaffold.project import new_project

AGENT_COMPONENT = {
    "copier.yml": "_templates_suffix: .jinja\n",
    "src/{{ package_name }}/agents/specialists/{{ agent_name }}.py.jinja": (
        '"""{{ agent_name }}"""\n\nINSTRUCTIONS = """{{ agent_instructions }}"""\n'
        "PROVIDER = {{ provider | tojson }}\n"
    ),
    "tests/test_agent_{{ agent_name }}.py.jinja": "from {{ package_name }} import agents\n",
}


def tree_digest(root: Path) -> dict[str, str]:
    """Every path under ``root`` (folders too) with the sha256 of its content."""
    digest: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            digest[os.path.relpath(os.path.join(dirpath, name), root) + "/"] = ""
        for name in filenames:
            path = Path(dirpath, name)
            digest[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


def write_template(root: Path, files: dict[str, str]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


@pytest.fixture
def agent_component(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small agent component template standing in for templates/components/agent."""
    template = write_template(tmp_path / "component-agent", AGENT_COMPONENT)
    monkeypatch.setattr(render, "component_template", lambda kind: template)
    return template


def options(**values: object) -> ProjectOptions:
    return ProjectOptions.parse({"name": "my-app", **values})


def test_generates_the_project_and_its_manifest(tmp_path: Path) -> None:
    target = tmp_path / "my-app"
    result = new_project(options(provider="gemini", docker=False), target)

    assert result.root == target
    assert all(change.action is Action.CREATE for change in result.changes)
    written = {path.relative_to(target).as_posix() for path in target.rglob("*") if path.is_file()}
    assert written == {change.path for change in result.changes}
    assert "pyproject.toml" in written
    assert "src/my_app/__init__.py" in written
    assert MANIFEST_NAME in written
    assert "Dockerfile" not in written

    manifest = json.loads((target / MANIFEST_NAME).read_text())
    assert manifest["manifest_version"] == 1
    assert manifest["tool_version"] == __version__
    assert manifest["template_version"] == __version__
    assert manifest["answers"] == {
        "project_name": "my-app",
        "package_name": "my_app",
        "database": "sqlite",
        "file_store": "local",
        "provider": "gemini",
        "auth": "none",
        "docker": False,
    }
    assert manifest["components"] == {"agents": [], "stores": ["sqlite"]}
    assert set(manifest["files"]) == written - {MANIFEST_NAME}
    for path, digest in manifest["files"].items():
        assert hashlib.sha256((target / path).read_bytes()).hexdigest() == digest
    assert not [path for path in tmp_path.iterdir() if path.name != "my-app"]


def test_dry_run_lists_every_file_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("untouched")
    before = tree_digest(tmp_path)

    result = new_project(options(), tmp_path / "my-app", dry_run=True)

    assert tree_digest(tmp_path) == before
    paths = [change.path for change in result.changes]
    assert MANIFEST_NAME in paths
    assert "pyproject.toml" in paths
    assert "compose.yaml" in paths
    assert result.total_bytes == sum(len(change.new) for change in result.changes)


def test_refuses_a_non_empty_target(tmp_path: Path) -> None:
    target = tmp_path / "my-app"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(RefusedError) as caught:
        new_project(options(), target)
    assert caught.value.exit_code == 4
    assert "not empty" in caught.value.message
    assert caught.value.hint is not None
    assert "--output-dir" in caught.value.hint
    assert [path.name for path in target.iterdir()] == ["notes.txt"]


def test_refuses_a_file_as_target(tmp_path: Path) -> None:
    target = tmp_path / "my-app"
    target.write_text("a file")
    with pytest.raises(RefusedError, match="not a folder"):
        new_project(options(), target)


def test_fills_an_existing_empty_folder(tmp_path: Path) -> None:
    target = tmp_path / "my-app"
    target.mkdir()
    new_project(options(), target)
    assert (target / MANIFEST_NAME).is_file()


def test_creates_missing_parent_folders(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "my-app"
    new_project(options(), target)
    assert (target / "pyproject.toml").is_file()


def test_render_failure_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import copier

    def broken_copy(src_path: str, dst_path: Path, **kwargs: object) -> None:
        Path(dst_path).mkdir(parents=True)
        (Path(dst_path) / "half.py").write_text("half")
        raise ValueError("template exploded")

    monkeypatch.setattr(copier, "run_copy", broken_copy)
    with pytest.raises(ScaffoldError) as caught:
        new_project(options(), tmp_path / "my-app")
    assert caught.value.exit_code == 1
    assert "template exploded" in caught.value.message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failure_while_writing_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    real_write = plan._write
    calls: list[Path] = []

    def failing_write(path: Path, content: bytes, executable: bool) -> None:
        calls.append(path)
        if len(calls) == 10:
            raise failure
        real_write(path, content, executable)

    monkeypatch.setattr(plan, "_write", failing_write)
    target = tmp_path / "parent" / "my-app"
    with (
        pytest.raises(type(failure))
        if isinstance(failure, KeyboardInterrupt)
        else pytest.raises(ScaffoldError, match="No space left")
    ):
        new_project(options(), target)
    assert len(calls) == 10
    assert list(tmp_path.iterdir()) == []


def test_fills_an_empty_target_in_place(tmp_path: Path) -> None:
    target = tmp_path / "my-app"
    target.mkdir()
    inode = target.stat().st_ino
    new_project(options(), target)
    assert target.stat().st_ino == inode
    assert (target / "pyproject.toml").is_file()
    assert not [path for path in target.iterdir() if path.name.endswith(".partial")]


def test_failure_empties_an_existing_target_folder_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "my-app"
    target.mkdir()
    real_rename = Path.rename
    renamed: list[Path] = []

    def failing_rename(self: Path, destination: Path) -> Path:
        if len(renamed) == 3:
            raise OSError(13, "Permission denied")
        renamed.append(self)
        return real_rename(self, destination)

    monkeypatch.setattr(Path, "rename", failing_rename)
    with pytest.raises(ScaffoldError, match="Permission denied"):
        new_project(options(), target)
    assert len(renamed) == 3
    assert [path.name for path in tmp_path.iterdir()] == ["my-app"]
    assert list(target.iterdir()) == []


def test_renders_one_agent_component_per_agent(tmp_path: Path, agent_component: Path) -> None:
    target = tmp_path / "my-app"
    new_project(options(agents=["billing", "support"], provider="litellm"), target)

    billing = target / "src/my_app/agents/specialists/billing.py"
    assert billing.read_text() == (
        '"""billing"""\n\n'
        f'INSTRUCTIONS = """{default_instructions("billing")}"""\n'
        'PROVIDER = "litellm"\n'
    )
    assert (target / "src/my_app/agents/specialists/support.py").is_file()
    assert (target / "tests/test_agent_support.py").read_text() == "from my_app import agents\n"
    manifest = json.loads((target / MANIFEST_NAME).read_text())
    assert manifest["components"]["agents"] == [
        {"name": "billing", "instructions": default_instructions("billing")},
        {"name": "support", "instructions": default_instructions("support")},
    ]
    assert "src/my_app/agents/specialists/billing.py" in manifest["files"]


def test_component_colliding_with_the_project_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = write_template(
        tmp_path / "component", {"pyproject.toml.jinja": "[project]\nname = 'other'\n"}
    )
    monkeypatch.setattr(render, "component_template", lambda kind: template)
    with pytest.raises(ScaffoldError, match=r"renders pyproject\.toml"):
        new_project(options(agents=["billing"]), tmp_path / "my-app")
    assert not (tmp_path / "my-app").exists()


def test_keeps_executable_bits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    template = write_template(
        tmp_path / "component", {"copier.yml": "", "bin/run.sh": "#!/bin/sh\n"}
    )
    (template / "bin/run.sh").chmod(0o755)
    monkeypatch.setattr(render, "component_template", lambda kind: template)
    target = tmp_path / "my-app"
    new_project(options(agents=["billing"]), target)
    assert (target / "bin/run.sh").stat().st_mode & stat.S_IXUSR
    assert not (target / "pyproject.toml").stat().st_mode & stat.S_IXUSR
