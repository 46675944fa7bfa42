"""Growing an edited project: ``add-agent`` twice, ``add-store postgres``, ``add-file-store s3``
and ``add-auth jwt`` keep every user edit.

A default project is generated and edited as a user would (the entry agent's instructions, a new
route in ``main.py``, a reformatted ``pyproject.toml``, later the new agent's instructions). Then
the commands run, through the CLI in a subprocess and through the library; ``--dry-run`` writes
nothing, the second ``add-agent`` changes nothing, every edit survives byte for byte, and the
project's own tests (the new PostgreSQL store's against the real server), ruff and mypy pass.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import generate_project, project_env, run_checked
from tests.e2e.databases import ADMIN_URL

pytestmark = pytest.mark.generated

ASSISTANT = Path("src/my_app/agents/assistant.py")
BILLING = Path("src/my_app/agents/specialists/billing.py")
MAIN = Path("src/my_app/main.py")

USER_INSTRUCTIONS = '''INSTRUCTIONS = """\\
You are Acme's support assistant. Be brief and friendly.
Never promise refunds; hand billing questions to the billing specialist.
"""
'''

BILLING_INSTRUCTIONS = '''INSTRUCTIONS = """\\
You handle Acme invoices only. Quote invoice numbers exactly as the user wrote them.
"""
'''

USER_ROUTE = '''

@app.get("/version")
def version() -> dict[str, str]:
    """The deployed version, for the load balancer's dashboard."""
    return {"version": "2024.11"}
'''


def user_layout(generated: str) -> str:
    """The user's own layout of the generated dependency array: two-space indent, the
    requirements in reverse order, and comments of theirs."""
    requirements = [line.strip() for line in generated.splitlines() if line.strip().startswith('"')]
    lines = ["dependencies = [", "  # ours: newest first (see ops#12)"]
    lines += [f"  {requirement}" for requirement in reversed(requirements)]
    return "\n".join([*lines, "]"])


def tree_hash(root: Path) -> str:
    """One sha256 over every file's relative path and bytes (the ``.venv`` aside)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and relative.parts[0] not in {".venv", ".pytest_cache"}:
            digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def cli(project: Path, *args: str) -> str:
    """Run ``chatkit-scaffold ARGS --project PROJECT`` in a subprocess; it must exit 0."""
    completed = subprocess.run(
        [sys.executable, "-m", "chatkit_scaffold", *args, "--project", str(project)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=project_env({"COLUMNS": "200"}),
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not found once in {path}"
    path.write_text(text.replace(old, new))


def block_between(text: str, start: str, end: str) -> str:
    """The text from the line starting with ``start`` through the next ``end``."""
    begin = text.index(start)
    return text[begin : text.index(end, begin) + len(end)]


def user_edits(project: Path) -> str:
    """Edit the project as a user would; returns the user's dependency array."""
    assistant = project / ASSISTANT
    generated = block_between(assistant.read_text(), 'INSTRUCTIONS = """', '"""\n')
    replace_once(assistant, generated, USER_INSTRUCTIONS)
    with (project / MAIN).open("a") as main:
        main.write(USER_ROUTE)
    pyproject = project / "pyproject.toml"
    generated = block_between(pyproject.read_text(), "dependencies = [", "\n]")
    ours = user_layout(generated)
    replace_once(pyproject, generated, ours)
    return ours


def test_growing_an_edited_project_keeps_every_user_edit(tmp_path: Path) -> None:
    from chatkit_scaffold.catalog import load_catalog
    from chatkit_scaffold.grow import add_agent, add_component

    project = generate_project(tmp_path / "my-app")
    user_dependencies = user_edits(project)
    main_before = (project / MAIN).read_bytes()
    pyproject_before = (project / "pyproject.toml").read_text()

    # --dry-run writes nothing, through the CLI and the library.
    before = tree_hash(project)
    assert "billing" in cli(project, "add-agent", "billing", "--dry-run")
    assert add_agent(project, "billing", dry_run=True).writes
    assert tree_hash(project) == before

    cli(project, "add-agent", "billing")
    assert tree_hash(project) != before
    replace_once(
        project / BILLING,
        block_between((project / BILLING).read_text(), 'INSTRUCTIONS = """', '"""\n'),
        BILLING_INSTRUCTIONS,
    )

    # The same command again (the library, then the CLI) changes nothing, not even the manifest.
    before = tree_hash(project)
    assert add_agent(project, "billing").writes == ()
    cli(project, "add-agent", "billing")
    assert tree_hash(project) == before

    assert "postgres" in cli(project, "add-store", "postgres", "--dry-run")
    assert add_component(project, "database", "postgres", dry_run=True).writes
    assert tree_hash(project) == before
    add_component(project, "database", "postgres")
    assert tree_hash(project) != before

    # The road to production: attachments to S3, then JWT auth, on the edited project.
    assert "s3" in cli(project, "add-file-store", "s3", "--dry-run")
    cli(project, "add-file-store", "s3")
    assert "jwt" in cli(project, "add-auth", "jwt", "--dry-run")
    cli(project, "add-auth", "jwt")
    installed = json.loads((project / ".chatkit-scaffold.json").read_text())["answers"]
    assert (installed["file_store"], installed["auth"]) == ("s3", "jwt"), installed

    # Every user edit is still there, byte for byte.
    assert USER_INSTRUCTIONS in (project / ASSISTANT).read_text()
    assert BILLING_INSTRUCTIONS in (project / BILLING).read_text()
    assert (project / MAIN).read_bytes() == main_before
    pyproject = (project / "pyproject.toml").read_text()
    dependencies = block_between(pyproject, "dependencies = [", "\n]")
    added = [line for line in dependencies.splitlines() if line not in user_dependencies]
    catalog = load_catalog()
    grown = [
        catalog.spec("database", "postgres"),
        catalog.spec("file_store", "s3"),
        catalog.spec("auth", "jwt"),
    ]
    declared = [f'"{r}",' for spec in grown for r in spec.list("dependencies")]
    assert [line.strip() for line in added] == declared, dependencies
    assert [line for line in dependencies.splitlines() if line not in added] == (
        user_dependencies.splitlines()
    )
    # Outside the array only the grown components' dev dependencies were added.
    dev = {f'"{r}",' for spec in grown for r in spec.list("dev_dependencies")}
    outside = pyproject.replace(dependencies, "").splitlines()
    assert [line for line in outside if line.strip() not in dev] == (
        pyproject_before.replace(user_dependencies, "").splitlines()
    ), "outside the array"

    # The grown project still passes its own checks, the new store against the real PostgreSQL.
    env = project_env({"TEST_DATABASE_URL": ADMIN_URL})
    run_checked(["uv", "sync"], project, env=env)
    run_checked(["uv", "run", "ruff", "check"], project, env=env)
    run_checked(["uv", "run", "ruff", "format", "--check"], project, env=env)
    run_checked(["uv", "run", "mypy"], project, env=env)
    output = run_checked(["uv", "run", "pytest", "-v", "-p", "no:cacheprovider"], project, env=env)
    summary = output.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary, output[-5000:]
    postgres = [line for line in output.splitlines() if "test_store_postgres.py::" in line]
    assert postgres and all("PASSED" in line for line in postgres), "\n".join(postgres)
    assert [line for line in output.splitlines() if "test_agent_billing.py::" in line]
