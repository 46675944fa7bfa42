"""The approval widget: the tool calls a paused run waits for, with Approve and Reject buttons."""

from __future__ import annotations

from typing import Literal

from chatkit.widgets import WidgetRoot
from pydantic import BaseModel

from . import load_template

TEMPLATE = load_template("approval")

DECIDE_ACTION = "approval.decide"
"""The buttons' action (handled by `actions/approval.py`)."""

ApprovalStatus = Literal["pending", "approved", "rejected", "expired"]

_STATUS: dict[ApprovalStatus, tuple[str, str]] = {
    "pending": ("Waiting for you", "warning"),
    "approved": ("Approved", "success"),
    "rejected": ("Rejected", "danger"),
    "expired": ("Expired: the conversation moved on", "secondary"),
}


class ToolCallView(BaseModel):
    """One tool call waiting for approval: its name and its JSON arguments."""

    tool: str
    arguments: str


class Approval(BaseModel):
    """The widget's data: which paused run it answers, its calls, and where it stands."""

    run_id: str
    calls: list[ToolCallView]
    status: ApprovalStatus = "pending"

    @property
    def title(self) -> str:
        names = ", ".join(dict.fromkeys(call.tool for call in self.calls))
        return f"Allow {names}?" if self.status == "pending" else names

    @property
    def copy_text(self) -> str:
        return f"{self.title} ({_STATUS[self.status][0]})"


def build_approval(approval: Approval) -> WidgetRoot:
    """The approval widget for this data (buttons only while it is pending)."""
    label, color = _STATUS[approval.status]
    return TEMPLATE.build(
        {
            "run_id": approval.run_id,
            "title": approval.title,
            "status": approval.status,
            "status_label": label,
            "status_color": color,
            "calls": [call.model_dump() for call in approval.calls],
        }
    )
