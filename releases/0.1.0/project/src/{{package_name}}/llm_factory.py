"""The only place models are built: `create_model()` for the configured provider."""

from __future__ import annotations

from urllib.parse import urlsplit

from agents import (
    Model,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    set_tracing_export_api_key,
)
from openai import AsyncOpenAI
from pydantic import SecretStr

from .settings import Provider, Settings

CHAT_COMPLETIONS_PROVIDERS: frozenset[Provider] = frozenset(
    {"gemini", "litellm", "openai-compatible"}
)

OPENAI_API_HOST = "api.openai.com"

# Local OpenAI-compatible servers (Ollama, vLLM, ...) ignore the key, but the client wants one.
PLACEHOLDER_API_KEY = "not-needed"


def uses_chat_completions(provider: Provider) -> bool:
    """Chat Completions providers return no item ids (see `fake_ids`)."""
    return provider in CHAT_COMPLETIONS_PROVIDERS


def tracing_enabled(settings: Settings) -> bool:
    """Whether runs are traced to the OpenAI dashboard.

    Traces hold the conversation, so unless `OPENAI_TRACING` says otherwise they are exported
    only when OpenAI itself serves the model: provider openai on OpenAI's own endpoint.
    """
    if settings.openai_tracing is not None:
        return settings.openai_tracing
    return settings.llm_provider == "openai" and is_openai_endpoint(settings.openai_base_url)


def is_openai_endpoint(base_url: str | None) -> bool:
    """True for OpenAI's API (the client's default when no base URL is set)."""
    return base_url is None or urlsplit(base_url).hostname == OPENAI_API_HOST


def configure_tracing(settings: Settings) -> bool:
    """Give the trace exporter its key when runs are traced; returns whether they are.

    The key is OPENAI_API_KEY, which is OpenAI's own when tracing is automatic; with
    OPENAI_TRACING=true the operator vouches for it.
    """
    if not tracing_enabled(settings):
        return False
    set_tracing_export_api_key(_required(settings.openai_api_key, "OPENAI_API_KEY"))
    return True


def create_model(settings: Settings) -> Model:
    """Build the model for `LLM_PROVIDER` / `LLM_MODEL`."""
    match settings.llm_provider:
        case "openai":
            client = AsyncOpenAI(
                api_key=_required(settings.openai_api_key, "OPENAI_API_KEY"),
                base_url=settings.openai_base_url,
            )
            return OpenAIResponsesModel(model=settings.model_name, openai_client=client)
        case "gemini":
            client = AsyncOpenAI(
                api_key=_required(settings.gemini_api_key, "GEMINI_API_KEY"),
                base_url=settings.gemini_base_url,
            )
            return OpenAIChatCompletionsModel(model=settings.model_name, openai_client=client)
        case "openai-compatible":
            client = AsyncOpenAI(
                api_key=_secret(settings.llm_api_key) or PLACEHOLDER_API_KEY,
                base_url=settings.llm_base_url,
            )
            return OpenAIChatCompletionsModel(model=settings.model_name, openai_client=client)
        case "litellm":
            return _litellm_model(settings)


def _litellm_model(settings: Settings) -> Model:
    try:
        # Imported here: it needs the `openai-agents[litellm]` extra, which only projects
        # generated for LiteLLM install.
        from agents.extensions.models.litellm_model import LitellmModel
    except ImportError as exc:
        raise RuntimeError(
            "LLM_PROVIDER=litellm needs LiteLLM: uv add 'openai-agents[litellm]'"
        ) from exc
    return LitellmModel(
        model=settings.model_name,
        base_url=settings.llm_base_url,
        api_key=_secret(settings.llm_api_key),
    )


def _required(value: SecretStr | None, name: str) -> str:
    # Settings already refuse to start without it; this keeps the factory safe on its own.
    if value is None:
        raise RuntimeError(f"{name} is required for this LLM_PROVIDER")
    return value.get_secret_value()


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
