"""Any model LiteLLM supports (`LLM_PROVIDER=litellm`, `LLM_MODEL=anthropic/claude-...`).

LiteLLM reads each provider's own key variable (ANTHROPIC_API_KEY, GEMINI_API_KEY, ...);
`LLM_API_KEY` and `LLM_BASE_URL` override them when set.
"""

from __future__ import annotations

from agents import Model
from agents.extensions.models.litellm_model import LitellmModel

from ..settings import Settings
from . import secret

NAME = "litellm"
DEFAULT_MODEL = "openai/gpt-4.1-mini"
USES_CHAT_COMPLETIONS = True


def create_model(settings: Settings, model_name: str) -> Model:
    """A LiteLLM model (its Chat Completions converter, so `fake_ids` applies)."""
    return LitellmModel(
        model=model_name, base_url=settings.llm_base_url, api_key=secret(settings.llm_api_key)
    )


def tracing_key(settings: Settings) -> str | None:
    """Runs through LiteLLM are never traced to OpenAI."""
    return None
