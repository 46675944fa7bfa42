"""The generated Dockerfile, built by a real OCI builder (Podman) and run as a container.

Two images, each built once per test run (across xdist workers) from the shipped Dockerfile,
unchanged: the default project and the largest combination (postgres, s3, jwt, gemini, one
specialist agent). Each container is checked from the outside as a user would see it: ``/health``
on a published loopback port, the image's ``HEALTHCHECK``, the server process's user (10001, not
root), a streamed chat turn answered by the fake provider (on the host, reached from the
container), a graceful stop, and the threads still listed by a new container on the same volume
(SQLite) or database (PostgreSQL). The largest one also uploads an image to the S3 server and
checks that the model got it, read back from S3 by the container. The default image also runs
the way the generated Kubernetes Deployment runs its pod (read-only root, no capabilities, the
``emptyDir`` and the claim as its only writable folders), read from the built manifests.

Where no registry is reachable the base image is a stand-in built from Debian packages
(``tests/e2e/oci.py``). The builder is never installed here: without it these tests fail.
"""

from __future__ import annotations

import base64
import fcntl
import json
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import jwt
import pytest

from tests.conftest import generate_project, prepared_project, shared_dir
from tests.fakes import FakeChatCompletionsServer, FakeResponsesServer
from tests.generated.dockerfile import read_stages
from tests.kustomize import kustomize_build

from . import oci
from .apps import assert_answered
from .chatkit_http import done_items, post_json, post_stream, user_input
from .containers import Container, container, from_container, volume
from .databases import fresh_database
from .images import images_sent, tiny_png
from .oci_report import record_figure
from .s3 import s3_bucket

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

APP_UID = 10001
LARGEST = {
    "database": "postgres",
    "file_store": "s3",
    "auth": "jwt",
    "provider": "gemini",
    "agents": ("billing",),
}
SECRET = "e2e-docker-secret-of-at-least-32-characters"


def _built(
    config: pytest.Config,
    factory: pytest.TempPathFactory,
    name: str,
    answers: Mapping[str, Any],
) -> oci.BuiltImage:
    """The image of the project for ``answers``, built once per run across workers."""
    oci.require_builder()
    base = oci.ensure_base_image()
    text = f"{base.how} in {base.seconds:.0f} s, {oci.image_size(oci.BASE_IMAGE) / 1e6:.0f} MB"
    record_figure(config, "base image", text, keep=base.how == "found")
    project = prepared_project(factory, answers)
    root = shared_dir(factory) / "oci-images"
    root.mkdir(exist_ok=True)
    done = root / f"{name}.json"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            built = oci.build_image(project, f"localhost/chatkit-scaffold-e2e/{name}:latest")
            done.write_text(json.dumps(asdict(built)))
            text = f"built in {built.build_seconds:.0f} s, {built.size_bytes / 1e6:.0f} MB"
            record_figure(config, f"{name} image", text)
    return oci.BuiltImage(**json.loads(done.read_text()))


@pytest.fixture(scope="session")
def default_image(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> oci.BuiltImage:
    return _built(pytestconfig, tmp_path_factory, "default", {})


@pytest.fixture(scope="session")
def largest_image(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> oci.BuiltImage:
    return _built(pytestconfig, tmp_path_factory, "largest", LARGEST)


def _assert_served_by_app_user(running: Container) -> None:
    """PID 1 is the CMD's uvicorn, running as the image's numeric user, not root."""
    status = running.exec("cat", "/proc/1/status")
    ids = {
        line.split(":")[0]: line.split()[1:]
        for line in status.splitlines()
        if line.startswith(("Uid:", "Gid:"))
    }
    assert ids == {"Uid": [str(APP_UID)] * 4, "Gid": [str(APP_UID)] * 4}, status
    command = running.exec("cat", "/proc/1/cmdline").split("\0")
    assert command[1].endswith("/uvicorn"), command


def _assert_healthy(running: Container) -> None:
    assert httpx.get(f"{running.url}/health", timeout=10).json()["status"] == "ok"
    probe = running.healthcheck()
    assert probe.returncode == 0, probe.stdout + probe.stderr


def _stop_gracefully(running: Container) -> None:
    code = running.stop()
    assert code == 0, f"exit code {code} on SIGTERM:\n{running.logs()}"


def _thread_ids(running: Container, headers: Mapping[str, str] | None = None) -> list[str]:
    page = post_json(running.url, {"type": "threads.list", "params": {}}, headers)
    return [thread["id"] for thread in page["data"]]


def test_default_image_serves_as_non_root_and_keeps_threads_in_its_volume(
    default_image: oci.BuiltImage,
) -> None:
    with FakeResponsesServer() as fake, volume() as data:
        env = {
            "OPENAI_API_KEY": "test",
            "OPENAI_BASE_URL": from_container(fake.base_url),
            "OPENAI_AGENTS_DISABLE_TRACING": "true",
        }
        with container(default_image.image_id, env=env, data_volume=data) as first:
            _assert_healthy(first)
            _assert_served_by_app_user(first)
            events = post_stream(
                first.url, {"type": "threads.create", "params": {"input": user_input("Hi")}}
            )
            assert_answered(events, "Hi")
            thread_id = events[0]["thread"]["id"]
            assert "app.db" in first.exec("ls", "/app/data").split()
            _stop_gracefully(first)

        with container(default_image.image_id, env=env, data_volume=data) as second:
            assert _thread_ids(second) == [thread_id]
    assert len(fake.requests) >= 1


def _bearer(user_id: str) -> dict[str, str]:
    claims = {"sub": user_id, "exp": int(time.time()) + 600}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


def _put_from_host(descriptor: dict[str, Any], content: bytes) -> None:
    """PUT to a presigned URL naming the container's view of the host, as the host.

    The request goes to the same server on 127.0.0.1 with the signed ``Host`` unchanged.
    """
    url = urlsplit(descriptor["url"])
    assert url.hostname == oci.HOST_FROM_CONTAINER, descriptor["url"]
    local = urlunsplit(url._replace(netloc=f"127.0.0.1:{url.port}"))
    headers = {**(descriptor.get("headers") or {}), "Host": url.netloc}
    uploaded = httpx.put(local, content=content, headers=headers, timeout=30)
    assert uploaded.is_success, uploaded.text


@pytest.fixture
def largest_env(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[str, str], FakeChatCompletionsServer]]:
    """The largest project's settings for a container, with its fake, database and bucket."""
    with ExitStack() as stack:
        fake = stack.enter_context(FakeChatCompletionsServer())
        s3_env = stack.enter_context(s3_bucket())
        project = prepared_project(tmp_path_factory, LARGEST)
        database_url = stack.enter_context(fresh_database(project))
        env = {
            **s3_env,
            "S3_ENDPOINT_URL": from_container(s3_env["S3_ENDPOINT_URL"]),
            "DATABASE_URL": from_container(database_url),
            "GEMINI_API_KEY": "test",
            "GEMINI_BASE_URL": from_container(fake.base_url),
            "JWT_SECRET": SECRET,
            "SIGNING_SECRET": "container-signing-secret-0123456789ab",
            "OPENAI_AGENTS_DISABLE_TRACING": "true",
        }
        yield env, fake


def test_largest_image_serves_chat_with_postgres_s3_and_jwt(
    largest_image: oci.BuiltImage, largest_env: tuple[dict[str, str], FakeChatCompletionsServer]
) -> None:
    env, fake = largest_env
    alice = _bearer("alice")
    png = tiny_png()
    with volume() as data:
        with container(largest_image.image_id, env=env, data_volume=data) as first:
            _assert_healthy(first)
            _assert_served_by_app_user(first)
            unauthenticated = httpx.post(
                f"{first.url}/chatkit", json={"type": "threads.list", "params": {}}, timeout=30
            )
            assert unauthenticated.status_code == 401

            attachment = post_json(
                first.url,
                {
                    "type": "attachments.create",
                    "params": {"name": "dot.png", "size": len(png), "mime_type": "image/png"},
                },
                alice,
            )
            _put_from_host(attachment["upload_descriptor"], png)
            question = user_input("What is in this picture?")
            question["attachments"] = [attachment["id"]]
            events = post_stream(
                first.url, {"type": "threads.create", "params": {"input": question}}, alice
            )
            assert_answered(events, "What is in this picture?")
            (user_message,) = done_items(events, "user_message")
            assert [item["id"] for item in user_message["attachments"]] == [attachment["id"]]
            thread_id = events[0]["thread"]["id"]
            _stop_gracefully(first)

        data_url = "data:image/png;base64," + base64.b64encode(png).decode()
        assert any(data_url in images_sent(body) for body in fake.requests)

        with container(largest_image.image_id, env=env, data_volume=data) as second:
            assert _thread_ids(second, alice) == [thread_id]
            assert _thread_ids(second, _bearer("bob")) == []


def test_the_stand_in_is_tagged_as_the_dockerfiles_base(tmp_path: Path) -> None:
    """Every ``FROM`` of the shipped Dockerfile names :data:`oci.BASE_IMAGE`."""
    dockerfile = generate_project(tmp_path / "my-app") / "Dockerfile"
    (version,) = [
        line.removeprefix("ARG PYTHON_VERSION=")
        for line in dockerfile.read_text().splitlines()
        if line.startswith("ARG PYTHON_VERSION=")
    ]
    named = {stage.image.replace("${PYTHON_VERSION}", version) for stage in read_stages(dockerfile)}
    assert {f"docker.io/library/{name}" for name in named} == {oci.BASE_IMAGE}


def _as_the_pod_runs_it(project: Path) -> tuple[list[str], dict[str, str]]:
    """``podman run`` options that run the image as the generated Deployment runs its pod, and
    the ConfigMap's variables.

    Read from the built manifests, so the container gets exactly what the pod would: the user and
    group, a read-only root (with no tmpfs Podman would add on its own), no capabilities, no
    privilege escalation, an ``emptyDir`` as a tmpfs of its size, the claim on ``/app/data``.
    """
    resources = kustomize_build(project / "deploy/kubernetes/base")
    (deployment,) = (r for r in resources if r["kind"] == "Deployment")
    (config_map,) = (r for r in resources if r["kind"] == "ConfigMap")
    pod = deployment["spec"]["template"]["spec"]
    (app,) = pod["containers"]
    security = {**pod["securityContext"], **app["securityContext"]}
    options = [f"--user={security['runAsUser']}:{security['runAsGroup']}"]
    if security["readOnlyRootFilesystem"]:
        options += ["--read-only", "--read-only-tmpfs=false"]
    options += [f"--cap-drop={capability}" for capability in security["capabilities"]["drop"]]
    if not security["allowPrivilegeEscalation"]:
        options.append("--security-opt=no-new-privileges")
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    for mount in app["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "emptyDir" in volume:
            size = volume["emptyDir"]["sizeLimit"].removesuffix("Mi")
            options.append(f"--tmpfs={mount['mountPath']}:rw,size={size}m,mode=1777")
        else:
            assert "persistentVolumeClaim" in volume
            assert mount["mountPath"] == "/app/data"  # the helper's named volume
    return options, dict(config_map["data"])


def test_default_image_serves_as_the_kubernetes_pod_runs_it(
    default_image: oci.BuiltImage, tmp_path: Path
) -> None:
    """The pod's read-only root, dropped capabilities and writable folders are enough to serve:
    a streamed turn (SQLite in the claim), an upload (the local store and its signing key file),
    its download; the root filesystem refuses writes."""
    project = generate_project(tmp_path / "my-app", {"deploy": "kubernetes"})
    options, config = _as_the_pod_runs_it(project)
    png = tiny_png()
    with FakeResponsesServer() as fake, volume() as data:
        env = {
            **config,
            "OPENAI_API_KEY": "test",
            "OPENAI_BASE_URL": from_container(fake.base_url),
            "OPENAI_AGENTS_DISABLE_TRACING": "true",
        }
        with container(default_image.image_id, env=env, data_volume=data, options=options) as pod:
            for path in ("/health/live", "/health/ready"):
                assert httpx.get(f"{pod.url}{path}", timeout=10).status_code == 200, path
            _assert_served_by_app_user(pod)
            attachment = post_json(
                pod.url,
                {
                    "type": "attachments.create",
                    "params": {"name": "dot.png", "size": len(png), "mime_type": "image/png"},
                },
            )
            # The URLs name PUBLIC_BASE_URL (the Ingress's address); send them to the pod.
            descriptor = attachment["upload_descriptor"]
            assert descriptor["url"].startswith(config["PUBLIC_BASE_URL"])
            upload = httpx.request(
                descriptor["method"],
                descriptor["url"].replace(config["PUBLIC_BASE_URL"], pod.url),
                files={"file": ("dot.png", png, "image/png")},
                timeout=30,
            )
            assert upload.is_success, upload.text
            preview = attachment["preview_url"].replace(config["PUBLIC_BASE_URL"], pod.url)
            assert httpx.get(preview, timeout=30).content == png
            question = user_input("What is in this picture?")
            question["attachments"] = [attachment["id"]]
            events = post_stream(pod.url, {"type": "threads.create", "params": {"input": question}})
            assert_answered(events, "What is in this picture?")
            assert "app.db" in pod.exec("ls", "/app/data").split()
            assert ".signing-key" in pod.exec("ls", "-a", "/app/data/uploads").split()
            refused = subprocess.run(
                ["podman", "exec", pod.name, "touch", "/app/written"],
                capture_output=True,
                text=True,
                check=False,
            )
            assert refused.returncode != 0
            assert "Read-only file system" in refused.stderr
            _stop_gracefully(pod)
    data_url = "data:image/png;base64," + base64.b64encode(png).decode()
    assert any(data_url in images_sent(body) for body in fake.requests)
