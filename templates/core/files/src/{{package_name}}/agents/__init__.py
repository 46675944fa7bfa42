"""The agents: the entry agent and the specialists it hands off to, each with its tools."""

from __future__ import annotations

import importlib
import pkgutil

from agents import Agent, Handoff, Model, handoff

from ..context import ChatAgentContext
from ..tools import ENTRY_AGENT, ToolModule, discover_tools, with_tools
from . import specialists
from .assistant import build_assistant

__all__ = ["build_entry_agent", "build_specialist_handoffs"]

SPECIALIST_ATTRIBUTES = ("NAME", "HANDOFF_DESCRIPTION", "build_agent")


def build_entry_agent(model: Model) -> Agent[ChatAgentContext]:
    """The agent every turn starts with, able to hand off to every specialist.

    Each agent gets the tools of `tools/` whose `AGENT` names it.
    """
    tools = discover_tools()
    handoffs = build_specialist_handoffs(model, tools)
    known = {ENTRY_AGENT, *(h.tool_name.removeprefix("transfer_to_") for h in handoffs)}
    for spec in tools:
        if spec.agent not in known:
            raise RuntimeError(
                f"Tool module {spec.module} names AGENT {spec.agent!r}, which is not an agent "
                f"of this project ({', '.join(sorted(known))})"
            )
    return with_tools(build_assistant(model, handoffs), ENTRY_AGENT, tools)


def build_specialist_handoffs(
    model: Model, tools: list[ToolModule] | None = None
) -> list[Handoff[ChatAgentContext, Agent[ChatAgentContext]]]:
    """One handoff per module in `agents/specialists/`, in name order, with its tools."""
    handoffs: list[Handoff[ChatAgentContext, Agent[ChatAgentContext]]] = []
    for info in sorted(pkgutil.iter_modules(specialists.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{specialists.__name__}.{info.name}")
        missing = [name for name in SPECIALIST_ATTRIBUTES if not hasattr(module, name)]
        if missing:
            raise RuntimeError(f"Specialist module {module.__name__} lacks {', '.join(missing)}")
        agent = module.build_agent(model)
        if not isinstance(agent, Agent):
            raise RuntimeError(f"{module.__name__}.build_agent() must return an agents.Agent")
        handoffs.append(
            handoff(
                with_tools(agent, str(module.NAME), tools or []),
                tool_name_override=f"transfer_to_{module.NAME}",
                tool_description_override=str(module.HANDOFF_DESCRIPTION),
            )
        )
    return handoffs
