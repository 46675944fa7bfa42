"""OpenAI through the Responses API (`LLM_PROVIDER=openai`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from agents import Model, OpenAIResponsesModel
from openai import AsyncOpenAI

from ..settings import Settings
from . import client_timeout, required_secret, secret

NAME = "openai"
DEFAULT_MODEL = "gpt-4.1-mini"
USES_CHAT_COMPLETIONS = False

OPENAI_API_HOST = "api.openai.com"


def create_model(settings: Settings, model_name: str) -> Model:
    """A Responses API model on OPENAI_BASE_URL (OpenAI's own endpoint when unset)."""
    client = AsyncOpenAI(
        api_key=required_secret(settings.openai_api_key, "OPENAI_API_KEY"),
        base_url=settings.openai_base_url,
        timeout=client_timeout(settings),
    )
    return OpenAIResponsesModel(model=model_name, openai_client=client)


def is_openai_endpoint(base_url: str | None) -> bool:
    """True for OpenAI's API (the client's default when no base URL is set)."""
    return base_url is None or urlsplit(base_url).hostname == OPENAI_API_HOST


def tracing_key(settings: Settings) -> str | None:
    """OPENAI_API_KEY when runs are traced to the OpenAI dashboard, else None.

    Unless `OPENAI_TRACING` says otherwise, runs are traced only when OpenAI itself serves the
    model (provider openai on OpenAI's own endpoint); `OPENAI_TRACING=true` traces every run
    with OPENAI_API_KEY, so set it only when that key is OpenAI's.
    """
    if settings.openai_tracing is not None:
        enabled = settings.openai_tracing
    else:
        enabled = settings.llm_provider == NAME and is_openai_endpoint(settings.openai_base_url)
    return secret(settings.openai_api_key) if enabled else None
