"""``releases.render_release_0_1_0`` reproduces what chatkit-scaffold 0.1.0 generated, exactly.

The reference is the real 0.1.0: its commit is archived (``git archive``), built into a wheel and
installed into a throw-away virtual environment with the dependency versions of its ``uv.lock``;
that tool's own CLI then generates projects for every combination of ``tests/generated/matrix.py``
(the grown one through ``add-store``) and for specialists with awkward instructions (through
``add-agent --instructions``). For each project, every file the renderer produces from the
project's manifest must equal the file on disk byte for byte, with the same executable bit, and
the manifest's sha256 must be the file's.

One exception is known and asserted narrowly: ``add-store`` merged ``pyproject.toml``'s
dependencies with tomlkit, appending the new backend's driver at the end of the list, where a
fresh render puts it among the store drivers. The manifest records that merged file, so ``update``
sees it as pristine.

The wheel, the environment and the projects are built once per test session (shared by xdist
workers); the CLI runs in two processes (typer's ``CliRunner``), not one per command, to keep
the wall time down.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest

from chatkit_scaffold.manifest import read_manifest
from chatkit_scaffold.releases import find_release
from chatkit_scaffold.update import render_base
from tests.conftest import REPO_ROOT, shared_dir
from tests.generated.matrix import COMBINATIONS, combination_id

pytestmark = pytest.mark.release

VERSION = "0.1.0"
RELEASE = tomllib.loads((REPO_ROOT / "releases" / VERSION / "release.toml").read_text())

#: Specialists with instructions that are hard to put into a Python string literal.
TRICKY_AGENTS: dict[str, str] = {
    "quotes": """He said "hi" and 'bye'; it's a "quoted" \\"escaped\\" string, ends in a quote\"""",
    "back_slash": "C:\\new\\table\\x41 \\\\server\\share \\N{DASH} \\u00e9 and a trailing one \\",
    "triple": 'Use """triple""" and \'\'\' quotes """ even """""" six; end with """',
    "long_lines": " ".join(["word"] * 60)
    + " https://example.com/"
    + "a" * 150
    + " "
    + " ".join(["tail"] * 40),
    "unicode_text": "Réponds en français — 中文 🎉 naïve café Ω ß ﬁ e\u0301 שלום \u200b end",
    "multi_line": "  First line.\n\n\tSecond paragraph, a tab.\r\nThird line.\n\n\n  Trailing.  ",
    "jinja_like": "{{ package_name }} {% if x %}y{% endif %} {# c #} {% raw %}%}{{",
}

#: One project per entry: the CLI commands after ``new`` (run with ``--project``).
PROJECTS: dict[str, tuple[list[str], list[list[str]]]] = {}
for _answers in COMBINATIONS:
    _new = [
        *("--provider", _answers["provider"], "--file-store", _answers["file_store"]),
        *("--database", _answers["database"], "--auth", _answers["auth"]),
        "--docker" if _answers["docker"] else "--no-docker",
        *(arg for agent in _answers["agents"] for arg in ("--agent", agent)),
    ]
    _grow = [
        ["add-store", backend]
        for backend in _answers.get("stores", ())
        if backend != _answers["database"]
    ]
    PROJECTS[combination_id(_answers)] = (_new, _grow)
_tricky = list(TRICKY_AGENTS.items())
PROJECTS["tricky-agents-postgres-s3-jwt"] = (
    ["--database", "postgres", "--file-store", "s3", "--auth", "jwt", "--agent", "billing"],
    [["add-agent", name, "--instructions", text] for name, text in _tricky[:4]],
)
PROJECTS["tricky-agents-default"] = (
    ["--no-docker"],
    [["add-agent", name, "--instructions", text] for name, text in _tricky[4:]],
)
#: The project of the update scenario (tests/generated/test_update_scenario.py).
PROJECTS["update-scenario"] = (
    [],
    [["add-agent", "billing", "--instructions", "You answer billing questions."]],
)

#: Drives the 0.1.0 CLI in the 0.1.0 environment: one process, every project.
_DRIVER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    import chatkit_scaffold
    from chatkit_scaffold.cli import app
    from typer.testing import CliRunner

    out, version, jobs = Path(sys.argv[1]), sys.argv[2], json.loads(Path(sys.argv[3]).read_text())
    assert chatkit_scaffold.__version__ == version, chatkit_scaffold.__version__
    assert Path(chatkit_scaffold.__file__).is_relative_to(sys.prefix), chatkit_scaffold.__file__
    runner = CliRunner()
    for key, (new, grow) in jobs.items():
        project = out / key
        commands = [["new", "my-app", "-o", str(project), "--yes", *new]]
        commands += [[*command, "--project", str(project)] for command in grow]
        for args in commands:
            result = runner.invoke(app, args)
            if result.exit_code != 0:
                sys.exit(f"{args}: exit {result.exit_code}\\n{result.output}{result.exception!r}")
    """
)


def _clean_env() -> dict[str, str]:
    leaky = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT")
    return {key: value for key, value in os.environ.items() if key not in leaky}


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(
        command,
        cwd=cwd,
        env=_clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"


def _release_commit() -> str:
    """The release commit: the tag when the clone has it (it must agree), else the hash."""
    commit = str(RELEASE["commit"])
    tag = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--verify", "--quiet", f"{RELEASE['tag']}^{{}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if tag.returncode == 0:
        assert tag.stdout.strip() == commit, f"tag {RELEASE['tag']} is not {commit}"
    found = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "cat-file", "-e", f"{commit}^{{commit}}"], check=False
    )
    assert found.returncode == 0, (
        f"commit {commit} ({RELEASE['tag']}) is not in this clone; the test needs the history "
        "(git fetch --unshallow)"
    )
    return commit


@pytest.fixture(scope="session")
def generated_0_1_0(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Projects made by the 0.1.0 CLI built from its commit, once per session across workers."""
    root = shared_dir(tmp_path_factory) / f"release-{VERSION}"
    root.mkdir(exist_ok=True)
    ready = root / "ready"
    with (root / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            _build_and_generate(root)
            ready.touch()
    return root / "projects"


def _build_and_generate(root: Path) -> None:
    uv = shutil.which("uv")
    assert uv, "uv is needed to build and install the 0.1.0 wheel"
    for name in ("source", "dist", "venv", "projects"):
        shutil.rmtree(root / name, ignore_errors=True)
    source = root / "source"
    source.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", "--format=tar", _release_commit()],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True)
    # The dependency versions 0.1.0 was tested with (its lock), so its Copier renders.
    constraints = root / "constraints.txt"
    export = [uv, "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project"]
    _run([*export, "--no-header", "--output-file", str(constraints)], cwd=source)
    _run([uv, "build", "--wheel", "--out-dir", str(root / "dist"), str(source)], cwd=root)
    (wheel,) = (root / "dist").glob(f"chatkit_scaffold-{VERSION}-*.whl")
    _run([uv, "venv", "--python", sys.executable, str(root / "venv")], cwd=root)
    python = root / "venv" / "bin" / "python"
    _run([uv, "pip", "install", "--python", str(python), "-c", str(constraints), str(wheel)], root)
    (root / "driver.py").write_text(_DRIVER)
    (root / "projects").mkdir()
    # Two CLI processes, each with every other project: the rendering is CPU-bound.
    keys = list(PROJECTS)
    drivers = []
    for half in (0, 1):
        jobs = root / f"jobs-{half}.json"
        jobs.write_text(json.dumps({key: PROJECTS[key] for key in keys[half::2]}))
        command = [str(python), str(root / "driver.py"), str(root / "projects"), VERSION, str(jobs)]
        drivers.append(
            subprocess.Popen(
                command,
                cwd=root,
                env=_clean_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
    for driver in drivers:
        output, _ = driver.communicate(timeout=600)
        assert driver.returncode == 0, f"the 0.1.0 CLI failed:\n{output.decode()}"


def _tree(project: Path) -> dict[str, tuple[bytes, int]]:
    return {
        path.relative_to(project).as_posix(): (path.read_bytes(), path.stat().st_mode)
        for path in sorted(project.rglob("*"))
        if path.is_file()
    }


def _dependencies(pyproject: bytes) -> dict[str, Any]:
    document = tomllib.loads(pyproject.decode())
    return {**document, "project": {**document["project"], "dependencies": None}}


@pytest.mark.parametrize("key", list(PROJECTS))
def test_the_renderer_reproduces_what_0_1_0_generated(generated_0_1_0: Path, key: str) -> None:
    project = generated_0_1_0 / key
    manifest = read_manifest(project)
    assert manifest.tool_version == VERSION
    rendered = render_base(manifest)
    on_disk = _tree(project)
    on_disk.pop(".chatkit-scaffold.json")
    assert sorted(rendered) == sorted(on_disk)
    assert sorted(manifest.files) == sorted(on_disk)
    grown = bool(PROJECTS[key][1]) and PROJECTS[key][1][0][0] == "add-store"
    for path, (content, mode) in on_disk.items():
        assert manifest.files[path] == hashlib.sha256(content).hexdigest(), path
        assert bool(mode & stat.S_IXUSR) == rendered[path].executable, path
        assert mode & 0o777 in {0o644, 0o755}, (path, oct(mode))
        if grown and path == "pyproject.toml":
            # add-store appended the driver; the set of dependencies and the rest agree.
            mine, theirs = rendered[path].content, content
            assert sorted(tomllib.loads(mine.decode())["project"]["dependencies"]) == sorted(
                tomllib.loads(theirs.decode())["project"]["dependencies"]
            )
            assert _dependencies(mine) == _dependencies(theirs)
            continue
        assert rendered[path].content == content, path
    if any(command[0] == "add-agent" for command in PROJECTS[key][1]):
        recorded = {c.name: c.params["instructions"] for c in manifest.of_kind("agent")}
        for name, text in TRICKY_AGENTS.items():
            if name in recorded:
                assert recorded[name] == text


def test_the_snapshot_is_the_release_commits_templates() -> None:
    """``releases/0.1.0`` holds exactly ``templates/`` of the release commit."""
    listing = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "ls-tree", "-r", "-z", _release_commit(), "--", "templates"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    snapshot = find_release(VERSION).path
    expected: dict[str, bytes] = {}
    for line in filter(None, listing):
        meta, path = line.split("\t", 1)
        mode, _kind, blob = meta.split()
        content = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "cat-file", "blob", blob], capture_output=True, check=True
        ).stdout
        relative = path.removeprefix("templates/")
        expected[relative] = content
        assert bool((snapshot / relative).stat().st_mode & stat.S_IXUSR) == (mode == "100755")
    actual = {
        path.relative_to(snapshot).as_posix(): path.read_bytes()
        for path in snapshot.rglob("*")
        if path.is_file() and path.name != "release.toml"
    }
    assert actual == expected
