"""The per-request context every store and agent call is scoped to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from chatkit.agents import AgentContext


@dataclass(frozen=True)
class RequestContext:
    """Who is asking. Every store query is filtered by `user_id`."""

    user_id: str


ChatAgentContext: TypeAlias = AgentContext[RequestContext]
"""The context agents and tools receive (`ctx.context` inside a tool)."""
