"""The data every backend of the bench starts with: the same threads and items, built the same way.

``Layout`` names the threads (pure: the client uses it without the SDK); ``threads()`` builds the
ChatKit objects (needs ``chatkit``: it runs inside a backend's environment). Every backend gets:

- one thread per size in ``sizes`` (100, 10k, 100k items: alternating user and assistant
  messages), for ``items.list`` and ``threads.get_by_id``;
- ``turn_threads`` titled threads holding one exchange each, for streamed turns (a titled
  thread asks no title of the model, so every turn is one model call on every backend);
- empty threads up to ``threads`` in all, for ``threads.list``.

Every thread belongs to the one user of the backends (``local``: auth ``none``; the quickstart
has no users at all).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chatkit.types import ThreadItem, ThreadMetadata

#: Seeded rows are dated from here on (naive, like the SDK's own timestamps), one second apart
#: per thread and one millisecond apart per item.
EPOCH = datetime(2025, 1, 1, 8, 0, 0)

USER_TEXT = "Could you summarise where the benchmark stands, and what changed since last week?"
ASSISTANT_TEXT = (
    "Here is where things stand: the figures are measured side by side in one run, every "
    "backend answers the same requests, and the table shows medians with their extremes."
)


@dataclass(frozen=True)
class Layout:
    """What to seed: how many threads, which sizes of large threads, how many turn threads."""

    threads: int = 1000
    sizes: tuple[int, ...] = (100, 10_000, 100_000)
    turn_threads: int = 300

    def __post_init__(self) -> None:
        if self.threads < len(self.sizes) + self.turn_threads:
            raise ValueError("threads must cover the sized threads and the turn threads")

    def sized_thread(self, size: int) -> str:
        """Id of the thread that holds ``size`` items."""
        return _thread_id(self.sizes.index(size))

    def turn_thread(self, index: int) -> str:
        """Id of turn thread ``index`` (0-based)."""
        if not 0 <= index < self.turn_threads:
            raise IndexError(index)
        return _thread_id(len(self.sizes) + index)

    @property
    def items(self) -> int:
        return sum(self.sizes) + 2 * self.turn_threads

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Layout:
        data = json.loads(text)
        return cls(data["threads"], tuple(data["sizes"]), data["turn_threads"])


def _thread_id(index: int) -> str:
    return f"thr_{index:032x}"


def _item_id(thread_index: int, index: int) -> str:
    return f"msg_{thread_index:08x}{index:024x}"


def threads(layout: Layout) -> Iterator[tuple[ThreadMetadata, Iterator[ThreadItem]]]:
    """Every seeded thread with (lazily) its items, in creation order."""
    from chatkit.types import ThreadMetadata

    for index in range(layout.threads):
        created = EPOCH + timedelta(seconds=index)
        if index < len(layout.sizes):
            title, count = f"Thread of {layout.sizes[index]} items", layout.sizes[index]
        elif index < len(layout.sizes) + layout.turn_threads:
            title, count = "Turns", 2
        else:
            title, count = f"Thread {index}", 0
        thread = ThreadMetadata(id=_thread_id(index), title=title, created_at=created)
        yield thread, _items(thread.id, index, created, count)


def _items(thread_id: str, thread_index: int, start: datetime, count: int) -> Iterator[ThreadItem]:
    from chatkit.types import (
        AssistantMessageContent,
        AssistantMessageItem,
        InferenceOptions,
        UserMessageItem,
        UserMessageTextContent,
    )

    for index in range(count):
        created = start + timedelta(milliseconds=index + 1)
        item_id = _item_id(thread_index, index)
        if index % 2 == 0:
            yield UserMessageItem(
                id=item_id,
                thread_id=thread_id,
                created_at=created,
                content=[UserMessageTextContent(text=USER_TEXT)],
                attachments=[],
                inference_options=InferenceOptions(),
            )
        else:
            yield AssistantMessageItem(
                id=item_id,
                thread_id=thread_id,
                created_at=created,
                content=[AssistantMessageContent(text=ASSISTANT_TEXT)],
            )
