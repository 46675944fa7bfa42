"""`save_note`: a tool that runs only once the user approves it (human in the loop).

`needs_approval=True` pauses the run before the tool runs: the user sees an approval widget
with the tool's name and arguments (`approvals.py`), and the run resumes when they approve or
reject it, even after a restart of the server.
"""

from __future__ import annotations

from agents import RunContextWrapper, function_tool

from ..context import ChatAgentContext

AGENT = "assistant"

NOTES_METADATA_KEY = "notes"
MAX_NOTES = 50
MAX_NOTE_LENGTH = 500


@function_tool(needs_approval=True)
async def save_note(ctx: RunContextWrapper[ChatAgentContext], text: str) -> str:
    """Save a short note in this conversation, for later. The user approves each note first.

    Args:
        text: The note, in a sentence or two.
    """
    thread = ctx.context.thread
    notes = [str(note) for note in thread.metadata.get(NOTES_METADATA_KEY) or []]
    if len(notes) >= MAX_NOTES:
        return f"Not saved: this conversation already holds {MAX_NOTES} notes."
    notes.append(text[:MAX_NOTE_LENGTH])
    # Thread metadata is server-only; ChatKit saves the thread when it changes.
    thread.metadata[NOTES_METADATA_KEY] = notes
    return f"Saved note {len(notes)}: {text[:MAX_NOTE_LENGTH]}"


TOOL = save_note
