"""The PostgreSQL store and the S3 file store of generated servers, over real HTTP."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .apps import App, assert_answered, running_fake
from .chatkit_http import done_items, item_text, post_json, post_stream, user_input
from .databases import fresh_database
from .images import images_sent, tiny_png
from .s3 import s3_bucket

pytestmark = pytest.mark.e2e


@pytest.fixture
def postgres_app(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with (
        running_fake({"database": "postgres"}, tmp_path, tmp_path_factory) as app,
        fresh_database(app.project) as database_url,
    ):
        app.env["DATABASE_URL"] = database_url
        yield app


@pytest.fixture
def s3_app(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with (
        s3_bucket() as s3_env,
        running_fake({"file_store": "s3"}, tmp_path, tmp_path_factory) as app,
    ):
        app.env.update(s3_env)
        yield app


def test_postgres_thread_continues_after_a_restart(postgres_app: App) -> None:
    with postgres_app.server() as server:
        events = post_stream(
            server.url, {"type": "threads.create", "params": {"input": user_input("One")}}
        )
        thread_id = events[0]["thread"]["id"]
        assert_answered(events, "One")

    with postgres_app.server() as server:
        events = post_stream(
            server.url,
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": user_input("Two")},
            },
        )
        assert_answered(events, "Two")
        page = post_json(
            server.url,
            {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}},
        )
    assert [item_text(item) for item in page["data"]] == ["One", "echo: One", "Two", "echo: Two"]


def test_s3_presigned_upload_preview_and_model_input(s3_app: App) -> None:
    png = tiny_png()
    with s3_app.server() as server:
        attachment = post_json(
            server.url,
            {
                "type": "attachments.create",
                "params": {"name": "dot.png", "size": len(png), "mime_type": "image/png"},
            },
        )
        descriptor = attachment["upload_descriptor"]
        assert descriptor["method"] == "PUT"
        upload = httpx.put(
            descriptor["url"], content=png, headers=descriptor.get("headers") or {}, timeout=30
        )
        assert upload.is_success, upload.text

        question = user_input("Describe it")
        question["attachments"] = [attachment["id"]]
        events = post_stream(server.url, {"type": "threads.create", "params": {"input": question}})
        assert_answered(events, "Describe it")
        (user_message,) = done_items(events, "user_message")
        preview_url = user_message["attachments"][0]["preview_url"]
        assert httpx.get(preview_url, timeout=30).content == png

    data_url = "data:image/png;base64," + base64.b64encode(png).decode()
    assert any(data_url in images_sent(body) for body in s3_app.fake.requests)
