"""Thread titles: a short model-written title, or the start of the user's text."""

from __future__ import annotations

import asyncio
import logging

from agents import Agent, Model, RunConfig, Runner

logger = logging.getLogger(__name__)

FALLBACK_LENGTH = 40
# The start of a message says what it is about; a long paste need not all go to the model.
TITLE_INPUT_LENGTH = 2000
MAX_TITLE_LENGTH = 80
UNTITLED = "New conversation"
QUOTES = "\"'`*#\u2018\u2019\u201c\u201d"

TITLE_INSTRUCTIONS = (
    "Write a title of at most six words for a conversation that starts with the user's "
    "message. Answer with the title only: no quotes, no trailing punctuation."
)


def fallback_title(text: str) -> str:
    """The first ~40 characters of the text, cut at a word boundary when possible."""
    words = " ".join(text.split())
    if not words:
        return UNTITLED
    if len(words) <= FALLBACK_LENGTH:
        return words
    cut = words[:FALLBACK_LENGTH]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:-") + "…"


def _clean(title: str) -> str:
    title = " ".join(title.split()).strip(QUOTES).strip().rstrip(".")
    return title[:MAX_TITLE_LENGTH].rstrip()


class TitleGenerator:
    """Generates a title with a small agent within `timeout` seconds; never fails (falls back
    to the user's text)."""

    def __init__(self, model: Model, run_config: RunConfig, timeout: float) -> None:
        self._agent: Agent[None] = Agent(
            name="Title writer", instructions=TITLE_INSTRUCTIONS, model=model
        )
        self._run_config = run_config
        self._timeout = timeout

    async def generate(self, user_text: str) -> str:
        if not user_text.strip():
            return UNTITLED
        try:
            async with asyncio.timeout(self._timeout):
                result = await Runner.run(
                    self._agent, user_text[:TITLE_INPUT_LENGTH], run_config=self._run_config
                )
            title = _clean(str(result.final_output))
        except Exception:
            logger.warning("Title generation failed; using the start of the message", exc_info=True)
            return fallback_title(user_text)
        return title or fallback_title(user_text)
