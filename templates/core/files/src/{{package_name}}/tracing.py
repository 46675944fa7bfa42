"""OpenTelemetry traces, on when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (exported over OTLP/HTTP).

A trace covers one HTTP request (`TracingMiddleware`), the calls the app makes with `httpx2`
(the model providers' client), the store's SQL statements, and the agent run: `AgentSpans`
receives the Agents SDK's own trace events and turns each (agent, model call, tool call,
handoff, guardrail) into an OpenTelemetry span under the request's span. Spans carry names,
models, token counts, statements and errors, never the conversation (inputs, outputs and SQL
parameters are left out).

Off, `start_tracing()` returns None and the middleware passes requests straight through.
"""

from __future__ import annotations

import threading
from typing import Any

from agents.tracing import (
    AgentSpanData,
    FunctionSpanData,
    GenerationSpanData,
    GuardrailSpanData,
    HandoffSpanData,
    ResponseSpanData,
    Span,
    SpanData,
    Trace,
    TracingProcessor,
    TurnSpanData,
)
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode
from starlette.types import ASGIApp, Receive, Scope, Send

from .settings import Settings
from .stores.engine import AnyEngine, sync_engine

AttributeValue = str | bool | int | float


class AgentSpans(TracingProcessor):
    """Agents SDK tracing processor that opens an OpenTelemetry span per SDK trace and span."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer
        self._open: dict[str, trace.Span] = {}
        self._lock = threading.Lock()

    def on_trace_start(self, trace_: Trace) -> None:
        # The current OpenTelemetry span (the HTTP request's) becomes the parent.
        span = self._tracer.start_span(f"agent run {trace_.name}")
        with self._lock:
            self._open[trace_.trace_id] = span

    def on_trace_end(self, trace_: Trace) -> None:
        with self._lock:
            span = self._open.pop(trace_.trace_id, None)
        if span is not None:
            span.end()

    def on_span_start(self, span: Span[Any]) -> None:
        with self._lock:
            parent = self._open.get(span.parent_id or "") or self._open.get(span.trace_id)
        context = trace.set_span_in_context(parent) if parent is not None else None
        opened = self._tracer.start_span(span_name(span.span_data), context=context)
        with self._lock:
            self._open[span.span_id] = opened

    def on_span_end(self, span: Span[Any]) -> None:
        with self._lock:
            opened = self._open.pop(span.span_id, None)
        if opened is None:
            return
        opened.set_attributes(span_attributes(span.span_data))
        if span.error is not None:
            opened.set_status(Status(StatusCode.ERROR, span.error["message"]))
        opened.end()

    def shutdown(self) -> None:
        with self._lock:
            self._open.clear()

    def force_flush(self) -> None:
        return None


def span_name(data: SpanData) -> str:
    """The span's name: its kind and what it is about (agent, model, tool)."""
    if isinstance(data, AgentSpanData):
        return f"agent {data.name}"
    if isinstance(data, TurnSpanData):
        return f"turn {data.turn}"
    if isinstance(data, GenerationSpanData):
        return f"model call {data.model or ''}".rstrip()
    if isinstance(data, ResponseSpanData):
        return "model call"
    if isinstance(data, FunctionSpanData):
        return f"tool {data.name}"
    if isinstance(data, HandoffSpanData):
        return "handoff"
    if isinstance(data, GuardrailSpanData):
        return f"guardrail {data.name}"
    return data.type


def span_attributes(data: SpanData) -> dict[str, AttributeValue]:
    """What a span records when it ends: names, the model and its token counts, no text."""
    attributes: dict[str, AttributeValue] = {"agents.span_type": data.type}
    usage: dict[str, Any] | None = None
    if isinstance(data, AgentSpanData):
        attributes["gen_ai.agent.name"] = data.name
    elif isinstance(data, GenerationSpanData):
        attributes["gen_ai.request.model"] = data.model or ""
        usage = data.usage
    elif isinstance(data, ResponseSpanData) and data.response is not None:
        attributes["gen_ai.response.model"] = data.response.model
        if data.response.usage is not None:
            usage = data.response.usage.model_dump()
    elif isinstance(data, FunctionSpanData):
        attributes["gen_ai.tool.name"] = data.name
    elif isinstance(data, HandoffSpanData):
        attributes["agents.handoff.from"] = data.from_agent or ""
        attributes["agents.handoff.to"] = data.to_agent or ""
    elif isinstance(data, GuardrailSpanData):
        attributes["agents.guardrail.triggered"] = data.triggered
    if usage:
        for key in ("input_tokens", "output_tokens"):
            value = usage.get(key)
            if isinstance(value, int):
                attributes[f"gen_ai.usage.{key}"] = value
    return attributes


class Tracing:
    """The tracer provider exporting to `OTEL_EXPORTER_OTLP_ENDPOINT`, and what feeds it."""

    def __init__(self, endpoint: str, service_name: str) -> None:
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        exporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.agent_spans = AgentSpans(self.provider.get_tracer(__name__))
        self._httpx = HTTPX2ClientInstrumentor()
        self._httpx.instrument(tracer_provider=self.provider)
        self._database = SQLAlchemyInstrumentor()

    def trace_database(self, engine: AnyEngine) -> None:
        """A span per SQL statement of `engine` (the statement's text, never its parameters)."""
        # The instrumentation declares SQLAlchemy < 2.1 and skips newer ones; the engine events
        # it listens to are unchanged in 2.1 (tests/test_tracing.py checks the spans).
        self._database.instrument(
            engine=sync_engine(engine), tracer_provider=self.provider, skip_dep_check=True
        )

    def close(self) -> None:
        """Stop tracing outgoing calls and statements, and send the spans still queued."""
        self._httpx.uninstrument()
        if self._database.is_instrumented_by_opentelemetry:
            self._database.uninstrument()
        self.provider.shutdown()


def start_tracing(settings: Settings) -> Tracing | None:
    """Tracing when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, else None."""
    if settings.otel_exporter_otlp_endpoint is None:
        return None
    service_name = settings.otel_service_name or __package__ or "app"
    return Tracing(settings.otel_exporter_otlp_endpoint, service_name)


class TracingMiddleware:
    """Pure ASGI middleware: a server span per HTTP request while `app.state.tracing` is set.

    The app's tracing starts with its settings, after the middleware stack is built, so the
    OpenTelemetry middleware is made on the first traced request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._traced: tuple[Tracing, ASGIApp] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracing: Tracing | None = None
        if scope["type"] == "http":
            tracing = getattr(scope["app"].state, "tracing", None)
        if tracing is None:
            await self.app(scope, receive, send)
            return
        if self._traced is None or self._traced[0] is not tracing:
            middleware = OpenTelemetryMiddleware(
                self.app, tracer_provider=tracing.provider, exclude_spans=["receive", "send"]
            )
            self._traced = (tracing, middleware)
        await self._traced[1](scope, receive, send)
