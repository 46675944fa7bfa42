"""`get_browser_timezone`: a client tool, run by the browser (ChatKit's `onClientTool`).

The run stops at this tool; the page answers `{"timezone": "Europe/Paris"}` with
`threads.add_client_tool_output`, and the answer continues with that output.
"""

from __future__ import annotations

from agents import RunContextWrapper, function_tool
from chatkit.agents import ClientToolCall

from ..context import ChatAgentContext

AGENT = "assistant"
CLIENT_TOOL = True


@function_tool
async def get_browser_timezone(ctx: RunContextWrapper[ChatAgentContext]) -> str:
    """Ask the user's browser for its IANA time zone (the user's own time zone)."""
    ctx.context.client_tool_call = ClientToolCall(name="get_browser_timezone", arguments={})
    return "Asked the browser for its time zone."


TOOL = get_browser_timezone
