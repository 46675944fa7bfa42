"""`chatkit-scaffold update` on a real 0.1.0 project a user has lived in (issue 14's scenario).

The project is made by the 0.1.0 CLI built from its release commit (``new``, then ``add-agent
billing``; see tests/test_release_0_1_0.py). The user then edits it: the entry agent's
instructions, a route in ``main.py``, ``pyproject.toml`` reordered with a comment and an extra
dependency, the added agent, and one line the new templates change too. After ``update`` to this
version every edit but the overlapping one is kept (the templates' changes to the same files
merged around it), the overlap is marked (exit 3), and once it is resolved the project's own
tests, ruff and mypy pass. A second ``update`` changes nothing and says so.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import project_env, run_checked
from tests.test_release_0_1_0 import generated_0_1_0  # noqa: F401 (the fixture)

pytestmark = pytest.mark.generated

ROUTE = '''

@app.get("/hello")
async def hello() -> dict[str, str]:
    """A route of the project's owner."""
    return {"hello": "world"}
'''
EDITED_LINES = {
    "assistant.py": "You are a cheerful, concise assistant",
    "billing.py": "You answer billing and refund questions.",
}
OVERLAP_OLD = '"""The ChatKit server: answers each turn with the agents and records feedback."""'
OVERLAP_NEW = '"""Our ChatKit server, tuned for the support team."""'


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatkit_scaffold", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def tree(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".venv" not in path.parts
    }


def take_template_side(text: str) -> str:
    """Resolve every conflict as the template has it (what a user would do here)."""
    pattern = re.compile(
        r"<<<<<<< yours\n.*?(?:\|\|\|\|\|\|\| [^\n]*\n.*?)?=======\n(.*?)>>>>>>> [^\n]*\n",
        re.DOTALL,
    )
    return pattern.sub(lambda match: match.group(1), text)


def test_update_keeps_every_edit_and_marks_the_overlap(
    generated_0_1_0: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    project = tmp_path / "my-app"
    shutil.copytree(generated_0_1_0 / "update-scenario", project)

    assistant = project / "src/my_app/agents/assistant.py"
    edit(assistant, "You are a helpful, concise assistant", "You are a cheerful, concise assistant")
    main = project / "src/my_app/main.py"
    main.write_text(main.read_text() + ROUTE)
    pyproject = project / "pyproject.toml"
    edit(
        pyproject,
        '    "fastapi>=0.115,<1",\n    "uvicorn[standard]>=0.30",\n',
        '    "uvicorn[standard]>=0.30",\n    # Our own web framework pin.\n'
        '    "fastapi>=0.115,<1",\n    "humanize>=4",\n',
    )
    billing = project / "src/my_app/agents/specialists/billing.py"
    edit(billing, "You answer billing questions.", "You answer billing and refund questions.")
    edit(project / "src/my_app/server.py", OVERLAP_OLD, OVERLAP_NEW)
    edited = {path: path.read_bytes() for path in (assistant, billing)}

    before = tree(project)
    dry = cli("update", "--dry-run", cwd=project)
    assert dry.returncode == 3, dry.stdout + dry.stderr
    assert "1 file(s) would need resolving" in dry.stderr
    assert "src/my_app/server.py: 1 conflict(s)" in dry.stderr
    assert tree(project) == before

    result = cli("update", cwd=project)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Updating" in result.stdout and "from chatkit-scaffold 0.1.0 to" in result.stdout
    assert "src/my_app/server.py: 1 conflict(s)" in result.stderr
    # The schema change comes with its note: the store migrates on the next start.
    assert "Since 0.2.0: the store runs on SQLAlchemy" in result.stdout + result.stderr

    # The user's lines are kept; the templates' own changes to these files are merged around them.
    for path, content in edited.items():
        assert EDITED_LINES[path.name] in path.read_text(), path
        assert path.read_bytes() != content  # `instructions=localized(INSTRUCTIONS)` came in
        assert "localized(INSTRUCTIONS)" in path.read_text()
    assert main.read_text().endswith(ROUTE)
    assert "create_app" in main.read_text()
    text = pyproject.read_text()
    assert (
        '    # Our own web framework pin.\n    "fastapi>=0.115,<1",\n    "humanize>=4",\n' in text
    )
    assert '"pydantic-settings' in text
    server = project / "src/my_app/server.py"
    marked = server.read_text()
    assert "<<<<<<< yours\n" + OVERLAP_NEW in marked
    assert ">>>>>>> chatkit-scaffold" in marked

    server.write_text(take_template_side(marked))
    env = project_env()
    run_checked(["uv", "sync", "--quiet"], project, env=env)
    run_checked(["uv", "run", "ruff", "check"], project, env=env)
    run_checked(["uv", "run", "ruff", "format", "--check"], project, env=env)
    run_checked(["uv", "run", "mypy"], project, env=env)
    output = run_checked(["uv", "run", "pytest", "-q", "-p", "no:cacheprovider"], project, env=env)
    assert " passed" in output.strip().splitlines()[-1]

    after = tree(project)
    again = cli("update", cwd=project)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already at chatkit-scaffold" in again.stdout
    assert tree(project) == after
