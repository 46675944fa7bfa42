"""The model providers installed in this project, one module each (see `llm_factory`)."""

from __future__ import annotations

from pydantic import SecretStr


def secret(value: SecretStr | None) -> str | None:
    """The text of an optional secret setting."""
    return value.get_secret_value() if value is not None else None


def required_secret(value: SecretStr | None, name: str) -> str:
    """The text of a secret the selected provider needs (settings already require it)."""
    if value is None:
        raise RuntimeError(f"{name} is required for this LLM_PROVIDER")
    return value.get_secret_value()
