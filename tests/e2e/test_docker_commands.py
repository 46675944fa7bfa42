"""The Dockerfile's build and start commands, replayed outside Docker (no Docker on CI).

The builder stage's WORKDIR/COPY/RUN steps run in order in a scratch folder, copying only what
``.dockerignore`` lets into the build context; then everything but the virtual environment is
deleted (the runtime stage copies only ``/opt/venv`` and ``alembic.ini``), and the runtime
stage's CMD is started in that ``/app`` with the runtime ENV. Its HEALTHCHECK must pass, a chat
turn must stream, and the SQLite database must land in the ``/app/data`` volume; the migration
command of the Kubernetes init container then finds the schema at head.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import prepared_project, project_env, run_checked
from tests.fakes import FakeResponsesServer, reply_for
from tests.generated.dockerfile import (
    Stage,
    dockerignore_allows,
    exec_form,
    read_stages,
    shell_command,
)

from .chatkit_http import done_items, item_text, post_stream, user_input
from .server_process import ServerProcess, free_port

pytestmark = pytest.mark.e2e


def _build_context(project: Path, context: Path) -> None:
    ignored = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in dockerignore_allows(project):
        source = project / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=ignored)
        else:
            context.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, context / name)


def _replay_builder(builder: Stage, context: Path, root: Path, env: dict[str, str]) -> None:
    """Run the builder stage's steps with Docker paths mapped under ``root``."""
    cwd = root
    for instruction, args in builder.instructions:
        if instruction == "WORKDIR":
            cwd = root / args.lstrip("/")
            cwd.mkdir(parents=True, exist_ok=True)
        elif instruction == "COPY":
            *sources, destination = args.split()
            for source in sources:
                target = cwd / destination
                if destination.endswith("/"):
                    target = target / source
                if (context / source).is_dir():
                    shutil.copytree(context / source, target)
                else:
                    shutil.copy2(context / source, target)
        elif instruction == "RUN":
            command = shell_command(args)  # build cache mounts do not apply here
            if re.fullmatch(r'pip install "uv==\$\{UV_VERSION\}"', command):
                continue  # uv is already installed here
            run_checked(["bash", "-c", command], cwd, env=env)


def test_dockerfile_commands_build_and_serve(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    project = prepared_project(tmp_path_factory, {})  # synced, so uv.lock exists
    builder, runtime = read_stages(project / "Dockerfile")
    venv = tmp_path / "opt" / "venv"

    def local(value: str) -> str:
        return value.replace("/opt/venv", str(venv))

    context, build_root = tmp_path / "context", tmp_path / "build"
    _build_context(project, context)
    build_env = project_env({key: local(value) for key, value in builder.env().items()})
    _replay_builder(builder, context, build_root, build_env)
    app_dir = tmp_path / "app"
    (app_dir / "data").mkdir(parents=True)
    for copy in runtime.all("COPY"):  # the runtime stage's files from the build context
        if not copy.startswith("--from="):
            *sources, _ = copy.split()
            for source in sources:
                shutil.copy2(context / source, app_dir / source)
    shutil.rmtree(context)
    shutil.rmtree(build_root)
    port = free_port()
    runtime_env = {
        key: local(value).replace("${PATH}", os.environ["PATH"])
        for key, value in runtime.env().items()
    }
    (cmd,) = runtime.all("CMD")
    command = [part.replace("8000", str(port)) for part in exec_form(cmd)]
    (healthcheck,) = runtime.all("HEALTHCHECK")
    probe = [part.replace("8000", str(port)) for part in exec_form(healthcheck.split(" CMD ")[1])]

    with FakeResponsesServer() as fake:
        env = project_env(
            {
                **runtime_env,
                "OPENAI_API_KEY": "test",
                "OPENAI_BASE_URL": fake.base_url,
                "OPENAI_AGENTS_DISABLE_TRACING": "true",
            }
        )
        assert shutil.which(command[0], path=env["PATH"]) == str(venv / "bin" / command[0])
        with ServerProcess(
            command, cwd=app_dir, env=env, port=port, log_path=tmp_path / "server.log"
        ) as server:
            health = subprocess.run(probe, env=env, capture_output=True, text=True, check=False)
            assert health.returncode == 0, health.stderr
            events = post_stream(
                server.url, {"type": "threads.create", "params": {"input": user_input("Hi")}}
            )
    (answer,) = done_items(events, "assistant_message")
    assert item_text(answer) == reply_for("Hi")
    assert (app_dir / "data" / "app.db").exists()

    # The Kubernetes init container's command works from the image alone: the Alembic
    # migrations ship inside the package, and the image's alembic.ini finds them there.
    run_checked(["python", "-m", "my_app.stores.migrate"], app_dir, env=env)
    assert "(head)" in run_checked(["alembic", "current"], app_dir, env=env)
    with closing(sqlite3.connect(app_dir / "data" / "app.db")) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
        versions = db.execute("SELECT version_num FROM alembic_version").fetchall()
    assert "schema_version" not in tables and len(versions) == 1, (tables, versions)
