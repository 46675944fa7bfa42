"""Function tools, one module each, discovered at start-up and given to the agent they name.

Each module here (not starting with `_`) exposes:

- `TOOL`: the tool (an `@function_tool`), named like its module;
- `AGENT`: the agent that gets it: `"assistant"` (the entry agent) or a specialist's `NAME`;
- `CLIENT_TOOL = True`, optionally: the browser runs the tool. Its function sets
  `ctx.context.client_tool_call`; the agent stops there, ChatKit's `onClientTool` answers, and
  the answer continues when `threads.add_client_tool_output` brings the output.

A tool that must be approved by the user first is an ordinary tool declared with
`@function_tool(needs_approval=True)` (see `approvals.py`).
`chatkit-scaffold add-tool NAME [--client | --approval] [--agent AGENT]` creates one.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass

from agents import Agent, FunctionTool, StopAtTools

from ..context import ChatAgentContext

__all__ = ["ENTRY_AGENT", "ToolModule", "discover_tools", "with_tools"]

ENTRY_AGENT = "assistant"
"""The `AGENT` of tools that belong to the entry agent."""


@dataclass(frozen=True)
class ToolModule:
    """One discovered tool and who runs it."""

    module: str
    tool: FunctionTool
    agent: str
    client: bool


def discover_tools() -> list[ToolModule]:
    """Every module of this package, in name order; a malformed one stops start-up."""
    found: list[ToolModule] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        tool = getattr(module, "TOOL", None)
        agent = getattr(module, "AGENT", None)
        client = getattr(module, "CLIENT_TOOL", False)
        if not isinstance(tool, FunctionTool):
            raise RuntimeError(f"Tool module {module.__name__} needs TOOL = an @function_tool")
        if not isinstance(agent, str):
            raise RuntimeError(
                f"Tool module {module.__name__} needs AGENT = {ENTRY_AGENT!r} or the NAME of "
                "a specialist"
            )
        if not isinstance(client, bool):
            raise RuntimeError(f"{module.__name__}.CLIENT_TOOL must be True or False")
        found.append(ToolModule(module.__name__, tool, agent, client))
    return found


def with_tools(
    agent: Agent[ChatAgentContext], name: str, tools: Sequence[ToolModule]
) -> Agent[ChatAgentContext]:
    """A copy of `agent` with the tools whose `AGENT` is `name` (client tools stop its run)."""
    mine = [spec for spec in tools if spec.agent == name]
    if not mine:
        return agent
    names = [tool.name for tool in agent.tools] + [spec.tool.name for spec in mine]
    duplicates = sorted({tool for tool in names if names.count(tool) > 1})
    if duplicates:
        raise RuntimeError(f"Agent {name!r} has two tools named {', '.join(duplicates)}")
    client_tools = [spec.tool.name for spec in mine if spec.client]
    behavior = agent.tool_use_behavior
    if client_tools:
        if behavior != "run_llm_again":
            raise RuntimeError(
                f"Agent {name!r} sets its own tool_use_behavior, so it cannot also stop at "
                f"the client tools {', '.join(client_tools)}"
            )
        behavior = StopAtTools(stop_at_tool_names=client_tools)
    return agent.clone(
        tools=[*agent.tools, *(spec.tool for spec in mine)], tool_use_behavior=behavior
    )
