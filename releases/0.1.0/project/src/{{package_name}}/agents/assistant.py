"""The entry agent: answers directly, or hands off to a specialist."""

from __future__ import annotations

from collections.abc import Sequence

from agents import Agent, Handoff, Model

from ..context import ChatAgentContext
from .tools import current_time

NAME = "Assistant"

INSTRUCTIONS = """\
You are a helpful, concise assistant in a chat application.
Answer in the user's language and use Markdown when it helps readability.
Use the current_time tool when the user asks about the current date or time.
When a request clearly belongs to one of the specialists you can transfer to, transfer to it.
"""


def build_assistant(
    model: Model, handoffs: Sequence[Handoff[ChatAgentContext, Agent[ChatAgentContext]]]
) -> Agent[ChatAgentContext]:
    """The entry agent with its tools and the given handoffs."""
    return Agent[ChatAgentContext](
        name=NAME,
        instructions=INSTRUCTIONS,
        model=model,
        tools=[current_time],
        handoffs=list(handoffs),
    )
