"""What an answer stopped by the user (or a closed connection) leaves: the text streamed so far,
a visible "Answer stopped" marker, and no log noise.

The HTTP server cancels the request's task when the client goes away; under Starlette that
cancellation is repeated at every await, so saving anything afterwards needs a shield.
"""

from __future__ import annotations

import logging
from datetime import datetime

from chatkit.types import CustomTask, TaskItem, ThreadMetadata

STOPPED_TITLE = "Answer stopped"
SAVE_SECONDS = 5.0
"""At most this long is spent saving a stopped answer (the client has already gone)."""


def stopped_marker(thread: ThreadMetadata, item_id: str) -> TaskItem:
    """The item shown after a stopped answer (the model reads it as a task shown to the user)."""
    return TaskItem(
        id=item_id,
        thread_id=thread.id,
        created_at=datetime.now(),
        task=CustomTask(title=STOPPED_TITLE, icon="info"),
    )


class StoppedStreamNoise(logging.Filter):
    """Drops asyncio's "Task exception was never retrieved" for `StopAsyncIteration`.

    When a stream stops, the ChatKit SDK's merge of the run's events with the tools' events
    leaves its two `__anext__` tasks behind; they end with `StopAsyncIteration` and asyncio
    reports each as an ERROR. Any other unretrieved exception is still logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.getMessage().startswith("Task exception was never retrieved"):
            return True
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, StopAsyncIteration)
