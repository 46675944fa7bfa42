"""The CLI through Typer's CliRunner: flags, prompts, dry run, errors and next steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatkit_scaffold import __version__, cli, grow
from chatkit_scaffold.manifest import MANIFEST_NAME

runner = CliRunner()


def flat(text: str) -> str:
    """Output with Rich's line wrapping undone."""
    return " ".join(text.split())


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_help_lists_the_commands() -> None:
    result = runner.invoke(cli.app, ["--help"])
    assert result.exit_code == 0
    commands = ("new", "add-agent", "add-tool", "add-widget", "add-store", "add-file-store")
    for command in (*commands, "add-auth", "add-provider", "add-deploy"):
        assert command in result.output


@pytest.mark.parametrize("command", [[], ["new"], ["add-store"], ["add-agent"], ["add-auth"]])
def test_h_is_help_and_no_option_shows_a_type_tag(command: list[str]) -> None:
    result = runner.invoke(cli.app, [*command, "-h"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    for tag in ("<bool>", "<str>", "<path>", "<list"):
        assert tag not in result.output


def test_new_help_lists_every_flag_with_its_values() -> None:
    result = runner.invoke(cli.app, ["new", "--help"])
    assert result.exit_code == 0
    output = flat(result.output)
    for flag in (
        "--database",
        "--file-store",
        "--provider",
        "--auth",
        "--deploy",
        "--agent",
        "--docker",
        "--no-docker",
        "--yes",
        "-y",
        "--dry-run",
        "--output-dir",
        "-o",
    ):
        assert flag in output
    for value in ("postgres", "s3", "gemini", "litellm", "openai-compatible", "jwt", "kubernetes"):
        assert value in output


def test_version() -> None:
    result = runner.invoke(cli.app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"chatkit-scaffold {__version__}"


def test_new_with_yes_creates_the_project_and_prints_next_steps(in_tmp: Path) -> None:
    result = runner.invoke(cli.app, ["new", "my-app", "--yes", "--provider", "gemini"])
    assert result.exit_code == 0, result.output
    assert (in_tmp / "my-app" / MANIFEST_NAME).is_file()
    manifest = json.loads((in_tmp / "my-app" / MANIFEST_NAME).read_text())
    assert manifest["answers"]["provider"] == "gemini"
    output = result.output
    assert "No terminal" not in output
    for step in ("cd my-app", "uv sync", "uv run pytest", "uv run uvicorn my_app.main:app"):
        assert step in output
    assert "GEMINI_API_KEY" in output


def test_next_steps_name_every_variable_the_options_require(in_tmp: Path) -> None:
    args = ["new", "my-app", "-y", "--auth", "jwt", "--file-store", "s3", "--database", "postgres"]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    output = flat(result.output)
    for variable in ("OPENAI_API_KEY", "DATABASE_URL", "UPLOAD_BUCKET", "JWT_SECRET or JWKS_URL"):
        assert variable in output


def test_ctrl_c_exits_130_and_says_nothing_was_written(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("chatkit_scaffold.project.new_project", interrupted)
    result = runner.invoke(cli.app, ["new", "my-app", "-y"])
    assert result.exit_code == 130
    assert "Aborted: nothing was written." in result.output
    assert list(in_tmp.iterdir()) == []


def test_next_steps_use_the_output_dir(in_tmp: Path) -> None:
    result = runner.invoke(cli.app, ["new", "my-app", "-y", "-o", "apps/chat"])
    assert result.exit_code == 0, result.output
    assert (in_tmp / "apps" / "chat" / "pyproject.toml").is_file()
    assert "cd apps/chat" in result.output
    assert "uv run uvicorn my_app.main:app" in result.output


def test_output_dir_dot_fills_the_current_empty_folder(in_tmp: Path) -> None:
    result = runner.invoke(cli.app, ["new", "my-app", "-y", "-o", "."])
    assert result.exit_code == 0, result.output
    assert (Path.cwd() / "pyproject.toml").is_file()
    assert "cd " not in result.output
    assert "uv sync" in result.output


def test_without_a_terminal_defaults_are_taken_and_named(in_tmp: Path) -> None:
    result = runner.invoke(cli.app, ["new", "my-app", "--database", "postgres"])
    assert result.exit_code == 0, result.output
    output = flat(result.output)
    assert "No terminal to prompt on: using the defaults --file-store local" in output
    assert "--provider openai, --auth none, --docker, --deploy none, no --agent" in output
    assert "--database" not in output.split("No terminal")[1].split(".")[0]
    manifest = json.loads((in_tmp / "my-app" / MANIFEST_NAME).read_text())
    assert manifest["answers"]["database"] == "postgres"


def test_bad_flag_value_exits_2_naming_flag_value_and_choices(in_tmp: Path) -> None:
    result = runner.invoke(cli.app, ["new", "my-app", "--provider", "gemni", "-y"])
    assert result.exit_code == 2
    output = flat(result.output)
    assert (
        "Error: Invalid value for --provider: 'gemni'. Allowed values: openai, gemini, "
        "litellm, openai-compatible. Did you mean 'gemini'?"
    ) in output
    assert "Traceback" not in output
    assert list(in_tmp.iterdir()) == []


def test_bad_name_exits_2(in_tmp: Path) -> None:
    result = runner.invoke(cli.app, ["new", "fastapi", "-y"])
    assert result.exit_code == 2
    assert "Invalid NAME 'fastapi'" in flat(result.output)
    assert "Hint:" in result.output
    assert list(in_tmp.iterdir()) == []


def test_too_long_name_exits_2_without_a_traceback(in_tmp: Path) -> None:
    result = runner.invoke(cli.app, ["new", "a" * 300, "-y", "--dry-run"])
    assert result.exit_code == 2
    assert "300 characters, longer than 64" in flat(result.output)
    assert "Traceback" not in result.output
    assert list(in_tmp.iterdir()) == []


def test_too_long_output_dir_exits_2_without_a_traceback(in_tmp: Path) -> None:
    result = runner.invoke(cli.app, ["new", "my-app", "-y", "-o", "b" * 300])
    assert result.exit_code == 2
    output = flat(result.output)
    assert "File name too long" in output
    assert "Hint: Use a shorter NAME or --output-dir" in output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert list(in_tmp.iterdir()) == []


def test_unreadable_target_exits_1_with_a_hint(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (in_tmp / "my-app").mkdir()

    def denied(self: Path) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "iterdir", denied)
    result = runner.invoke(cli.app, ["new", "my-app", "-y"])
    assert result.exit_code == 1
    output = flat(result.output)
    assert "Permission denied" in output
    assert "Hint: Check that the folder exists" in output
    assert isinstance(result.exception, SystemExit)


def test_an_os_error_while_growing_is_reported_not_raised(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(project_dir: Path, *args: object, **kwargs: object) -> None:
        raise OSError(30, "Read-only file system", str(project_dir / "pyproject.toml"))

    monkeypatch.setattr(grow, "add_agent", read_only)
    result = runner.invoke(cli.app, ["add-agent", "billing"])
    assert result.exit_code == 1
    assert "Read-only file system" in flat(result.output)
    assert isinstance(result.exception, SystemExit)


def test_bad_agent_exits_2(in_tmp: Path) -> None:
    result = runner.invoke(cli.app, ["new", "my-app", "-y", "--agent", "Billing"])
    assert result.exit_code == 2
    assert "Did you mean 'billing'?" in flat(result.output)


def test_unknown_flag_exits_2() -> None:
    result = runner.invoke(cli.app, ["new", "my-app", "--colour", "blue"])
    assert result.exit_code == 2


def test_non_empty_target_exits_4_with_a_hint(in_tmp: Path) -> None:
    (in_tmp / "my-app").mkdir()
    (in_tmp / "my-app" / "main.py").write_text("print('mine')\n")
    result = runner.invoke(cli.app, ["new", "my-app", "-y"])
    assert result.exit_code == 4
    output = flat(result.output)
    assert "Refusing to write into" in output
    assert "Hint: Choose another NAME or --output-dir" in output
    assert [path.name for path in (in_tmp / "my-app").iterdir()] == ["main.py"]


def test_dry_run_prints_the_tree_with_sizes_and_writes_nothing(in_tmp: Path) -> None:
    result = runner.invoke(cli.app, ["new", "my-app", "--dry-run", "-y", "--no-docker"])
    assert result.exit_code == 0, result.output
    assert list(in_tmp.iterdir()) == []
    output = result.output
    assert "pyproject.toml" in output
    assert MANIFEST_NAME in output
    assert "my_app/" in output
    assert "bytes" in output or "kB" in output
    assert "Dockerfile" not in output
    assert "nothing was written" in flat(output)


def test_prompts_for_each_choice_not_given(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_is_interactive", lambda: True)
    answers = "\n".join(
        ["postgres", "mongo", "S3", "", "n", "Kubernetes", "Billing, support", "billing"]
    )
    result = runner.invoke(
        cli.app, ["new", "my-app", "--provider", "litellm"], input=answers + "\n"
    )
    assert result.exit_code == 0, result.output
    output = result.output
    assert "Database [sqlite/postgres] (sqlite)" in output
    assert "Model provider" not in output
    assert "Invalid value for File store for attachments: 'mongo'." in flat(output)
    assert "Did you mean 'billing'?" in flat(output)
    manifest = json.loads((in_tmp / "my-app" / MANIFEST_NAME).read_text())
    assert manifest["answers"] == {
        "project_name": "my-app",
        "package_name": "my_app",
        "database": "postgres",
        "file_store": "s3",
        "provider": "litellm",
        "auth": "none",
        "docker": False,
        "deploy": "kubernetes",
    }
    assert "Deployment manifests [none/kubernetes] (none)" in output
    assert (in_tmp / "my-app/deploy/kubernetes/base/deployment.yaml").is_file()
    agents = [c["name"] for c in manifest["components"] if c["kind"] == "agent"]
    assert agents == ["billing"]
    assert (in_tmp / "my-app/src/my_app/agents/specialists/billing.py").is_file()


def test_yes_never_prompts(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_is_interactive", lambda: True)
    result = runner.invoke(cli.app, ["new", "my-app", "--yes"], input="")
    assert result.exit_code == 0, result.output
    assert "[sqlite/postgres]" not in result.output


def test_bad_flag_fails_before_prompting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_is_interactive", lambda: True)
    result = runner.invoke(cli.app, ["new", "my-app", "--auth", "basic"], input="")
    assert result.exit_code == 2
    assert "[sqlite/postgres]" not in result.output
