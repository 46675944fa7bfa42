"""Deadlines and a per-process concurrency bound on every model call.

`ModelGate.wrap(model)` returns a model that behaves as `model` except that a call:
- waits at most `QUEUE_WAIT` seconds for one of `MODEL_MAX_CONCURRENCY` slots, else fails with
  `ModelBusy`, so hung calls cannot take every connection and other users get a quick answer;
- fails with `ModelTimeout` when the model sends nothing for `MODEL_FIRST_TOKEN_TIMEOUT` seconds
  (its first output), then when it stays silent for `MODEL_IDLE_TIMEOUT` seconds between two
  outputs, and in any case after `MODEL_TOTAL_TIMEOUT` seconds.
The connection timeout (`MODEL_CONNECT_TIMEOUT`) is the HTTP client's (`providers/`).
Both errors carry the message the user sees; the server ends the stream with a retryable error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from agents import Model, ModelResponse, ModelSettings, ModelTracing, Tool
from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import TResponseInputItem, TResponseStreamEvent
from agents.retry import ModelRetryAdvice, ModelRetryAdviceRequest
from openai.types.responses.response_prompt_param import ResponsePromptParam

from .settings import Settings

QUEUE_WAIT = 2.0
"""Seconds a model call waits for a free slot before failing with `ModelBusy`."""

# Sent at once by the Responses API when a call starts: not yet the model's first output.
STARTING_EVENTS = frozenset({"response.created", "response.in_progress"})


class ModelUnavailable(Exception):
    """A model call that did not complete in time; `user_message` is what the user is shown."""

    user_message = "The assistant could not answer. Please try again."


class ModelTimeout(ModelUnavailable):
    """The model exceeded one of its deadlines."""

    user_message = "The assistant took too long to answer. Please try again."


class ModelBusy(ModelUnavailable):
    """Every model slot of this process stayed taken for `QUEUE_WAIT` seconds."""

    user_message = "The assistant is busy right now. Please try again in a moment."


@dataclass(frozen=True)
class Deadlines:
    """Seconds allowed for a model call (see the module's docstring)."""

    first_token: float
    idle: float
    total: float


class ModelGate:
    """The deadlines and the slots shared by every model of the process."""

    def __init__(self, deadlines: Deadlines, max_concurrency: int) -> None:
        self.deadlines = deadlines
        self.max_concurrency = max_concurrency
        self._slots = asyncio.Semaphore(max_concurrency)

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelGate:
        deadlines = Deadlines(
            first_token=settings.model_first_token_timeout,
            idle=settings.model_idle_timeout,
            total=settings.model_total_timeout,
        )
        return cls(deadlines, settings.model_max_concurrency)

    def wrap(self, model: Model) -> Model:
        """`model`, bounded by this gate."""
        return GatedModel(model, self)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the duration of a call; `ModelBusy` if none frees up in time."""
        try:
            async with asyncio.timeout(QUEUE_WAIT):
                await self._slots.acquire()
        except TimeoutError:
            raise ModelBusy(f"{self.max_concurrency} model calls already in flight") from None
        try:
            yield
        finally:
            self._slots.release()


class GatedModel(Model):
    """A model whose calls take a slot of the gate and keep to its deadlines."""

    def __init__(self, model: Model, gate: ModelGate) -> None:
        self.model = model
        self._gate = gate

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> ModelResponse:
        total = self._gate.deadlines.total
        async with self._gate.slot():
            try:
                async with asyncio.timeout(total):
                    return await self.model.get_response(
                        system_instructions,
                        input,
                        model_settings,
                        tools,
                        output_schema,
                        handoffs,
                        tracing,
                        previous_response_id=previous_response_id,
                        conversation_id=conversation_id,
                        prompt=prompt,
                    )
            except TimeoutError:
                raise ModelTimeout(f"no response within {total:g} s") from None

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        async with self._gate.slot():
            events = self.model.stream_response(
                system_instructions,
                input,
                model_settings,
                tools,
                output_schema,
                handoffs,
                tracing,
                previous_response_id=previous_response_id,
                conversation_id=conversation_id,
                prompt=prompt,
            )
            try:
                async for event in _within_deadlines(events, self._gate.deadlines):
                    yield event
            finally:
                close = getattr(events, "aclose", None)
                if close is not None:
                    await close()

    async def close(self) -> None:
        await self.model.close()

    def get_retry_advice(self, request: ModelRetryAdviceRequest) -> ModelRetryAdvice | None:
        return self.model.get_retry_advice(request)

    async def _cleanup_on_run_end(self, owner: object) -> None:
        await self.model._cleanup_on_run_end(owner)


async def _within_deadlines(
    events: AsyncIterator[TResponseStreamEvent], deadlines: Deadlines
) -> AsyncIterator[TResponseStreamEvent]:
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + deadlines.total
    started = False
    while True:
        wait, deadline = (
            (deadlines.idle, "idle") if started else (deadlines.first_token, "first token")
        )
        left = ends_at - loop.time()
        if left < wait:
            wait, deadline = left, "total"
        try:
            async with asyncio.timeout(wait):
                event = await anext(events)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise ModelTimeout(f"{deadline} deadline of the model call passed") from None
        started = started or event.type not in STARTING_EVENTS
        yield event
