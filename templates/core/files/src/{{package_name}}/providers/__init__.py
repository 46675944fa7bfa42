"""The model providers installed in this project, one module each (see `llm_factory`)."""

from __future__ import annotations

from openai import Timeout
from pydantic import SecretStr

from ..settings import Settings


def secret(value: SecretStr | None) -> str | None:
    """The text of an optional secret setting."""
    return value.get_secret_value() if value is not None else None


def required_secret(value: SecretStr | None, name: str) -> str:
    """The text of a secret the selected provider needs (settings already require it)."""
    if value is None:
        raise RuntimeError(f"{name} is required for this LLM_PROVIDER")
    return value.get_secret_value()


def client_timeout(settings: Settings) -> Timeout:
    """The HTTP deadlines of a model client: MODEL_CONNECT_TIMEOUT to connect, and
    MODEL_TOTAL_TIMEOUT for the rest (`model_limits` enforces the finer deadlines)."""
    return Timeout(settings.model_total_timeout, connect=settings.model_connect_timeout)
