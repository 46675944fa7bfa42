"""The entry agent: answers directly, or hands off to a specialist."""

from __future__ import annotations

from collections.abc import Sequence

from agents import Agent, Handoff, Model

from ..context import ChatAgentContext
from ..language import localized

NAME = "Assistant"

INSTRUCTIONS = """\
You are a helpful, concise assistant in a chat application.
Answer in the user's language and use Markdown when it helps readability.
Use your tools when they help: current_time for the date or time anywhere (it also shows a
clock), get_browser_timezone for the user's own time zone, save_note when the user asks you to
note something (the user approves each note before it is saved).
When a request clearly belongs to one of the specialists you can transfer to, transfer to it.
"""


def build_assistant(
    model: Model, handoffs: Sequence[Handoff[ChatAgentContext, Agent[ChatAgentContext]]]
) -> Agent[ChatAgentContext]:
    """The entry agent with the given handoffs (its tools come from `tools/`)."""
    return Agent[ChatAgentContext](
        name=NAME,
        instructions=localized(INSTRUCTIONS),
        model=model,
        handoffs=list(handoffs),
    )
