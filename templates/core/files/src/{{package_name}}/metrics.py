"""Prometheus metrics, on with `METRICS_ENABLED=true`.

`Metrics` is what the app calls; its methods do nothing, so with metrics off nothing is counted.
`PrometheusMetrics` records into a registry of its own, served at `GET /metrics` (or on
`METRICS_PORT`, apart from the API). Labels never hold user ids or text: the ChatKit op, the
status code, the model name and the limit.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

from .errors import error_response
from .limits import LimitName
from .stores.base import PoolState

# Seconds: from a quick first token to a long streamed answer.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

router = APIRouter()


class Metrics:
    """What the app reports; this base records nothing (metrics off)."""

    def request_done(self, op: str, status: int, seconds: float) -> None:
        """One HTTP request answered (`op` is the ChatKit op, `-` for other routes)."""

    def stream_started(self) -> None:
        """A server-sent event stream began."""

    def stream_ended(self, seconds: float) -> None:
        """A stream ended (completed, failed or cancelled) after `seconds`."""

    def first_token(self, seconds: float) -> None:
        """The first text of an answer, `seconds` after its turn started."""

    def tokens(self, model: str, input_tokens: int, output_tokens: int) -> None:
        """Tokens a turn used."""

    def refused(self, limit: LimitName, request: str) -> None:
        """A request refused by a limit (`request` is `json` or `stream`)."""

    def watch_pool(self, pool_state: Callable[[], PoolState]) -> None:
        """Report the database pool, read from `pool_state` at each scrape."""


class PrometheusMetrics(Metrics):
    """Metrics recorded in a Prometheus registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "chatkit_requests",
            "HTTP requests by ChatKit op and status code",
            ["op", "status"],
            registry=self.registry,
        )
        self._request_seconds = Histogram(
            "chatkit_request_duration_seconds",
            "Time to answer a request (for a stream: until its last event)",
            ["op"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._stream_seconds = Histogram(
            "chatkit_stream_duration_seconds",
            "Duration of server-sent event streams",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._first_token_seconds = Histogram(
            "chatkit_time_to_first_token_seconds",
            "Time from the start of a turn to the first text of its answer",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._tokens = Counter(
            "chatkit_model_tokens",
            "Model tokens by model and direction (input, output)",
            ["model", "direction"],
            registry=self.registry,
        )
        self._active_streams = Gauge(
            "chatkit_active_streams", "Streams being sent now", registry=self.registry
        )
        self._refusals = Counter(
            "chatkit_limit_refusals",
            "Requests refused by a per-user limit (rate, tokens) by request kind (json, stream)",
            ["limit", "request"],
            registry=self.registry,
        )
        self._pool = Gauge(
            "chatkit_database_pool_connections",
            "Database connections per process: the pool's size and those in use",
            ["state"],
            registry=self.registry,
        )

    def request_done(self, op: str, status: int, seconds: float) -> None:
        self._requests.labels(op, str(status)).inc()
        self._request_seconds.labels(op).observe(seconds)

    def stream_started(self) -> None:
        self._active_streams.inc()

    def stream_ended(self, seconds: float) -> None:
        self._active_streams.dec()
        self._stream_seconds.observe(seconds)

    def first_token(self, seconds: float) -> None:
        self._first_token_seconds.observe(seconds)

    def tokens(self, model: str, input_tokens: int, output_tokens: int) -> None:
        self._tokens.labels(model, "input").inc(input_tokens)
        self._tokens.labels(model, "output").inc(output_tokens)

    def refused(self, limit: LimitName, request: str) -> None:
        self._refusals.labels(limit, request).inc()

    def watch_pool(self, pool_state: Callable[[], PoolState]) -> None:
        self._pool.labels("size").set_function(lambda: pool_state().size)
        self._pool.labels("in_use").set_function(lambda: pool_state().in_use)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


def serve_on_port(metrics: PrometheusMetrics, port: int) -> Callable[[], None]:
    """Serve the metrics on `port` apart from the API (a thread); returns what stops it."""
    server, thread = start_http_server(port, registry=metrics.registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return stop


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint(request: Request) -> Response:
    """The metrics, when they are on and served with the API (404 otherwise)."""
    metrics = getattr(request.app.state, "served_metrics", None)
    if not isinstance(metrics, PrometheusMetrics):
        return error_response(404, "not_found", "Not found.")
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
