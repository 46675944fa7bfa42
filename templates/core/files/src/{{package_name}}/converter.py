"""Turns stored thread items into model input, safely for every provider."""

from __future__ import annotations

import base64
import json
import logging
from typing import Protocol

from agents import TResponseInputItem
from chatkit.agents import ThreadItemConverter
from chatkit.store import NotFoundError
from chatkit.types import (
    AssistantMessageItem,
    Attachment,
    HiddenContextItem,
    ImageAttachment,
    UserMessageTagContent,
)
from openai.types.responses import (
    EasyInputMessageParam,
    ResponseInputContentParam,
    ResponseInputFileParam,
    ResponseInputImageParam,
    ResponseInputTextParam,
)

from .approvals import paused_run_of
from .context import RequestContext

logger = logging.getLogger(__name__)


class AttachmentReader(Protocol):
    """Reads an attachment's bytes on behalf of a user (the attachment store does this)."""

    async def read_bytes(self, attachment: Attachment, context: RequestContext) -> bytes: ...


class AppThreadItemConverter(ThreadItemConverter):
    """History converter for one request.

    Attachments are inlined (read with the requesting user's context, never a public URL):
    images as `input_image` data URLs, text files as text, other files (PDF) as `input_file`
    data URLs. Assistant history is sent as plain string content: the SDK default
    (`output_text` parts without an id) is rejected by Chat Completions providers on turn 2.
    Runs paused for approval (hidden items holding server state) are left out.
    """

    def __init__(self, attachments: AttachmentReader | None, context: RequestContext) -> None:
        self._attachments = attachments
        self._context = context

    async def attachment_to_message_content(
        self, attachment: Attachment
    ) -> ResponseInputContentParam:
        data = await self._read(attachment)
        if data is None:
            return ResponseInputTextParam(
                type="input_text", text=f"[The attachment {attachment.name!r} is unavailable.]"
            )
        if attachment.mime_type.startswith("text/"):
            # Inlined as text: most providers accept no file parts other than PDF.
            text = data.decode("utf-8", errors="replace")
            return ResponseInputTextParam(
                type="input_text", text=f"Attached file {attachment.name!r}:\n{text}"
            )
        data_url = f"data:{attachment.mime_type};base64,{base64.b64encode(data).decode('ascii')}"
        if isinstance(attachment, ImageAttachment):
            return ResponseInputImageParam(type="input_image", image_url=data_url, detail="auto")
        return ResponseInputFileParam(
            type="input_file", file_data=data_url, filename=attachment.name
        )

    async def tag_to_message_content(self, tag: UserMessageTagContent) -> ResponseInputContentParam:
        details = json.dumps(tag.data, ensure_ascii=False, default=str)
        return ResponseInputTextParam(type="input_text", text=f"@{tag.text}: {details}")

    async def assistant_message_to_input(
        self, item: AssistantMessageItem
    ) -> TResponseInputItem | list[TResponseInputItem] | None:
        text = "".join(part.text for part in item.content)
        return EasyInputMessageParam(type="message", role="assistant", content=text)

    async def hidden_context_to_input(
        self, item: HiddenContextItem
    ) -> TResponseInputItem | list[TResponseInputItem] | None:
        if paused_run_of(item) is not None:
            return None  # a run paused for approval: server state, not context for the model
        return await super().hidden_context_to_input(item)

    async def _read(self, attachment: Attachment) -> bytes | None:
        if self._attachments is None:
            logger.warning("Attachment %s is in history but no file store is set", attachment.id)
            return None
        try:
            return await self._attachments.read_bytes(attachment, self._context)
        except NotFoundError:
            # An upload that never finished, or bytes deleted since: answer without them.
            logger.warning("Bytes of attachment %s are missing", attachment.id)
            return None
