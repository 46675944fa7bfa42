"""What a ChatKit request may touch, checked before the SDK runs it.

The SDK turns a missing or foreign thread, item or attachment into a 500 or into a stream that
dies after its headers. `check_request` refuses those first: every id a request names must load
for the caller (`NotFoundError`, 404), items must be of the kind the request expects (400),
widget actions must have a handler and a valid payload (400), and features this project does not
serve answer 501. One small function per request type.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from chatkit.server import ChatKitServer
from chatkit.store import AttachmentStore, Store
from chatkit.types import (
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    ChatKitReq,
    ClientToolCallItem,
    InputTranscribeReq,
    ItemsFeedbackReq,
    ItemsListReq,
    StructuredInputItem,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsDeleteReq,
    ThreadsGetByIdReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    ThreadsUpdateReq,
    UserMessageItem,
    WidgetItem,
)

from .actions import ActionRegistry, StreamedAction, SyncAction, parse_payload
from .context import RequestContext
from .errors import ApiError

MAX_TITLE_LENGTH = 200
# The ChatKit composer's own default limit; every attachment is re-read for each turn.
MAX_ATTACHMENTS_PER_MESSAGE = 10
# Feedback is given on one answer at a time; each id costs a database read.
MAX_FEEDBACK_ITEMS = 100


class Checked(Protocol):
    """The server being checked against: its store, attachment store, actions and overrides."""

    attachment_store: AttachmentStore[RequestContext] | None
    actions: ActionRegistry

    @property
    def store(self) -> Store[RequestContext]:
        """The thread store (read-only here, so a server may hold a richer one)."""
        ...


Check = Callable[[Any, Checked, RequestContext], Awaitable[None]]


async def check_request(request: ChatKitReq, server: Checked, context: RequestContext) -> None:
    """Refuse what the SDK would turn into a 500 or a dead stream (ApiError, NotFoundError)."""
    check = _CHECKS.get(type(request))
    if check is not None:
        await check(request, server, context)


async def _create(request: ThreadsCreateReq, server: Checked, context: RequestContext) -> None:
    await _check_attachments(request.params.input.attachments, None, server, context)


async def _add_message(
    request: ThreadsAddUserMessageReq, server: Checked, context: RequestContext
) -> None:
    params = request.params
    await server.store.load_thread(params.thread_id, context)
    await _check_attachments(params.input.attachments, params.thread_id, server, context)


async def _client_tool_output(
    request: ThreadsAddClientToolOutputReq, server: Checked, context: RequestContext
) -> None:
    thread_id = request.params.thread_id
    await server.store.load_thread(thread_id, context)
    last = await server.store.load_thread_items(thread_id, None, 1, "desc", context)
    if not any(
        isinstance(item, ClientToolCallItem) and item.status == "pending" for item in last.data
    ):
        raise ApiError(400, "invalid_request", "No client tool call is waiting for output.")


async def _structured_input(
    request: ThreadsAddStructuredInputReq, server: Checked, context: RequestContext
) -> None:
    params = request.params
    await server.store.load_thread(params.thread_id, context)
    item = await server.store.load_item(params.thread_id, params.item_id, context)
    if not isinstance(item, StructuredInputItem) or item.status != "pending":
        raise ApiError(400, "invalid_request", "That item is not awaiting structured input.")


async def _retry(
    request: ThreadsRetryAfterItemReq, server: Checked, context: RequestContext
) -> None:
    params = request.params
    await server.store.load_thread(params.thread_id, context)
    item = await server.store.load_item(params.thread_id, params.item_id, context)
    if not isinstance(item, UserMessageItem):
        raise ApiError(400, "invalid_request", "Only a user message can be retried.")


async def _action(
    request: ThreadsCustomActionReq | ThreadsSyncCustomActionReq,
    server: Checked,
    context: RequestContext,
) -> None:
    params = request.params
    await server.store.load_thread(params.thread_id, context)
    if params.item_id is not None:
        sender = await server.store.load_item(params.thread_id, params.item_id, context)
        if not isinstance(sender, WidgetItem):
            raise ApiError(400, "invalid_request", "Actions must come from a widget.")
    if isinstance(request, ThreadsCustomActionReq):
        handler: StreamedAction[Any] | SyncAction[Any] = server.actions.streamed_handler(
            params.action.type
        )
    else:
        handler = server.actions.sync_handler(params.action.type)
    parse_payload(handler, params.action.payload)
    if handler.needs_widget and params.item_id is None:
        raise ApiError(
            400,
            "invalid_request",
            f"Action '{handler.action_type}' needs the item_id of its widget.",
        )


async def _thread_only(
    request: ThreadsGetByIdReq | ItemsListReq | ThreadsDeleteReq,
    server: Checked,
    context: RequestContext,
) -> None:
    await server.store.load_thread(request.params.thread_id, context)


async def _update(request: ThreadsUpdateReq, server: Checked, context: RequestContext) -> None:
    if len(request.params.title) > MAX_TITLE_LENGTH:
        raise ApiError(400, "invalid_request", f"A title is at most {MAX_TITLE_LENGTH} characters.")
    await server.store.load_thread(request.params.thread_id, context)


async def _feedback(request: ItemsFeedbackReq, server: Checked, context: RequestContext) -> None:
    params = request.params
    if len(params.item_ids) > MAX_FEEDBACK_ITEMS:
        raise ApiError(
            400, "invalid_request", f"Feedback covers at most {MAX_FEEDBACK_ITEMS} items."
        )
    await server.store.load_thread(params.thread_id, context)
    for item_id in params.item_ids:
        await server.store.load_item(params.thread_id, item_id, context)


async def _create_attachment(
    request: AttachmentsCreateReq, server: Checked, context: RequestContext
) -> None:
    _require_attachments(server)


async def _delete_attachment(
    request: AttachmentsDeleteReq, server: Checked, context: RequestContext
) -> None:
    _require_attachments(server)
    await server.store.load_attachment(request.params.attachment_id, context)


async def _transcribe(
    request: InputTranscribeReq, server: Checked, context: RequestContext
) -> None:
    _require_override(server, "transcribe", "Dictation is off: override transcribe().")


async def _check_attachments(
    attachment_ids: list[str], thread_id: str | None, server: Checked, context: RequestContext
) -> None:
    """Each attachment must be the caller's and unbound or bound to `thread_id` already.

    Deleting a thread deletes its attachments, so one shared with another thread would vanish
    from that thread's messages.
    """
    if not attachment_ids:
        return
    _require_attachments(server)
    if len(attachment_ids) > MAX_ATTACHMENTS_PER_MESSAGE:
        raise ApiError(
            400,
            "invalid_request",
            f"A message has at most {MAX_ATTACHMENTS_PER_MESSAGE} attachments.",
        )
    for attachment_id in attachment_ids:
        attachment = await server.store.load_attachment(attachment_id, context)
        if attachment.thread_id is not None and attachment.thread_id != thread_id:
            raise ApiError(
                400,
                "invalid_request",
                f"Attachment {attachment_id} already belongs to another thread; "
                "upload the file again to use it here.",
            )


def _require_attachments(server: Checked) -> None:
    if server.attachment_store is None:
        raise ApiError(501, "not_implemented", "File uploads are not configured.")


def _require_override(server: Checked, method: str, message: str) -> None:
    if getattr(type(server), method) is getattr(ChatKitServer, method):
        raise ApiError(501, "not_implemented", message)


_CHECKS: dict[type[Any], Check] = {
    ThreadsCreateReq: _create,
    ThreadsAddUserMessageReq: _add_message,
    ThreadsAddClientToolOutputReq: _client_tool_output,
    ThreadsAddStructuredInputReq: _structured_input,
    ThreadsRetryAfterItemReq: _retry,
    ThreadsCustomActionReq: _action,
    ThreadsSyncCustomActionReq: _action,
    ThreadsGetByIdReq: _thread_only,
    ItemsListReq: _thread_only,
    ThreadsDeleteReq: _thread_only,
    ThreadsUpdateReq: _update,
    ItemsFeedbackReq: _feedback,
    AttachmentsCreateReq: _create_attachment,
    AttachmentsDeleteReq: _delete_attachment,
    InputTranscribeReq: _transcribe,
}
"""The check of each request type (`threads.list` needs none: it is always the caller's)."""
