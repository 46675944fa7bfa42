"""Runs paused until the user approves a tool call (tools with `needs_approval`).

When a run stops on tool calls that need approval, the server streams an approval widget (the
tool names and arguments, Approve and Reject buttons) and stores the paused run: the Agents
SDK's `RunState`, serialised, in a `HiddenContextItem` of the thread. Hidden items are stored
with the thread's items (so scoped to its user, like every item), are never sent to the client,
and are skipped when the history goes to the model. The state holds the run's input, so it is
as large as the history sent to the model; it is read only when the user answers and deleted
as soon as the run resumes, or when a newer answer makes it moot (it then shows as expired).

Any process sharing the database can resume it: the state is rebuilt with the same agents.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from agents import Agent, RunContextWrapper, RunState, ToolApprovalItem
from chatkit.store import Store
from chatkit.types import (
    HiddenContextItem,
    ThreadItem,
    ThreadItemDoneEvent,
    ThreadMetadata,
    WidgetItem,
)
from pydantic import BaseModel

from .context import ChatAgentContext, RequestContext
from .widgets.approval import Approval, ApprovalStatus, ToolCallView, build_approval

PAUSED_RUN = "paused_run"

REJECTION_MESSAGE = "The user rejected this tool call, so it did not run."
"""What the model receives instead of the output of a rejected call."""


class PausedRun(BaseModel):
    """What a `HiddenContextItem` holds for a paused run."""

    kind: Literal["paused_run"] = "paused_run"
    widget_id: str
    calls: list[ToolCallView]
    state: dict[str, Any]


def paused_run_of(item: ThreadItem) -> PausedRun | None:
    """The paused run an item holds, or None for any other item."""
    if not isinstance(item, HiddenContextItem) or not isinstance(item.content, Mapping):
        return None
    if item.content.get("kind") != PAUSED_RUN:
        return None
    return PausedRun.model_validate(item.content)


def calls_of(interruptions: Sequence[ToolApprovalItem]) -> list[ToolCallView]:
    """The tool calls waiting for approval, as the widget shows them."""
    views: list[ToolCallView] = []
    for interruption in interruptions:
        arguments = getattr(interruption.raw_item, "arguments", None)
        if isinstance(interruption.raw_item, Mapping):
            arguments = interruption.raw_item.get("arguments")
        views.append(
            ToolCallView(tool=interruption.tool_name or "tool", arguments=_compact(arguments))
        )
    return views


def _compact(arguments: object) -> str:
    if not isinstance(arguments, str):
        return json.dumps(arguments, ensure_ascii=False)
    try:
        return json.dumps(json.loads(arguments), ensure_ascii=False)
    except ValueError:
        return arguments


def pause_items(
    state: RunState[ChatAgentContext, Agent[ChatAgentContext]],
    interruptions: Sequence[ToolApprovalItem],
    thread: ThreadMetadata,
    store: Store[RequestContext],
    context: RequestContext,
) -> tuple[WidgetItem, HiddenContextItem]:
    """The approval widget and the hidden item holding the paused run, ready to stream."""
    widget_id = store.generate_item_id("message", thread, context)
    run_id = store.generate_item_id("message", thread, context)
    approval = Approval(run_id=run_id, calls=calls_of(interruptions))
    now = datetime.now()
    widget = WidgetItem(
        id=widget_id,
        thread_id=thread.id,
        created_at=now,
        widget=build_approval(approval),
        copy_text=approval.copy_text,
    )
    # The context (store, thread) is rebuilt on resume, so none of it is serialised.
    serialised = state.to_json(context_serializer=lambda _: {})
    paused = PausedRun(widget_id=widget_id, calls=approval.calls, state=serialised)
    hidden = HiddenContextItem(
        id=run_id, thread_id=thread.id, created_at=now, content=paused.model_dump(mode="json")
    )
    return widget, hidden


def pause_events(widget: WidgetItem, hidden: HiddenContextItem) -> list[ThreadItemDoneEvent]:
    """Both items as events: ChatKit stores them, and sends the widget only."""
    return [ThreadItemDoneEvent(item=widget), ThreadItemDoneEvent(item=hidden)]


def decided_widget(
    widget: WidgetItem, run_id: str, paused: PausedRun, status: ApprovalStatus
) -> WidgetItem:
    """The approval widget once answered (or expired): no buttons any more."""
    approval = Approval(run_id=run_id, calls=paused.calls, status=status)
    return widget.model_copy(
        update={"widget": build_approval(approval), "copy_text": approval.copy_text}
    )


async def restore(
    agent: Agent[ChatAgentContext],
    paused: PausedRun,
    agent_context: ChatAgentContext,
    approved: bool,
) -> RunState[ChatAgentContext, Agent[ChatAgentContext]]:
    """The paused run, rebuilt on `agent` with its calls approved or rejected."""
    state: RunState[ChatAgentContext, Agent[ChatAgentContext]] = await RunState.from_json(
        agent, paused.state, context_override=RunContextWrapper(context=agent_context)
    )
    for interruption in state.get_interruptions():
        if approved:
            state.approve(interruption)
        else:
            state.reject(interruption, rejection_message=REJECTION_MESSAGE)
    return state
