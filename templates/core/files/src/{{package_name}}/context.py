"""The per-request context every store and agent call is scoped to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from chatkit.agents import AgentContext


@dataclass(frozen=True)
class RequestContext:
    """Who is asking, and in which language. Every store query is filtered by `user_id`.

    `locale` is the caller's preferred language (a BCP 47 tag such as `fr-CH`, from the
    `Accept-Language` header), or None when the request names none.
    """

    user_id: str
    locale: str | None = None


if TYPE_CHECKING:
    ChatAgentContext: TypeAlias = AgentContext[RequestContext]
    """The context agents and tools receive (`ctx.context` inside a tool)."""


def __getattr__(name: str) -> Any:
    # `ChatAgentContext` is built on first import of it: the Agents SDK takes seconds to import,
    # and the store, `python -m ...stores.migrate` and `python -m ...usage` need none of it.
    if name == "ChatAgentContext":
        from chatkit.agents import AgentContext

        alias = AgentContext[RequestContext]
        globals()[name] = alias
        return alias
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
