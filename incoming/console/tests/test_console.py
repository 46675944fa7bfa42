"""`GET /console`: who gets the page, its security headers, and what the server fills in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from agents.testing import ScriptedModel
from chatkit_helpers import make_settings
from fastapi.testclient import TestClient

from my_app.console import is_loopback, json_for_html, upload_origins
from my_app.main import create_app
from my_app.settings import Settings

LOCAL_URL = "http://127.0.0.1:8000"
LOCAL_CLIENT = ("127.0.0.1", 50123)


@contextmanager
def console_client(
    store_url: str,
    tmp_path: Path,
    *,
    base_url: str = LOCAL_URL,
    client: tuple[str, int] = LOCAL_CLIENT,
    **settings: Any,
) -> Iterator[TestClient]:
    """A started app whose requests come from `client` to `base_url` (loopback by default)."""
    app = create_app(make_settings(store_url, tmp_path, **settings), model=ScriptedModel())
    with TestClient(app, base_url=base_url, client=client) as http:
        yield http


def page_config(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="console-config">(.*?)</script>', html)
    assert match is not None
    config: dict[str, Any] = json.loads(match.group(1))
    return config


def test_the_page_is_served_on_loopback_with_a_strict_policy(
    store_url: str, tmp_path: Path
) -> None:
    with console_client(store_url, tmp_path) as http:
        response = http.get("/console")
        uploads = http.app.state.server.attachment_store is not None  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([\w-]+)'", policy)
    assert nonce is not None
    html = response.text
    # The one inline script and the one inline style carry this response's nonce; nothing else runs.
    assert html.count(f'nonce="{nonce.group(1)}"') == 2
    assert "__CONSOLE_" not in html
    for directive in (
        "default-src 'none'",
        f"script-src 'nonce-{nonce.group(1)}'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
    ):
        assert directive in policy
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    config = page_config(html)
    assert config["package"] == "my_app"
    assert config["devtoken_command"] == "uv run python -m my_app.devtoken USER"
    assert config["uploads"] is uploads


def test_every_answer_has_a_new_nonce(store_url: str, tmp_path: Path) -> None:
    with console_client(store_url, tmp_path) as http:
        policies = {http.get("/console").headers["content-security-policy"] for _ in range(3)}
    assert len(policies) == 3


def test_the_page_loads_nothing_from_elsewhere(store_url: str, tmp_path: Path) -> None:
    with console_client(store_url, tmp_path) as http:
        html = http.get("/console").text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert 'rel="stylesheet"' not in html
    # Requests go to a relative URL: this origin's /chatkit, never a configured host.
    assert "const CHATKIT_URL = 'chatkit';" in html


@pytest.mark.parametrize(
    ("base_url", "client", "host"),
    [
        ("http://127.0.0.1:8000", ("203.0.113.7", 40000), None),  # another machine
        ("http://10.1.2.3:8000", ("127.0.0.1", 40000), None),  # arrived on a public address
        ("http://127.0.0.1:8000", ("127.0.0.1", 40000), "chat.example.com"),  # proxy or rebinding
    ],
)
def test_by_default_only_loopback_requests_get_it(
    store_url: str, tmp_path: Path, base_url: str, client: tuple[str, int], host: str | None
) -> None:
    headers = {"host": host} if host else {}
    with console_client(store_url, tmp_path, base_url=base_url, client=client) as http:
        response = http.get("/console", headers=headers)
        unknown = http.get("/no-such-page", headers=headers)
    assert response.status_code == 404
    assert response.json() == unknown.json()


def test_console_enabled_true_serves_any_client(store_url: str, tmp_path: Path) -> None:
    with console_client(
        store_url,
        tmp_path,
        base_url="https://chat.example.com",
        client=("203.0.113.7", 40000),
        console_enabled=True,
    ) as http:
        assert http.get("/console").status_code == 200


def test_console_enabled_false_hides_it_even_on_loopback(store_url: str, tmp_path: Path) -> None:
    with console_client(store_url, tmp_path, console_enabled=False) as http:
        assert http.get("/console").status_code == 404


@pytest.mark.parametrize(
    ("value", "expected"), [("false", False), ("0", False), ("true", True), ("", None)]
)
def test_console_enabled_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    store_url: str,
    tmp_path: Path,
    value: str,
    expected: bool | None,
) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("DATABASE_URL", store_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.setenv("LLM_PROVIDER", "openai")
    monkeypatch.setenv("CONSOLE_ENABLED", value)
    assert Settings().console_enabled is expected


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.5.6.7", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("app.localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("localhost.example.com", False),
        ("testclient", False),
        ("", False),
        (None, False),
    ],
)
def test_is_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_upload_origins_follow_the_file_store_settings(store_url: str, tmp_path: Path) -> None:
    public = {"public_base_url": "http://localhost:8000/app"}
    assert upload_origins(make_settings(store_url, tmp_path, **public)) == ["http://localhost:8000"]
    minio = make_settings(
        store_url, tmp_path, **public, upload_bucket="b", s3_endpoint_url="http://[::1]:9000/"
    )
    assert upload_origins(minio) == ["http://localhost:8000", "http://[::1]:9000"]
    aws = make_settings(store_url, tmp_path, **public, upload_bucket="b")
    assert upload_origins(aws) == ["http://localhost:8000", "https://*.amazonaws.com"]


def test_config_json_cannot_end_its_script_element() -> None:
    text = json_for_html({"name": "</script><script>alert(1)</script>", "and": "&"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text)["name"] == "</script><script>alert(1)</script>"
