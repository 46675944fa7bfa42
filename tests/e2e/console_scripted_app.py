"""A generated app with scripted extras, served to the console in the browser test.

This file is copied next to a copy of the generated package and served with
``uvicorn console_scripted_app:app``; it runs in the generated project's environment, so it
imports ``my_app``. It is the real ``create_app()``, with one change: the ChatKit server class is
a subclass whose ``respond`` answers a few commands itself (until generated projects stream
widgets of their own), and which implements widget actions. Every other message goes to the
real agent, answered by the fake provider.

- ``/widget``: a progress update, then an approval card (Approve / Reject: streamed actions), a
  counter (a ``streaming: false`` action), a client-handled button, a ListView, images and
  Markdown carrying injection attempts.
- ``/tool``: a pending client tool call ``get_browser_timezone``; its output is answered.
- ``/flaky``: an error with retry the first time, an answer on the retry.
- ``/notice``: a warning notice (Markdown) and an answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, ClassVar

from chatkit.actions import Action
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ClientEffectEvent,
    ClientToolCallItem,
    ErrorEvent,
    NoticeEvent,
    ProgressUpdateEvent,
    SyncCustomActionResponse,
    ThreadItemDoneEvent,
    ThreadItemReplacedEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    WidgetItem,
    WidgetRootUpdated,
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


def approval_card(count: int) -> dict[str, Any]:
    """The widget streamed by ``/widget``; ``count`` is the counter's value."""
    return {
        "type": "Card",
        "children": [
            {"type": "Title", "value": "Approve this tool call?"},
            {"type": "Text", "value": f"send_email(to='team@example.com') {INJECTION}"},
            {"type": "Badge", "label": "needs approval", "color": "warning"},
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
                    {"type": "Caption", "value": f"Clicked {count} times"},
                    {"type": "Spacer"},
                    {
                        "type": "Button",
                        "label": "Count",
                        "onClickAction": {
                            "type": "demo.count",
                            "payload": {"count": count},
                            "streaming": False,
                        },
                    },
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
        "confirm": {"label": "Approve", "action": {"type": "approval.approve"}},
        "cancel": {"label": "Reject", "action": {"type": "approval.reject"}},
    }


def verdict_card(approved: bool) -> dict[str, Any]:
    """What the approval card becomes once answered."""
    return {
        "type": "Card",
        "children": [
            {"type": "Title", "value": "Approved" if approved else "Rejected"},
            {
                "type": "Badge",
                "label": "done",
                "color": "success" if approved else "danger",
            },
        ],
    }


class ScriptedServer(AppChatKitServer):
    """The generated server, plus scripted commands and widget actions."""

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
        if input_user_message is None:
            last = await self.store.load_thread_items(thread.id, None, 1, "desc", context)
            call = last.data[0] if last.data else None
            if isinstance(call, ClientToolCallItem) and call.name == "get_browser_timezone":
                zone = (call.output or {}).get("timezone", "?")
                yield self._say(thread, context, f"Your browser's time zone is **{zone}**.")
                return
        if text.startswith("/widget"):
            yield ProgressUpdateEvent(icon="search", text="Preparing a widget…")
            widget = DynamicWidgetRoot.model_validate(approval_card(0))
            item_id = self.store.generate_item_id("message", thread, context)
            yield ThreadItemDoneEvent(
                item=WidgetItem(
                    id=item_id,
                    thread_id=thread.id,
                    created_at=datetime.now(),
                    widget=widget,
                    copy_text="Approve this tool call?",
                )
            )
            yield self._say(thread, context, "Here is an approval card.")
        elif text.startswith("/tool"):
            yield ThreadItemDoneEvent(
                item=ClientToolCallItem(
                    id=self.store.generate_item_id("tool_call", thread, context),
                    thread_id=thread.id,
                    created_at=datetime.now(),
                    call_id="call_timezone",
                    name="get_browser_timezone",
                    arguments={},
                )
            )
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

    async def action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        assert sender is not None
        approved = action.type == "approval.approve"
        widget = DynamicWidgetRoot.model_validate(verdict_card(approved))
        if approved:
            # An update event is not stored by the SDK: save the new widget for reloads.
            await self.store.save_item(
                thread.id, sender.model_copy(update={"widget": widget}), context
            )
            yield ThreadItemUpdatedEvent(item_id=sender.id, update=WidgetRootUpdated(widget=widget))
            yield ClientEffectEvent(name="tool_approved", data={"tool": "send_email"})
            yield self._say(thread, context, "Approved: the email is on its way.")
        else:
            yield ThreadItemReplacedEvent(item=sender.model_copy(update={"widget": widget}))
            yield self._say(thread, context, "Rejected: nothing was sent.")

    async def sync_action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> SyncCustomActionResponse:
        assert sender is not None
        count = int((action.payload or {}).get("count", 0)) + 1
        widget = DynamicWidgetRoot.model_validate(approval_card(count))
        updated = sender.model_copy(update={"widget": widget})
        await self.store.save_item(thread.id, updated, context)
        return SyncCustomActionResponse(updated_item=updated)

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
