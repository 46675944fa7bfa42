"""Any OpenAI-compatible Chat Completions server: Ollama, vLLM, LM Studio, OpenRouter.

`LLM_PROVIDER=openai-compatible`, `LLM_BASE_URL` (e.g. http://localhost:11434/v1), `LLM_MODEL`.
"""

from __future__ import annotations

from agents import Model, OpenAIChatCompletionsModel
from openai import AsyncOpenAI

from ..settings import Settings
from . import client_timeout, secret

NAME = "openai-compatible"
DEFAULT_MODEL = "llama3.1"
USES_CHAT_COMPLETIONS = True

# Local OpenAI-compatible servers (Ollama, vLLM, ...) ignore the key, but the client wants one.
PLACEHOLDER_API_KEY = "not-needed"


def create_model(settings: Settings, model_name: str) -> Model:
    """A Chat Completions model on LLM_BASE_URL (LLM_API_KEY only if the server wants one)."""
    client = AsyncOpenAI(
        api_key=secret(settings.llm_api_key) or PLACEHOLDER_API_KEY,
        base_url=settings.llm_base_url,
        timeout=client_timeout(settings),
    )
    return OpenAIChatCompletionsModel(model=model_name, openai_client=client)


def tracing_key(settings: Settings) -> str | None:
    """Runs on another server are never traced to OpenAI."""
    return None
