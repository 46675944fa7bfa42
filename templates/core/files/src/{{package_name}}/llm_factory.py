"""The only place models are built: `create_model()` for the provider `LLM_PROVIDER` names.

Each module of `providers/` is one installed provider (`chatkit-scaffold add-provider NAME`
adds one). It exposes `NAME`, `DEFAULT_MODEL`, `USES_CHAT_COMPLETIONS`,
`create_model(settings, model_name)` and `tracing_key(settings)`.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Protocol, cast

from agents import Model, set_tracing_export_api_key

from . import providers
from .settings import Settings


class ProviderModule(Protocol):
    """What a module of `providers/` exposes."""

    NAME: str
    DEFAULT_MODEL: str
    USES_CHAT_COMPLETIONS: bool

    def create_model(self, settings: Settings, model_name: str) -> Model: ...

    def tracing_key(self, settings: Settings) -> str | None: ...


def installed_providers() -> dict[str, ProviderModule]:
    """Every provider module of `providers/`, by its `NAME`."""
    found: dict[str, ProviderModule] = {}
    for info in sorted(pkgutil.iter_modules(providers.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module: ModuleType = importlib.import_module(f"{providers.__name__}.{info.name}")
        provider = cast(ProviderModule, module)
        found[provider.NAME] = provider
    return found


def selected_provider(settings: Settings) -> ProviderModule:
    """The provider `LLM_PROVIDER` selects (settings only accept installed ones)."""
    return installed_providers()[settings.llm_provider]


def create_model(settings: Settings) -> Model:
    """Build the model for `LLM_PROVIDER` and `LLM_MODEL` (or the provider's default model)."""
    return selected_provider(settings).create_model(settings, model_name(settings))


def model_name(settings: Settings) -> str:
    """The name of the model `create_model()` builds (`LLM_MODEL` or the provider's default)."""
    return settings.llm_model or selected_provider(settings).DEFAULT_MODEL


def uses_chat_completions(settings: Settings) -> bool:
    """Chat Completions providers return no item ids (see `fake_ids`)."""
    return selected_provider(settings).USES_CHAT_COMPLETIONS


def configure_tracing(settings: Settings) -> bool:
    """Give the trace exporter its key when runs are traced; returns whether they are.

    Traces hold the conversation, so a provider only asks for them when the conversation goes
    to OpenAI anyway (or `OPENAI_TRACING=true` says so).
    """
    for provider in installed_providers().values():
        key = provider.tracing_key(settings)
        if key is not None:
            set_tracing_export_api_key(key)
            return True
    return False
