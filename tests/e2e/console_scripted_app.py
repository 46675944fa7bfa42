"""A generated app with scripted extras, served to the console in the browser test.

This file is copied next to a copy of the generated package and served with
``uvicorn console_scripted_app:app``; it runs in the generated project's environment, so it
imports ``my_app``. It is the real ``create_app()``, with one change: the ChatKit server class is
a subclass whose ``respond`` answers a few commands itself, for what the generated project never
streams on its own. Everything else (widgets, their actions, approvals, client tools and client
effects) is the real project's, answered by the fake provider, which calls the tools a message
asks for.

- ``/widget``: a progress update, then a card made to test the console's rendering: model text
  carrying injection attempts, images (one from another origin), a ListView, Markdown and a
  client-handled button.
- ``/flaky``: an error with retry the first time, an answer on the retry.
- ``/notice``: a warning notice (Markdown) and an answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, ClassVar

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ErrorEvent,
    NoticeEvent,
    ProgressUpdateEvent,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    WidgetItem,
)
from chatkit.widgets import DynamicWidgetRoot
from my_app import main as app_main
from my_app import services as app_services
from my_app.context import RequestContext
from my_app.server import AppChatKitServer

INJECTION = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
# An 8x8 red PNG.
RED_DOT = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGO4qauAFTEMLQkA5qxJgfIm+xkAAAAASUVORK5CYII="
)


def rendering_card() -> dict[str, Any]:
    """The widget streamed by ``/widget``."""
    return {
        "type": "Card",
        "children": [
            {"type": "Title", "value": "Rendering check"},
            {"type": "Text", "value": f"send_email(to='team@example.com') {INJECTION}"},
            {"type": "Badge", "label": "scripted", "color": "warning"},
            {
                "type": "Markdown",
                "value": f"**Bold** and [a link](https://example.com/docs) and "
                f"[a bad link](javascript:window.__xss=3) {INJECTION}",
            },
            {
                "type": "Row",
                "gap": 2,
                "children": [
                    {"type": "Image", "src": RED_DOT, "alt": "red dot", "width": 24},
                    {"type": "Image", "src": "https://tracker.example/pixel.png", "alt": "far"},
                    {"type": "Icon", "name": "star"},
                    {"type": "Spacer"},
                    {
                        "type": "Button",
                        "label": "Client only",
                        "onClickAction": {"type": "demo.local", "handler": "client"},
                    },
                ],
            },
            {"type": "Divider"},
            {
                "type": "ListView",
                "children": [
                    {"type": "ListViewItem", "children": [{"type": "Text", "value": "First"}]},
                    {"type": "ListViewItem", "children": [{"type": "Text", "value": "Second"}]},
                ],
            },
        ],
    }


class ScriptedServer(AppChatKitServer):
    """The generated server, plus scripted commands."""

    # User messages whose first answer already failed (shared by every request: one server).
    flaky_failed: ClassVar[set[str]] = set()

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        text = ""
        if input_user_message is not None:
            text = "".join(getattr(part, "text", "") for part in input_user_message.content)
        if text.startswith("/widget"):
            yield ProgressUpdateEvent(icon="search", text="Preparing a widget…")
            widget = DynamicWidgetRoot.model_validate(rendering_card())
            item_id = self.store.generate_item_id("message", thread, context)
            yield ThreadItemDoneEvent(
                item=WidgetItem(
                    id=item_id,
                    thread_id=thread.id,
                    created_at=datetime.now(),
                    widget=widget,
                    copy_text="Rendering check",
                )
            )
            yield self._say(thread, context, "Here is a rendering check.")
        elif text.startswith("/flaky"):
            assert input_user_message is not None
            if input_user_message.id not in self.flaky_failed:
                self.flaky_failed.add(input_user_message.id)
                yield ErrorEvent(code="custom", message="Flaky failure.", allow_retry=True)
                return
            yield self._say(thread, context, "Second time lucky.")
        elif text.startswith("/notice"):
            yield NoticeEvent(
                level="warning",
                title="Heads up",
                message=f"Quota at **90%**. [Details](https://example.com/quota) {INJECTION}",
            )
            yield self._say(thread, context, "Noted.")
        else:
            async for event in super().respond(thread, input_user_message, context):
                yield event

    def _say(
        self, thread: ThreadMetadata, context: RequestContext, text: str
    ) -> ThreadItemDoneEvent:
        return ThreadItemDoneEvent(
            item=AssistantMessageItem(
                id=self.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                content=[AssistantMessageContent(text=text)],
            )
        )


# start_services() builds the server at start-up from this module-level name.
app_services.AppChatKitServer = ScriptedServer
app = app_main.create_app()
