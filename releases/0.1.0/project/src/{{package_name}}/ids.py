"""Identifiers for threads, items and attachments.

The SDK's default ids carry only 32 random bits (8 hex characters), which makes collisions
likely after tens of thousands of rows. These keep the SDK's prefixes (``thr_``, ``msg_``,
``atc_``, ...) and add a full uuid4.
"""

from __future__ import annotations

import uuid

from chatkit.store import StoreItemType

PREFIXES: dict[StoreItemType, str] = {
    "thread": "thr",
    "message": "msg",
    "tool_call": "tc",
    "task": "tsk",
    "workflow": "wf",
    "attachment": "atc",
    "sdk_hidden_context": "shcx",
}


def new_id(kind: StoreItemType) -> str:
    """Return a new id for ``kind``, e.g. ``thr_`` followed by 32 hex characters."""
    return f"{PREFIXES[kind]}_{uuid.uuid4().hex}"
