"""The ChatKit server: checks each request, answers with the agents, handles widget actions."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import anyio
from agents import (
    Agent,
    InputGuardrailTripwireTriggered,
    OutputGuardrailTripwireTriggered,
    RunConfig,
    Runner,
    RunResultStreaming,
)
from chatkit.actions import Action
from chatkit.agents import AgentContext, stream_agent_response
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.store import AttachmentStore, NotFoundError
from chatkit.types import (
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ChatKitReq,
    ClientToolCallItem,
    ErrorEvent,
    FeedbackKind,
    StreamingReq,
    SyncCustomActionResponse,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemReplacedEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadsRetryAfterItemReq,
    ThreadStreamEvent,
    ThreadUpdatedEvent,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    WidgetItem,
    is_streaming_req,
)
from pydantic import TypeAdapter, ValidationError

from . import approvals
from .actions import ActionCall, ActionRegistry, parse_payload
from .context import ChatAgentContext, RequestContext
from .converter import AppThreadItemConverter, AttachmentReader
from .errors import ApiError
from .fake_ids import remap_fake_ids
from .history import within_budget
from .limits import Limiter
from .metrics import Metrics
from .model_limits import ModelUnavailable
from .request_checks import check_request
from .request_log import annotate
from .stopped import SAVE_SECONDS, stopped_marker
from .stores import StoreUnavailable
from .stores.base import AppStore, TurnUsage
from .titles import TitleGenerator
from .widgets.approval import ApprovalStatus

logger = logging.getLogger(__name__)

FEEDBACK_METADATA_KEY = "feedback"

NO_CLIENT_OUTPUT: dict[str, Any] = {
    "error": "The client never returned this tool's output (the page was probably closed)."
}
"""The output recorded for a client tool call left pending when the conversation moves on."""

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

    store: AppStore  # the SDK's `Store`, plus what this app keeps (token usage)

    def __init__(
        self,
        store: AppStore,
        attachment_store: AttachmentStore[RequestContext] | None,
        *,
        agent: Agent[ChatAgentContext],
        actions: ActionRegistry,
        titles: TitleGenerator,
        run_config: RunConfig,
        history_items: int,
        history_max_chars: int,
        remap_ids: bool,
        attachment_reader: AttachmentReader | None = None,
        limiter: Limiter | None = None,
        metrics: Metrics | None = None,
        model_name: str = "-",
    ) -> None:
        super().__init__(store, attachment_store)
        self.actions = actions
        self._agent = agent
        self._titles = titles
        self._run_config = run_config
        self._history_items = history_items
        self._history_max_chars = history_max_chars
        self._remap_ids = remap_ids
        self._attachment_reader = attachment_reader
        self._limiter = limiter
        self._metrics = metrics or Metrics()
        self._model_name = model_name
        # Taking a paused run is a read then a delete: one at a time, so it resumes once.
        self._claiming = asyncio.Lock()
        # Titles written in the background, so that the answer's stream never waits for them.
        self._titling: set[asyncio.Task[ThreadMetadata | None]] = set()
        # The task streaming each thread's answer, so that a retry can stop it first.
        self._turns: dict[str, asyncio.Task[Any]] = {}

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
        if isinstance(parsed, ThreadsRetryAfterItemReq):
            await self._stop_turn(parsed.params.thread_id)
        if is_streaming_req(parsed):
            return StreamingResult(self._process_streaming(parsed, context))
        if self._limiter is not None:
            refusal = await self._limiter.check_request(context.user_id)
            if refusal is not None:
                self._metrics.refused(refusal.limit, "json")
                raise ApiError(
                    429,
                    "rate_limited",
                    refusal.message,
                    headers={"Retry-After": str(refusal.retry_after)},
                )
        return NonStreamingResult(await self._process_non_streaming(parsed, context))

    async def _process_streaming_impl(
        self, request: StreamingReq, context: RequestContext
    ) -> AsyncGenerator[ThreadStreamEvent, None]:
        """The SDK's stream, ended with the database's retryable error when a save outside the
        answer (the new thread, the user's message) fails, which the SDK would log as a crash."""
        try:
            async for event in super()._process_streaming_impl(request, context):
                yield event
        except StoreUnavailable as exc:
            logger.warning("ChatKit stream ended: the database is unavailable: %s", exc)
            yield ErrorEvent(code="custom", message=exc.message, allow_retry=True)

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
        turn = asyncio.current_task()
        if turn is not None:
            self._turns[thread.id] = turn
        try:
            async for event in self._guarded(
                thread, context, self._answer(thread, context), title_message=input_user_message
            ):
                yield event
        finally:
            if self._turns.get(thread.id) is turn:
                del self._turns[thread.id]

    async def _stop_turn(self, thread_id: str) -> None:
        """Stop the answer still streaming in the thread (this process), and wait until its
        partial text is saved, so that a retry deletes it with the rest of the old answer."""
        turn = self._turns.get(thread_id)
        if turn is None or turn is asyncio.current_task() or turn.done():
            return
        turn.cancel()
        await asyncio.wait({turn}, timeout=SAVE_SECONDS + 1)

    def answer(
        self, thread: ThreadMetadata, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        """The answer to the thread as it stands, for action handlers that continue it."""
        return self._guarded(thread, context, self._answer(thread, context))

    def resume(
        self,
        thread: ThreadMetadata,
        widget: WidgetItem,
        run_id: str,
        approved: bool,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Resume the run paused for approval `run_id` (see `approvals.py`)."""
        return self._guarded(
            thread, context, self._resume(thread, widget, run_id, approved, context)
        )

    async def action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """`threads.custom_action`: the streamed handler of the action's type (`actions/`)."""
        handler = self.actions.streamed_handler(action.type)
        call = ActionCall(thread, sender, parse_payload(handler, action.payload), context, self)
        async for event in handler.handle(call):
            yield event

    async def sync_action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> SyncCustomActionResponse:
        """`threads.sync_custom_action`: the handler's updated widget, saved and sent back."""
        handler = self.actions.sync_handler(action.type)
        call = ActionCall(thread, sender, parse_payload(handler, action.payload), context, self)
        updated = await handler.handle(call)
        if updated is not None:
            await self.store.save_item(thread.id, updated, context)
        return SyncCustomActionResponse(updated_item=updated)

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

    async def handle_stream_cancelled(
        self, thread: ThreadMetadata, pending_items: list[ThreadItem], context: RequestContext
    ) -> None:
        """Keep what was streamed (as the SDK does) and add a visible "Answer stopped" marker.

        Shielded: the request is being cancelled, and Starlette repeats the cancellation at
        every await, which would otherwise lose the partial answer.
        """
        with anyio.move_on_after(SAVE_SECONDS, shield=True):
            await super().handle_stream_cancelled(thread, pending_items, context)
            marker_id = self.store.generate_item_id("task", thread, context)
            await self.store.add_thread_item(thread.id, stopped_marker(thread, marker_id), context)

    async def _guarded(
        self,
        thread: ThreadMetadata,
        context: RequestContext,
        events: AsyncIterator[ThreadStreamEvent],
        title_message: UserMessageItem | None = None,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Stream an answer; a failure ends it with an `error` event (its input stays stored).

        The user's limits are checked first: over one, the turn ends with an `error` event
        before the model (or the title) runs, and the message that started it stays stored.
        The stream ends with the answer: a title already saved is sent along, a title still
        being written is saved in the background (the thread list shows it).
        """
        if thread.status.type != "active":
            yield ErrorEvent(
                code="custom", message="This conversation is closed.", allow_retry=False
            )
            return
        if self._limiter is not None:
            refusal = await self._limiter.check_turn(context.user_id)
            if refusal is not None:
                self._metrics.refused(refusal.limit, "stream")
                yield ErrorEvent(code="custom", message=refusal.message, allow_retry=True)
                return
        started = time.perf_counter()
        waiting_for_text = True
        title_task = self._start_title(thread, title_message, context)
        error: ErrorEvent | None = None
        try:
            async for event in events:
                if waiting_for_text and _carries_answer_text(event):
                    waiting_for_text = False
                    self._metrics.first_token(time.perf_counter() - started)
                yield event
        except (InputGuardrailTripwireTriggered, OutputGuardrailTripwireTriggered):
            error = ErrorEvent(
                code="custom", message="That message can't be answered.", allow_retry=False
            )
        except ModelUnavailable as exc:
            # A deadline passed or the process is at its model concurrency bound.
            logger.warning("The model call in thread %s failed: %s", thread.id, exc)
            error = ErrorEvent(code="custom", message=exc.user_message, allow_retry=True)
        except StoreUnavailable as exc:
            # The database's outage, not the model's failure: say so, retryable.
            logger.warning("The database failed the answer in thread %s: %s", thread.id, exc)
            error = ErrorEvent(code="custom", message=exc.message, allow_retry=True)
        except Exception:
            # The user's message is already stored; the client may retry the answer.
            logger.exception("The model failed to answer in thread %s", thread.id)
            error = ErrorEvent(
                code="custom",
                message="The assistant could not answer. Please try again.",
                allow_retry=True,
            )
        if title_task is not None and title_task.done() and not title_task.cancelled():
            titled = title_task.result()
            if titled is not None:
                # Saved by the title task; `thread` stays as loaded, so ChatKit saves nothing.
                yield ThreadUpdatedEvent(thread=self._to_thread_response(titled))
        if error is not None:
            yield error

    async def _answer(
        self, thread: ThreadMetadata, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        page = await self.store.load_thread_items(
            thread.id, None, self._history_items, "desc", context
        )
        history = list(reversed(page.data))
        async for event in self._settle_leftovers(thread, history, context):
            yield event
        converter = AppThreadItemConverter(self._attachment_reader, context)
        input_items = within_budget(
            await converter.to_agent_input(history), self._history_max_chars
        )
        agent_context = self._agent_context(thread, context)
        result = Runner.run_streamed(
            self._agent, input_items, context=agent_context, run_config=self._run_config
        )
        async for event in self._stream_run(thread, context, agent_context, result):
            yield event

    async def _settle_leftovers(
        self, thread: ThreadMetadata, history: list[ThreadItem], context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Resolve what earlier turns left waiting, since the conversation moves on without it.

        A client tool call whose output never came (the page was reloaded) is completed with an
        error output, so the model sees the call answered; a run paused for approval expires.
        `history` is updated in place.
        """
        for index, item in enumerate(history):
            if isinstance(item, ClientToolCallItem) and item.status == "pending":
                settled = item.model_copy(
                    update={"status": "completed", "output": NO_CLIENT_OUTPUT}
                )
                history[index] = settled
                yield ThreadItemReplacedEvent(item=settled)
                continue
            paused = approvals.paused_run_of(item)
            if paused is None:
                continue
            await self.store.delete_thread_item(thread.id, item.id, context)
            try:
                widget = await self.store.load_item(thread.id, paused.widget_id, context)
            except NotFoundError:
                continue
            if isinstance(widget, WidgetItem):
                expired = approvals.decided_widget(widget, item.id, paused, "expired")
                yield ThreadItemReplacedEvent(item=expired)

    async def _resume(
        self,
        thread: ThreadMetadata,
        widget: WidgetItem,
        run_id: str,
        approved: bool,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        async with self._claiming:
            paused = await self._take_paused_run(thread, widget, run_id, context)
        if paused is None:
            yield ErrorEvent(
                code="custom",
                message="This request was already answered, or it expired.",
                allow_retry=False,
            )
            return
        status: ApprovalStatus = "approved" if approved else "rejected"
        yield ThreadItemReplacedEvent(item=approvals.decided_widget(widget, run_id, paused, status))
        agent_context = self._agent_context(thread, context)
        state = await approvals.restore(self._agent, paused, agent_context, approved)
        result = Runner.run_streamed(
            self._agent, state, context=agent_context, run_config=self._run_config
        )
        async for event in self._stream_run(thread, context, agent_context, result):
            yield event

    async def _take_paused_run(
        self, thread: ThreadMetadata, widget: WidgetItem, run_id: str, context: RequestContext
    ) -> approvals.PausedRun | None:
        """The paused run, removed from the thread so that nobody resumes it twice."""
        try:
            item = await self.store.load_item(thread.id, run_id, context)
        except NotFoundError:
            return None
        paused = approvals.paused_run_of(item)
        if paused is None or paused.widget_id != widget.id:
            return None
        await self.store.delete_thread_item(thread.id, run_id, context)
        return paused

    async def _stream_run(
        self,
        thread: ThreadMetadata,
        context: RequestContext,
        agent_context: ChatAgentContext,
        result: RunResultStreaming,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """The run's events; a run that stops on calls needing approval pauses (`approvals`)."""
        events = stream_agent_response(agent_context, result)
        if self._remap_ids:
            events = remap_fake_ids(
                events, lambda: self.store.generate_item_id("message", thread, context)
            )
        finished = False
        try:
            async for event in events:
                yield event
            finished = True
            await self._record_usage(thread, result, context)
        finally:
            if not finished:
                # The stream was cancelled (the user pressed stop or left): stop the run, and
                # end the SDK's wait for events from tools, which would otherwise stay pending
                # (even when the run itself had just completed).
                if not result.is_complete:
                    result.cancel()
                agent_context._complete()  # type: ignore[no-untyped-call]  # (untyped in the SDK)
        if result.interruptions:
            widget, hidden = approvals.pause_items(
                result.to_state(), result.interruptions, thread, self.store, context
            )
            for event in approvals.pause_events(widget, hidden):
                yield event

    async def _record_usage(
        self, thread: ThreadMetadata, result: RunResultStreaming, context: RequestContext
    ) -> None:
        """Count a completed run's tokens: in the metrics, the user's daily budget, and the
        database's `usage` table (`python -m <package>.usage` reports it).

        The answer is already sent: a counter or a database that cannot be reached loses these
        tokens (logged) rather than turning the answer into an error.
        """
        usage = result.context_wrapper.usage
        self._metrics.tokens(self._model_name, usage.input_tokens, usage.output_tokens)
        if self._limiter is not None:
            try:
                await self._limiter.record_tokens(context.user_id, usage.total_tokens)
            except Exception:
                logger.warning("Could not count the tokens of a turn", exc_info=True)
        turn = TurnUsage(thread.id, self._model_name, usage.input_tokens, usage.output_tokens)
        try:
            await self.store.record_usage(turn, context)
        except Exception:
            logger.warning("Could not store the token usage of a turn", exc_info=True)

    def _agent_context(self, thread: ThreadMetadata, context: RequestContext) -> ChatAgentContext:
        # One context for the run and the stream, so events streamed by tools reach the client.
        return AgentContext(thread=thread, store=self.store, request_context=context)

    def _start_title(
        self, thread: ThreadMetadata, message: UserMessageItem | None, context: RequestContext
    ) -> asyncio.Task[ThreadMetadata | None] | None:
        if thread.title is not None or message is None or thread.status.type != "active":
            return None
        task = asyncio.create_task(self._title(thread.id, _message_text(message), context))
        self._titling.add(task)
        task.add_done_callback(self._titling.discard)
        return task

    async def _title(
        self, thread_id: str, text: str, context: RequestContext
    ) -> ThreadMetadata | None:
        """Write and save the thread's title; None if the user named (or deleted) it meanwhile."""
        title = await self._titles.generate(text)
        try:
            current = await self.store.load_thread(thread_id, context)
            if current.title is not None:
                return None
            current.title = title
            await self.store.save_thread(current, context)
        except NotFoundError:
            return None
        except Exception:
            logger.warning("Could not save the title of thread %s", thread_id, exc_info=True)
            return None
        return current

    async def wait_for_titles(self) -> None:
        """Wait until the titles being written are saved (they never outlive their deadline)."""
        while self._titling:
            await asyncio.gather(*self._titling, return_exceptions=True)

    async def close(self) -> None:
        """Stop the titles still being written (at shutdown)."""
        for task in list(self._titling):
            task.cancel()
        await asyncio.gather(*self._titling, return_exceptions=True)


def _carries_answer_text(event: ThreadStreamEvent) -> bool:
    """The first sign of the answer's text: an assistant message begins, or text arrives."""
    if isinstance(event, ThreadItemUpdatedEvent):
        return isinstance(event.update, AssistantMessageContentPartTextDelta)
    return isinstance(event, ThreadItemAddedEvent) and isinstance(event.item, AssistantMessageItem)


def _message_text(message: UserMessageItem) -> str:
    parts: list[str] = []
    for part in message.content:
        if isinstance(part, UserMessageTextContent):
            parts.append(part.text)
        elif isinstance(part, UserMessageTagContent):
            parts.append(f"@{part.text}")
    return "".join(parts)
