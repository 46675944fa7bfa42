"""`approval.decide`: the Approve and Reject buttons of the approval widget.

The run paused for approval resumes with its tool calls approved or rejected (see
`approvals.py`); a rejected call reaches the model as rejected.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from chatkit.types import ThreadStreamEvent
from pydantic import BaseModel

from ..widgets.approval import DECIDE_ACTION
from . import ActionCall, StreamedAction


class Decision(BaseModel):
    """Which paused run the widget answers, and the user's answer."""

    run_id: str
    approved: bool


async def decide(call: ActionCall[Decision]) -> AsyncIterator[ThreadStreamEvent]:
    """Resume the paused run with the user's decision."""
    decision = call.payload
    async for event in call.conversation.resume(
        call.thread, call.widget, decision.run_id, decision.approved, call.context
    ):
        yield event


HANDLER = StreamedAction(DECIDE_ACTION, Decision, decide)
