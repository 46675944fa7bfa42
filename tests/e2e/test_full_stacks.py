"""Two complete stacks end to end: uvicorn, a fake provider, two turns, a restart, a read-back.

``postgres+s3+jwt+gemini`` runs against the real PostgreSQL (a fresh database) and a local S3
server (moto); ``sqlite+local+none+litellm`` against a SQLite file and the local file store. In
both, the first turn carries an uploaded image that must reach the model, the second turn must
send the first one back as history, and after a restart the thread reads back both turns.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.fakes import reply_for

from .apps import App, assert_answered, running_fake
from .chatkit_http import done_items, item_text, post_json, post_stream, user_input
from .databases import fresh_database
from .images import images_sent, tiny_png
from .s3 import s3_bucket

pytestmark = pytest.mark.e2e

SECRET = "e2e-full-stack-secret-of-at-least-32-characters"
FIRST, SECOND = "What is in this picture?", "And what colour is it?"

Upload = Callable[[dict[str, Any], bytes], httpx.Response]


def _put_presigned(descriptor: dict[str, Any], content: bytes) -> httpx.Response:
    headers = descriptor.get("headers") or {}
    return httpx.put(descriptor["url"], content=content, headers=headers, timeout=30)


def _post_multipart(descriptor: dict[str, Any], content: bytes) -> httpx.Response:
    return httpx.request(
        descriptor["method"],
        descriptor["url"],
        files={"file": ("dot.png", content, "image/png")},
        headers=descriptor.get("headers") or {},
        timeout=30,
    )


@pytest.fixture
def postgres_s3_jwt_gemini(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[App]:
    answers = {"database": "postgres", "file_store": "s3", "auth": "jwt", "provider": "gemini"}
    with (
        s3_bucket() as s3_env,
        running_fake(answers, tmp_path, tmp_path_factory) as app,
        fresh_database(app.project) as database_url,
    ):
        app.env.update(s3_env, DATABASE_URL=database_url, JWT_SECRET=SECRET)
        yield app


@pytest.fixture
def sqlite_local_none_litellm(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[App]:
    answers = {"database": "sqlite", "file_store": "local", "auth": "none", "provider": "litellm"}
    with running_fake(answers, tmp_path, tmp_path_factory) as app:
        app.env["SIGNING_SECRET"] = SECRET
        yield app


def _bearer(user_id: str) -> dict[str, str]:
    claims = {"sub": user_id, "exp": int(time.time()) + 600}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


def _converse_restart_and_read_back(
    app: App, upload: Upload, headers: Mapping[str, str] | None = None
) -> None:
    png = tiny_png()
    with app.server() as server:
        attachment = post_json(
            server.url,
            {
                "type": "attachments.create",
                "params": {"name": "dot.png", "size": len(png), "mime_type": "image/png"},
            },
            headers,
        )
        uploaded = upload(attachment["upload_descriptor"], png)
        assert uploaded.is_success, uploaded.text

        question = user_input(FIRST)
        question["attachments"] = [attachment["id"]]
        events = post_stream(
            server.url, {"type": "threads.create", "params": {"input": question}}, headers
        )
        assert events[0]["type"] == "thread.created"
        thread_id = events[0]["thread"]["id"]
        first_answer = assert_answered(events, FIRST)
        (user_message,) = done_items(events, "user_message")
        assert [item["id"] for item in user_message["attachments"]] == [attachment["id"]]

        events = post_stream(
            server.url,
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": user_input(SECOND)},
            },
            headers,
        )
        second_answer = assert_answered(events, SECOND)
        assert second_answer["id"] != first_answer["id"]

    data_url = "data:image/png;base64," + base64.b64encode(png).decode()
    assert any(data_url in images_sent(body) for body in app.fake.requests)
    assert len(app.fake.requests) >= 2

    with app.server() as server:
        thread = post_json(
            server.url, {"type": "threads.get_by_id", "params": {"thread_id": thread_id}}, headers
        )
        page = post_json(
            server.url,
            {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}},
            headers,
        )

    expected = [
        ("user_message", FIRST),
        ("assistant_message", reply_for(FIRST)),
        ("user_message", SECOND),
        ("assistant_message", reply_for(SECOND)),
    ]
    assert thread["id"] == thread_id
    assert [(item["type"], item_text(item)) for item in thread["items"]["data"]] == expected
    assert [(item["type"], item_text(item)) for item in page["data"]] == expected
    assert page["has_more"] is False
    assert [item["id"] for item in page["data"]][1::2] == [first_answer["id"], second_answer["id"]]
    assert [item["id"] for item in page["data"][0]["attachments"]] == [attachment["id"]]


def test_postgres_s3_jwt_gemini(postgres_s3_jwt_gemini: App) -> None:
    _converse_restart_and_read_back(postgres_s3_jwt_gemini, _put_presigned, _bearer("alice"))


def test_sqlite_local_none_litellm(sqlite_local_none_litellm: App) -> None:
    _converse_restart_and_read_back(sqlite_local_none_litellm, _post_multipart)
