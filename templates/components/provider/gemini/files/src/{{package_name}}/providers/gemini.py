"""Gemini through Google's OpenAI-compatible Chat Completions endpoint (`LLM_PROVIDER=gemini`)."""

from __future__ import annotations

from agents import Model, OpenAIChatCompletionsModel
from openai import AsyncOpenAI

from ..settings import Settings
from . import client_timeout, required_secret

NAME = "gemini"
DEFAULT_MODEL = "gemini-2.5-flash"
USES_CHAT_COMPLETIONS = True


def create_model(settings: Settings, model_name: str) -> Model:
    """A Chat Completions model on GEMINI_BASE_URL with GEMINI_API_KEY."""
    client = AsyncOpenAI(
        api_key=required_secret(settings.gemini_api_key, "GEMINI_API_KEY"),
        base_url=settings.gemini_base_url,
        timeout=client_timeout(settings),
    )
    return OpenAIChatCompletionsModel(model=model_name, openai_client=client)


def tracing_key(settings: Settings) -> str | None:
    """Runs on Gemini are never traced to OpenAI."""
    return None
