"""The console of a generated project, driven in headless Chromium against the fake provider.

Each test starts the generated app (with the few scripted extras of ``console_scripted_app.py``;
its widgets, actions, approvals, client tool and client effect are the project's own, called
through the fake provider) under uvicorn on loopback, opens ``/console`` in Debian's Chromium
through Playwright (which never downloads a browser here) and uses it as a person would.
Screenshots of every step go to ``$CONSOLE_SCREENSHOTS``, else ``$CI_ARTIFACTS/chatkit-console``,
else the temp folder.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3  # type: ignore[import-untyped]
import jwt
import pytest
from playwright.sync_api import Browser, Page, Request, expect, sync_playwright

from tests.fakes import call_marker, reply_for, tool_reply

from .apps import App, running_fake
from .chatkit_http import post_stream, user_input
from .console_overlay import console_app_dir
from .images import tiny_png
from .s3 import CREDENTIALS, s3_bucket
from .server_process import ServerProcess, free_port

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SECRET = "browser-test-secret-of-at-least-32-characters"
TIME_ZONE = "Pacific/Auckland"
INJECTION = '<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script>'
DATA_PNG = re.compile(r"^data:image/png;base64,")
TRY_INNER_HTML = """() => {
  try { document.createElement("div").innerHTML = "<b>x</b>"; return "allowed"; }
  catch (error) { return error.name; }
}"""


def screenshot_dir() -> Path:
    configured = os.environ.get("CONSOLE_SCREENSHOTS")
    if configured:
        return Path(configured)
    base = os.environ.get("CI_ARTIFACTS") or tempfile.gettempdir()
    return Path(base) / "chatkit-console"


# The machine may be busy (two cores shared by parallel test workers): wait longer than 5 s.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "the browser tests need Debian's Chromium: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


@dataclass
class Session:
    """A browser tab on the console, recording what it requested and what went wrong."""

    page: Page
    origin: str
    shots: Path
    requests: list[Request] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"))

    def send(self, text: str) -> None:
        # As a user would: once Send is enabled. An answer's last item can be done while its
        # stream is still closing, and a message sent then is refused by the page.
        expect(self.page.locator("#send")).to_be_enabled()
        self.page.fill("#message", text)
        self.page.keyboard.press("Enter")

    def answer(self, text: str) -> Any:
        """The assistant message holding ``text``, once it is complete."""
        message = self.page.locator(".item-assistant_message", has_text=text).last
        expect(message.locator("[data-feedback]").first).to_be_visible()
        return message

    def foreign_requests(self, allowed: set[str]) -> list[str]:
        origins = {self.origin, *allowed}
        return [
            f"{r.method} {r.url}"
            for r in self.requests
            if urlsplit(r.url).scheme in {"http", "https", "ws", "wss"}
            and f"{urlsplit(r.url).scheme}://{urlsplit(r.url).netloc}" not in origins
        ]


@contextmanager
def open_console(browser: Browser, server: ServerProcess, shots: Path) -> Iterator[Session]:
    context = browser.new_context(
        viewport={"width": 1360, "height": 860}, timezone_id=TIME_ZONE, locale="en-US"
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    session = Session(page, server.url, shots)
    page.on("request", lambda request: session.requests.append(request))
    page.on("pageerror", lambda error: session.problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            session.problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" and "401" not in message.text
            else None
        ),
    )
    try:
        response = page.goto(f"{server.url}/console")
        assert response is not None and response.status == 200
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "'nonce-" in policy
        assert "trusted-types 'none'" in policy
        # Trusted Types are enforced: no HTML string can reach the DOM, whatever the code does.
        assert page.evaluate(TRY_INNER_HTML) == "TypeError"
        session.problems[:] = [p for p in session.problems if "'TrustedHTML'" not in p]
        yield session
    finally:
        context.close()


def console_server(app: App, extra_env: dict[str, str]) -> ServerProcess:
    """The scripted app on a copy of the project's package, on a free loopback port."""
    app_dir = console_app_dir(app.project, app.data / "console-app")
    port = free_port()
    env = {**app.env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", **extra_env}
    command = ["uv", "run", "uvicorn", "console_scripted_app:app", "--app-dir", str(app_dir)]
    return ServerProcess(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        cwd=app.project,
        env=env,
        port=port,
        log_path=app.data / "server.log",
    )


def assert_clean(session: Session, allowed_origins: frozenset[str] = frozenset()) -> None:
    """No injected script ran, nothing left the allowed origins, no error and no CSP report."""
    page = session.page
    assert page.evaluate("window.__xss") is None
    assert page.locator("script").count() == 2  # the config block and the page's own script
    assert page.locator("[href^='javascript' i], [src='x'], [onerror]").count() == 0
    assert session.foreign_requests(allowed_origins) == []
    assert session.problems == []


def test_console_on_the_default_project(
    browser: Browser, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shots = screenshot_dir()
    shots.mkdir(parents=True, exist_ok=True)
    with (
        running_fake({}, tmp_path, tmp_path_factory) as app,
        console_server(app, {"SIGNING_SECRET": SECRET}) as server,
        open_console(browser, server, shots) as session,
    ):
        page = session.page
        expect(page.locator("#no-threads")).to_be_visible()
        expect(page.locator("#welcome")).to_be_visible()
        session.shot("01-first-open")

        # A two-turn conversation, streamed.
        session.send("What is ChatKit?")
        session.answer(reply_for("What is ChatKit?"))
        session.send("And the Agents SDK?")
        session.answer(reply_for("And the Agents SDK?"))
        assert page.locator("#log summary", has_text="text_delta").count() > 4
        created = page.locator("#log details", has_text="thread.created").first
        created.locator("summary").click()  # the raw event, as received
        expect(created.locator("pre")).to_have_text(re.compile(r'^\{"type":"thread\.created"'))
        expect(page.locator("#thread-list li")).to_have_count(1)
        created.scroll_into_view_if_needed()
        session.shot("02-two-turns")

        # Markdown, and model output that tries to inject HTML.
        links = "[docs](https://example.com/docs) [x](javascript:alert(1))"
        question = f"**Bold** `code` {links} {INJECTION}"
        session.send(question)
        answer = session.answer("echo: ")
        expect(answer.locator("strong")).to_have_text("Bold")
        expect(answer.locator("code")).to_have_text("code")
        docs = answer.locator("a", has_text="docs")
        expect(docs).to_have_attribute("href", "https://example.com/docs")
        expect(docs).to_have_attribute("rel", "noopener noreferrer")
        expect(answer.locator("a", has_text="x")).to_have_count(0)
        expect(answer).to_contain_text('<img src=x onerror="window.__xss=1">')
        expect(answer).to_contain_text("<script>window.__xss=2</script>")
        assert page.locator("#items img, #items script").count() == 0
        session.shot("03-markdown-and-injection")

        # A scripted widget made to test rendering, with a client-handled button.
        session.send("/widget")
        widget = page.locator(".item-widget").last
        expect(widget).to_contain_text("Rendering check")
        expect(widget).to_contain_text("<script>window.__xss=2</script>")
        assert page.locator("#log summary", has_text="progress_update").count() == 1
        red_dot = widget.locator("img[alt='red dot']")
        expect(red_dot).to_have_attribute("src", DATA_PNG)
        expect(widget.locator("img[src*='tracker.example']")).to_have_count(0)
        expect(widget.locator("a[href='https://tracker.example/pixel.png']")).to_have_count(1)
        widget.get_by_role("button", name="Client only").click()
        session.answer("Here is a rendering check.")
        session.shot("04-widget")

        # The project's own clock widget: a sync action (Refresh), a streamed one (Compare),
        # and the client effect its tool sends.
        session.send(f"Time in Tokyo? {call_marker('current_time', {'timezone': 'Asia/Tokyo'})}")
        session.answer(tool_reply("20"))
        clock = page.locator(".item-widget", has_text="Time in Asia/Tokyo")
        clock.get_by_role("button", name="Refresh").click()
        # One request and its 200 answer (each its own line in the Protocol pane).
        sync_lines = page.locator("#log summary", has_text="threads.sync_custom_action")
        expect(sync_lines).to_have_text(
            ["→ threads.sync_custom_action", "← 200 threads.sync_custom_action"]
        )
        clock.get_by_role("button", name="Compare with my time").click()
        session.answer(reply_for("Hidden context for the agent"))
        expect(clock.get_by_role("button", name="Compare with my time")).to_be_disabled()
        page.locator(".tabs button", has_text="Effects").click()
        expect(page.locator("#effects")).to_contain_text("client_effect: time_shown")
        expect(page.locator("#effects")).to_contain_text("client action: demo.local")
        session.shot("05-clock-and-effects")
        page.locator(".tabs button", has_text="Protocol").click()

        # Approvals: the run pauses on save_note until the user answers.
        session.send(f"Note it {call_marker('save_note', {'text': 'milk'})}")
        approval = page.locator(".item-widget", has_text="Allow save_note?").last
        expect(approval).to_contain_text('{"text": "milk"}')
        session.shot("06-approval")
        approval.get_by_role("button", name="Approve").click()
        session.answer(tool_reply("Saved note 1: milk"))
        expect(page.locator(".item-widget", has_text="Approved")).to_have_count(1)
        session.send(f"And this {call_marker('save_note', {'text': 'car'})}")
        page.locator(".item-widget", has_text="Allow save_note?").last.get_by_role(
            "button", name="Reject"
        ).click()
        session.answer(tool_reply("The user rejected this tool call, so it did not run."))
        expect(page.locator(".item-widget", has_text="Rejected")).to_have_count(1)
        assert page.locator("#log summary", has_text="thread.item.replaced").count() == 3

        # A client tool call answered with the console's built-in answer.
        session.send(f"Where am I? {call_marker('get_browser_timezone')}")
        tool = page.locator(".item-client_tool_call").last
        expect(tool.locator("textarea")).to_have_value(f'{{\n  "timezone": "{TIME_ZONE}"\n}}')
        session.shot("07-client-tool")
        tool.get_by_role("button", name="Send tool output").click()
        session.answer(tool_reply(json.dumps({"timezone": TIME_ZONE})))

        # An error with retry, and a notice.
        session.send("/flaky")
        error = page.locator(".item.error").last
        expect(error).to_contain_text("Flaky failure.")
        session.shot("08-error-with-retry")
        error.get_by_role("button", name="Retry").click()
        session.answer("Second time lucky.")
        expect(page.locator(".item.error")).to_have_count(0)
        session.send("/notice")
        notice = page.locator(".notice").last
        expect(notice.locator("strong")).to_have_text("90%")
        expect(notice).to_contain_text("<script>")
        session.answer("Noted.")

        # An upload (two phases), its preview, and the message that carries it.
        page.set_input_files(
            "#file", files=[{"name": "dot.png", "mimeType": "image/png", "buffer": tiny_png()}]
        )
        preview = page.locator("#pending img[alt='dot.png']")
        expect(preview).to_be_visible()
        assert preview.evaluate("img => img.decode().then(() => img.naturalWidth)") == 1
        session.send("What is in this picture?")
        session.answer(reply_for("What is in this picture?"))
        expect(page.locator(".item-user_message img[alt='dot.png']")).to_have_count(1)
        session.shot("09-upload")

        # Feedback and rename.
        page.locator(".item-assistant_message [data-feedback='positive']").first.click()
        expect(
            page.locator(".item-assistant_message [data-feedback='positive']").first
        ).to_have_class("link chosen")
        page.locator("#thread-list li button[aria-label='Rename thread']").click()
        page.fill("#thread-list li input", "Console tour")
        page.keyboard.press("Enter")
        expect(page.locator("#thread-list li .open")).to_have_text("Console tour")
        expect(page.locator("#thread-title")).to_have_text("Console tour")

        # Two more turns from elsewhere, then a reload: the thread comes back as stored, its
        # newest page first (32 items: more than get_by_id's first page).
        thread_id = page.evaluate("decodeURIComponent(location.hash.split('=')[1])")
        for text in ("Third turn", "Fourth turn"):
            post_stream(
                server.url,
                {
                    "type": "threads.add_user_message",
                    "params": {"thread_id": thread_id, "input": user_input(text)},
                },
            )
        page.reload()
        expect(page.locator("#thread-title")).to_have_text("Console tour")
        session.answer(reply_for("Fourth turn"))
        expect(page.locator("#items > .item")).to_have_count(20)
        page.locator("#items-earlier").click()
        expect(page.locator("#items-earlier")).to_be_hidden()
        expect(page.locator(".item-user_message")).to_have_count(13)
        expect(page.locator(".item-widget", has_text="Approved")).to_have_count(1)
        expect(page.locator(".item-widget", has_text="Rejected")).to_have_count(1)
        expect(page.locator(".item-widget", has_text="Time in Asia/Tokyo")).to_have_count(1)
        expect(page.locator(".item-user_message img[alt='dot.png']")).to_have_count(1)
        page.locator(".item-widget").first.scroll_into_view_if_needed()
        session.shot("10-after-reload")

        # More threads than a page: paging, then a new thread and its deletion.
        with ThreadPoolExecutor(4) as pool:
            list(
                pool.map(
                    lambda number: post_stream(
                        server.url,
                        {"type": "threads.create", "params": {"input": user_input(f"T{number}")}},
                    ),
                    range(20),
                )
            )
        page.reload()
        expect(page.locator("#thread-list li")).to_have_count(20)
        page.locator("#threads-more").click()
        expect(page.locator("#thread-list li")).to_have_count(21)
        expect(page.locator("#threads-more")).to_be_hidden()
        page.locator("#new-thread").click()
        expect(page.locator("#welcome")).to_be_visible()
        session.send("Short-lived")
        session.answer(reply_for("Short-lived"))
        row = page.locator("#thread-list li").first
        row.locator("button[aria-label='Delete thread']").click()
        row.get_by_role("button", name="Delete").click()
        expect(page.locator("#thread-list li")).to_have_count(21)
        expect(page.locator("#thread-title")).to_have_text("New thread")

        assert_clean(session)


def test_console_with_jwt_and_s3(
    browser: Browser, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shots = screenshot_dir()
    shots.mkdir(parents=True, exist_ok=True)
    claims = {"sub": "alice", "exp": int(time.time()) + 3600}
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    with (
        running_fake({"auth": "jwt", "file_store": "s3"}, tmp_path, tmp_path_factory) as app,
        s3_bucket() as s3_env,
    ):
        server = console_server(app, {**s3_env, "JWT_SECRET": SECRET})
        allow_browser_uploads(s3_env, f"http://127.0.0.1:{server.port}")
        bucket_origin = s3_env["S3_ENDPOINT_URL"]
        with server, open_console(browser, server, shots) as session:
            page = session.page
            banner = page.locator("[data-banner='auth']")
            expect(banner).to_contain_text("uv run python -m my_app.devtoken USER")
            session.shot("11-jwt-first-open")

            page.fill("#token", token)
            page.locator("#token-save").click()
            expect(banner).to_have_count(0)
            expect(page.locator("#no-threads")).to_be_visible()
            page.locator(".tabs button", has_text="React options").click()
            options = page.locator("#react-options")
            expect(options).to_contain_text(f'url: "{server.url}/chatkit"')
            expect(options).to_contain_text('uploadStrategy: { type: "two_phase" }')
            expect(options).to_contain_text("Authorization: `Bearer ${getToken()}`")
            session.shot("12-react-options")
            page.locator(".tabs button", has_text="Protocol").click()

            page.set_input_files(
                "#file",
                files=[{"name": "dot.png", "mimeType": "image/png", "buffer": tiny_png()}],
            )
            expect(page.locator("#pending img[alt='dot.png']")).to_be_visible()
            session.send("Look at this")
            session.answer(reply_for("Look at this"))
            page.reload()
            expect(page.locator(".item-user_message img[alt='dot.png']")).to_have_count(1)
            session.answer(reply_for("Look at this"))
            session.shot("13-jwt-s3-after-reload")

            # Uploads go to the bucket; previews come from the app (with its security headers).
            to_bucket = [r for r in session.requests if r.url.startswith(bucket_origin)]
            assert {r.method for r in to_bucket} == {"PUT"}
            assert all("authorization" not in r.headers for r in to_bucket)
            to_chatkit = [r for r in session.requests if r.url == f"{server.url}/chatkit"]
            assert sum("authorization" in r.headers for r in to_chatkit) > 3
            assert_clean(session, frozenset({bucket_origin}))


def allow_browser_uploads(s3_env: dict[str, str], origin: str) -> None:
    """The bucket CORS rule a browser upload needs (the same rule a real bucket needs)."""
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_env["S3_ENDPOINT_URL"],
        region_name=CREDENTIALS["AWS_REGION"],
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    s3.put_bucket_cors(
        Bucket=s3_env["UPLOAD_BUCKET"],
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [origin],
                    "AllowedMethods": ["PUT", "GET"],
                    "AllowedHeaders": ["*"],
                }
            ]
        },
    )
