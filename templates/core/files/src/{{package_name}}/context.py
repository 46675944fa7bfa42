"""The per-request context every store and agent call is scoped to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from chatkit.agents import AgentContext


@dataclass(frozen=True)
class RequestContext:
    """Who is asking, and in which language. Every store query is filtered by `user_id`.

    `locale` is the caller's preferred language (a BCP 47 tag such as `fr-CH`, from the
    `Accept-Language` header), or None when the request names none.
    """

    user_id: str
    locale: str | None = None


ChatAgentContext: TypeAlias = AgentContext[RequestContext]
"""The context agents and tools receive (`ctx.context` inside a tool)."""
