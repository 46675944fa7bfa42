"""Everything the app builds once at start-up, wired in one place, in dependency order.

Settings -> model provider -> file storage -> store -> attachment store -> agents and tools ->
widget actions -> server.
Nothing is changed after it is built; `Services.close()` releases what holds connections.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents import Model, RunConfig
from chatkit.store import AttachmentStore

from . import files
from .actions import discover_actions
from .agents import build_entry_agent
from .auth import Authenticator, create_authenticator
from .context import RequestContext
from .file_storage import FileStorage
from .llm_factory import configure_tracing, create_model, uses_chat_completions
from .model_limits import ModelGate
from .server import AppChatKitServer
from .settings import Settings
from .stores import AppStore, create_store
from .titles import TitleGenerator


@dataclass(frozen=True)
class Services:
    """What the routes use: kept on `app.state.services` while the app runs."""

    settings: Settings
    store: AppStore
    file_storage: FileStorage | None
    attachment_store: AttachmentStore[RequestContext] | None
    authenticator: Authenticator
    server: AppChatKitServer

    async def close(self) -> None:
        """Stop background titles, then release the store's connections (a later start
        reconnects)."""
        await self.server.close()
        await self.store.close()


async def start_services(
    settings: Settings, *, model: Model | None = None, title_model: Model | None = None
) -> Services:
    """Build every service from the settings and open the store (schema created if needed).

    `model` and `title_model` replace the provider's model (tests); injected models are never
    traced, and keep to the same deadlines as the provider's.
    """
    provider_model = model or create_model(settings)
    traced = model is None and configure_tracing(settings)
    # Every model call keeps to the deadlines and the concurrency bound (`model_limits`).
    gate = ModelGate.from_settings(settings)
    answer_model = gate.wrap(provider_model)
    run_config = RunConfig(tracing_disabled=not traced)
    file_storage = files.create_file_storage(settings)
    store = create_store(
        settings.database_url, pool_size=settings.database_pool_size, files=file_storage
    )
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
    )
    authenticator = create_authenticator(settings)
    await store.initialize()
    return Services(settings, store, file_storage, attachment_store, authenticator, server)
