"""JWT auth and the file stores (local, or none) of a generated server, over real HTTP."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from .apps import App, assert_answered, running_fake
from .chatkit_http import post_json, post_stream, user_input
from .images import images_sent, tiny_png

pytestmark = pytest.mark.e2e

SECRET = "e2e-test-secret-of-at-least-32-characters"


def _token(user_id: str, *, expires_in: int = 300, secret: str = SECRET) -> dict[str, str]:
    claims = {"sub": user_id, "exp": int(time.time()) + expires_in}
    return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}


@pytest.fixture
def jwt_app(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with running_fake({"auth": "jwt"}, tmp_path, tmp_path_factory) as app:
        app.env["JWT_SECRET"] = SECRET
        yield app


@pytest.fixture
def files_app(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with running_fake({"file_store": "local"}, tmp_path, tmp_path_factory) as app:
        app.env["SIGNING_SECRET"] = SECRET
        yield app


def test_jwt_guards_every_request_and_scopes_threads(jwt_app: App) -> None:
    list_threads = {"type": "threads.list", "params": {}}
    with jwt_app.server() as server:
        url = f"{server.url}/chatkit"
        for headers in (
            {},
            {"Authorization": "Bearer not-a-token"},
            _token("alice", expires_in=-120),
            _token("alice", secret="a-different-secret-of-32-characters-or-more"),
        ):
            refused = httpx.post(url, json=list_threads, headers=headers, timeout=30)
            assert refused.status_code == 401, headers
            assert refused.json()["error"]["message"]
        assert httpx.get(f"{server.url}/health", timeout=30).status_code == 200

        events = post_stream(
            server.url,
            {"type": "threads.create", "params": {"input": user_input("Hello")}},
            headers=_token("alice"),
        )
        thread_id = events[0]["thread"]["id"]
        assert_answered(events, "Hello")

        listed = post_json(server.url, list_threads, headers=_token("alice"))
        assert [thread["id"] for thread in listed["data"]] == [thread_id]
        assert post_json(server.url, list_threads, headers=_token("bob"))["data"] == []
        for body in (
            {"type": "threads.get_by_id", "params": {"thread_id": thread_id}},
            {"type": "items.list", "params": {"thread_id": thread_id}},
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": user_input("Mine now")},
            },
        ):
            foreign = httpx.post(url, json=body, headers=_token("bob"), timeout=30)
            assert foreign.status_code == 404, body["type"]
            assert thread_id not in foreign.text


def test_local_file_store_upload_download_and_model_input(files_app: App) -> None:
    png = tiny_png()
    with files_app.server() as server:
        attachment = post_json(
            server.url,
            {
                "type": "attachments.create",
                "params": {"name": "dot.png", "size": len(png), "mime_type": "image/png"},
            },
        )
        descriptor = attachment["upload_descriptor"]
        assert descriptor["url"].startswith(f"{server.url}/")
        upload = httpx.request(
            descriptor["method"],
            descriptor["url"],
            files={"file": ("dot.png", png, "image/png")},
            headers=descriptor.get("headers") or {},
            timeout=30,
        )
        assert upload.is_success, upload.text

        preview_url = attachment["preview_url"]
        assert preview_url.startswith(f"{server.url}/")
        preview = httpx.get(preview_url, timeout=30)
        assert preview.status_code == 200
        assert preview.content == png
        assert preview.headers["x-content-type-options"] == "nosniff"
        unsigned = httpx.get(preview_url.split("?")[0], timeout=30)
        assert unsigned.status_code in {401, 403}

        question = user_input("What is in this picture?")
        question["attachments"] = [attachment["id"]]
        events = post_stream(server.url, {"type": "threads.create", "params": {"input": question}})
        assert_answered(events, "What is in this picture?")

    data_url = "data:image/png;base64," + base64.b64encode(png).decode()
    assert any(data_url in images_sent(body) for body in files_app.fake.requests)


def test_attachments_without_a_file_store_get_501(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    create = {
        "type": "attachments.create",
        "params": {"name": "dot.png", "size": 10, "mime_type": "image/png"},
    }
    with (
        running_fake({"file_store": "none"}, tmp_path, tmp_path_factory) as app,
        app.server() as server,
    ):
        answer = httpx.post(f"{server.url}/chatkit", json=create, timeout=30)
    assert answer.status_code == 501
    assert answer.json()["error"]["message"]
