"""The history sent to the model, bounded by a character budget (`HISTORY_MAX_CHARS`).

The newest `HISTORY_ITEMS` thread items are converted to model input; when that input is
larger than the budget, the oldest items are dropped first, then the input is made to start at
a user message, so that no tool output loses the call it answers. The newest item is always
kept (a message is already bounded by `MAX_REQUEST_BYTES`).
"""

from __future__ import annotations

import json

from agents import TResponseInputItem


def input_size(item: TResponseInputItem) -> int:
    """Characters of one input item as sent (inline attachments included)."""
    return len(json.dumps(item, default=str))


def within_budget(items: list[TResponseInputItem], max_chars: int) -> list[TResponseInputItem]:
    """The newest items of `items` that fit in `max_chars`, starting at a user message."""
    sizes = [input_size(item) for item in items]
    total = sum(sizes)
    start = 0
    while total > max_chars and start < len(items) - 1:
        total -= sizes[start]
        start += 1
    if start == 0:
        return items
    while start < len(items) - 1 and not _is_user_message(items[start]):
        start += 1
    return items[start:]


def _is_user_message(item: TResponseInputItem) -> bool:
    return isinstance(item, dict) and item.get("role") == "user"
