"""Everything the app builds once at start-up, wired in one place, in dependency order.

Settings -> tracing, metrics, limits -> model provider -> file storage -> store -> attachment
store -> agents and tools -> widget actions -> server.
Nothing is changed after it is built; `Services.close()` releases what holds connections.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agents import Model, RunConfig, add_trace_processor, set_trace_processors
from chatkit.store import AttachmentStore

from . import files
from .actions import discover_actions
from .agents import build_entry_agent
from .auth import Authenticator, create_authenticator
from .context import RequestContext
from .file_storage import FileStorage
from .limits import Limiter, create_limiter
from .llm_factory import configure_tracing, create_model, model_name, uses_chat_completions
from .metrics import Metrics, PrometheusMetrics, serve_on_port
from .model_limits import ModelGate
from .server import AppChatKitServer
from .settings import Settings
from .stores import AppStore, create_store
from .titles import TitleGenerator
from .tracing import Tracing, start_tracing


@dataclass(frozen=True)
class Services:
    """What the routes use: kept on `app.state.services` while the app runs."""

    settings: Settings
    store: AppStore
    file_storage: FileStorage | None
    attachment_store: AttachmentStore[RequestContext] | None
    authenticator: Authenticator
    server: AppChatKitServer
    metrics: Metrics
    limiter: Limiter | None
    tracing: Tracing | None
    stop_metrics_server: Callable[[], None] | None = None

    async def close(self) -> None:
        """Stop background titles, then release the store's and the limits' connections (a
        later start reconnects)."""
        await self.server.close()
        await self.store.close()
        if self.limiter is not None:
            await self.limiter.close()
        if self.stop_metrics_server is not None:
            self.stop_metrics_server()
        if self.tracing is not None:
            self.tracing.close()


async def start_services(
    settings: Settings, *, model: Model | None = None, title_model: Model | None = None
) -> Services:
    """Build every service from the settings and open the store (schema created if needed).

    `model` and `title_model` replace the provider's model (tests); injected models are never
    traced to OpenAI (they are with OpenTelemetry, when it is on), and keep to the same
    deadlines as the provider's.
    """
    tracing = start_tracing(settings)
    provider_model = model or create_model(settings)
    to_openai = model is None and configure_tracing(settings)
    if tracing is not None:
        # The SDK's traces go to OpenTelemetry, and to OpenAI only when the provider asks.
        if to_openai:
            add_trace_processor(tracing.agent_spans)
        else:
            set_trace_processors([tracing.agent_spans])
    run_config = RunConfig(tracing_disabled=not (to_openai or tracing is not None))
    # Every model call keeps to the deadlines and the concurrency bound (`model_limits`).
    gate = ModelGate.from_settings(settings)
    answer_model = gate.wrap(provider_model)
    metrics = PrometheusMetrics() if settings.metrics_enabled else Metrics()
    stop_metrics_server = None
    if isinstance(metrics, PrometheusMetrics) and settings.metrics_port is not None:
        stop_metrics_server = serve_on_port(metrics, settings.metrics_port)

    limiter = create_limiter(settings)
    file_storage = files.create_file_storage(settings)
    store = create_store(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pool_timeout=settings.database_pool_timeout,
        files=file_storage,
    )
    metrics.watch_pool(store.pool_state)
    if tracing is not None:
        tracing.trace_database(store.engine)
    attachment_store = files.create_attachment_store(settings, store, file_storage)
    server = AppChatKitServer(
        store,
        attachment_store,
        agent=build_entry_agent(answer_model),
        actions=discover_actions(),
        titles=TitleGenerator(
            gate.wrap(title_model or provider_model), run_config, settings.title_timeout
        ),
        run_config=run_config,
        history_items=settings.history_items,
        history_max_chars=settings.history_max_chars,
        remap_ids=uses_chat_completions(settings),
        attachment_reader=file_storage,
        limiter=limiter,
        metrics=metrics,
        model_name=model_name(settings),
    )
    authenticator = create_authenticator(settings)
    await store.initialize()
    return Services(
        settings,
        store,
        file_storage,
        attachment_store,
        authenticator,
        server,
        metrics,
        limiter,
        tracing,
        stop_metrics_server,
    )
