"""new_project: the rendered tree, the manifest, dry runs, refusals and failures midway."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from chatkit_scaffold import __version__, plan, render
from chatkit_scaffold.errors import RefusedError, ScaffoldError
from chatkit_scaffold.manifest import MANIFEST_NAME
from chatkit_scaffold.options import ProjectOptions, default_instructions
from chatkit_scaffold.plan import Action
from chatkit_scaffold.project import new_project


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
    assert manifest["manifest_version"] == 2
    assert manifest["tool_version"] == __version__
    assert manifest["answers"] == {
        "project_name": "my-app",
        "package_name": "my_app",
        "database": "sqlite",
        "file_store": "local",
        "provider": "gemini",
        "auth": "none",
        "docker": False,
        "deploy": "none",
    }
    assert manifest["components"] == [
        {"kind": "database", "value": "sqlite", "params": {}},
        {"kind": "file_store", "value": "local", "params": {}},
        {"kind": "provider", "value": "gemini", "params": {}},
        {"kind": "auth", "value": "none", "params": {}},
        {"kind": "deploy", "value": "none", "params": {}},
    ]
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
    def broken(self: object, source: Path, view: object) -> str:
        raise render.TemplateBug("template exploded")

    monkeypatch.setattr(render._Renderer, "_render_text", broken)
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


def test_renders_one_agent_component_per_agent(tmp_path: Path) -> None:
    target = tmp_path / "my-app"
    new_project(options(agents=["billing", "support"], provider="litellm"), target)

    billing = (target / "src/my_app/agents/specialists/billing.py").read_text()
    assert 'NAME = "billing"' in billing
    assert default_instructions("billing")[:60] in " ".join(billing.split())
    assert (target / "src/my_app/agents/specialists/support.py").is_file()
    assert (target / "tests/test_agent_support.py").is_file()
    manifest = json.loads((target / MANIFEST_NAME).read_text())
    agents = [c for c in manifest["components"] if c["kind"] == "agent"]
    assert agents == [
        {
            "kind": "agent",
            "value": "specialist",
            "name": name,
            "params": {"instructions": default_instructions(name)},
        }
        for name in ("billing", "support")
    ]
    assert "src/my_app/agents/specialists/billing.py" in manifest["files"]
