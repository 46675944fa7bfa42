"""The ChatKit server: checks each request, answers each turn with the agents, keeps feedback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from agents import (
    Agent,
    InputGuardrailTripwireTriggered,
    OutputGuardrailTripwireTriggered,
    RunConfig,
    Runner,
)
from chatkit.agents import AgentContext, stream_agent_response
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.store import AttachmentStore, Store
from chatkit.types import (
    ChatKitReq,
    ErrorEvent,
    FeedbackKind,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    is_streaming_req,
)
from pydantic import TypeAdapter, ValidationError

from .context import ChatAgentContext, RequestContext
from .converter import AppThreadItemConverter, AttachmentReader
from .errors import ApiError
from .fake_ids import remap_fake_ids
from .request_checks import check_request
from .request_log import annotate
from .titles import TitleGenerator

logger = logging.getLogger(__name__)

FEEDBACK_METADATA_KEY = "feedback"

# Built once: the SDK's own `process()` builds this adapter for every request (about 2 ms).
REQUEST_ADAPTER: TypeAdapter[ChatKitReq] = TypeAdapter(ChatKitReq)


def parse_request(body: str | bytes | bytearray) -> ChatKitReq:
    """Validate a body as a ChatKit request; `ApiError` 400 naming the first problem otherwise."""
    try:
        return REQUEST_ADAPTER.validate_json(body)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False, include_context=False)[0]
        location = ".".join(str(part) for part in error["loc"])
        message = f"{location}: {error['msg']}" if location else error["msg"]
        raise ApiError(400, "invalid_request", message) from exc


class AppChatKitServer(ChatKitServer[RequestContext]):
    """Runs the entry agent on the thread's history and streams its answer to ChatKit."""

    def __init__(
        self,
        store: Store[RequestContext],
        attachment_store: AttachmentStore[RequestContext] | None,
        *,
        agent: Agent[ChatAgentContext],
        titles: TitleGenerator,
        run_config: RunConfig,
        history_items: int,
        remap_ids: bool,
        attachment_reader: AttachmentReader | None = None,
    ) -> None:
        super().__init__(store, attachment_store)
        self._agent = agent
        self._titles = titles
        self._run_config = run_config
        self._history_items = history_items
        self._remap_ids = remap_ids
        self._attachment_reader = attachment_reader

    async def process(
        self, request: str | bytes | bytearray, context: RequestContext
    ) -> StreamingResult | NonStreamingResult:
        """Parse the request once, check what it may touch, then run it as the SDK does.

        Replaces `ChatKitServer.process` of openai-chatkit 1.6 (same dispatch, pinned by the
        tests): that one re-parses with a new adapter per request and skips the checks.
        """
        parsed = parse_request(request)
        annotate(op=parsed.type)
        await check_request(parsed, self, context)
        if is_streaming_req(parsed):
            return StreamingResult(self._process_streaming(parsed, context))
        return NonStreamingResult(await self._process_non_streaming(parsed, context))

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Stream the agents' answer to the thread (titling it on the first turn).

        `input_user_message` is None when the turn continues without a new message (a client
        tool's output arrived); the answer always works from the stored history.
        """
        if thread.status.type != "active":
            yield ErrorEvent(
                code="custom", message="This conversation is closed.", allow_retry=False
            )
            return
        title_task = self._start_title(thread, input_user_message)
        error: ErrorEvent | None = None
        try:
            try:
                async for event in self._answer(thread, context):
                    yield event
            except (InputGuardrailTripwireTriggered, OutputGuardrailTripwireTriggered):
                error = ErrorEvent(
                    code="custom", message="That message can't be answered.", allow_retry=False
                )
            except Exception:
                # The user's message is already stored; the client may retry the answer.
                logger.exception("The model failed to answer in thread %s", thread.id)
                error = ErrorEvent(
                    code="custom",
                    message="The assistant could not answer. Please try again.",
                    allow_retry=True,
                )
            if title_task is not None:
                title = await title_task
                if error is None:
                    # Changing the thread makes ChatKit save it and send `thread.updated`.
                    thread.title = title
                else:
                    # Saved directly, so that the error stays the last event of the stream.
                    titled = thread.model_copy(update={"title": title})
                    await self.store.save_thread(titled, context)
            if error is not None:
                yield error
        finally:
            if title_task is not None and not title_task.done():
                title_task.cancel()

    async def add_feedback(
        self,
        thread_id: str,
        item_ids: list[str],
        feedback: FeedbackKind,
        context: RequestContext,
    ) -> None:
        """Record feedback per item in the thread's server-only metadata."""
        thread = await self.store.load_thread(thread_id, context)
        for item_id in item_ids:
            await self.store.load_item(thread_id, item_id, context)
        recorded = dict(thread.metadata.get(FEEDBACK_METADATA_KEY) or {})
        recorded.update(dict.fromkeys(item_ids, feedback))
        thread.metadata[FEEDBACK_METADATA_KEY] = recorded
        await self.store.save_thread(thread, context)

    async def _answer(
        self, thread: ThreadMetadata, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        page = await self.store.load_thread_items(
            thread.id, None, self._history_items, "desc", context
        )
        converter = AppThreadItemConverter(self._attachment_reader, context)
        input_items = await converter.to_agent_input(list(reversed(page.data)))
        # One context for the run and the stream, so events streamed by tools reach the client.
        agent_context: ChatAgentContext = AgentContext(
            thread=thread, store=self.store, request_context=context
        )
        result = Runner.run_streamed(
            self._agent, input_items, context=agent_context, run_config=self._run_config
        )
        events = stream_agent_response(agent_context, result)
        if self._remap_ids:
            events = remap_fake_ids(
                events, lambda: self.store.generate_item_id("message", thread, context)
            )
        try:
            async for event in events:
                yield event
        finally:
            if not result.is_complete:
                result.cancel()

    def _start_title(
        self, thread: ThreadMetadata, message: UserMessageItem | None
    ) -> asyncio.Task[str] | None:
        if thread.title is not None or message is None:
            return None
        return asyncio.create_task(self._titles.generate(_message_text(message)))


def _message_text(message: UserMessageItem) -> str:
    parts: list[str] = []
    for part in message.content:
        if isinstance(part, UserMessageTextContent):
            parts.append(part.text)
        elif isinstance(part, UserMessageTagContent):
            parts.append(f"@{part.text}")
    return "".join(parts)
