"""The user's language: read from `Accept-Language`, passed on to the agents' instructions."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Annotated

from agents import Agent, RunContextWrapper
from fastapi import Depends, Request

from .auth import get_request_context
from .context import ChatAgentContext, RequestContext

# A BCP 47 language tag, as browsers send them (`en`, `fr-CH`, `zh-Hant-TW`): nothing else
# from the header ever reaches the model's instructions.
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,4}$")
_MAX_HEADER_LENGTH = 1000

Instructions = Callable[[RunContextWrapper[ChatAgentContext], Agent[ChatAgentContext]], str]


def preferred_locale(accept_language: str | None) -> str | None:
    """The language the header prefers most (highest `q`, then first), or None.

    `*`, malformed tags and tags with `q=0` are skipped.
    """
    if not accept_language or len(accept_language) > _MAX_HEADER_LENGTH:
        return None
    best: tuple[float, int, str] | None = None
    for position, entry in enumerate(accept_language.split(",")):
        tag, _, params = entry.strip().partition(";")
        tag = tag.strip()
        if not _LANGUAGE_TAG.match(tag):
            continue
        weight = _quality(params)
        if weight <= 0:
            continue
        candidate = (-weight, position, tag)
        if best is None or candidate < best:
            best = candidate
    return best[2] if best is not None else None


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


async def get_chat_context(
    request: Request, context: Annotated[RequestContext, Depends(get_request_context)]
) -> RequestContext:
    """FastAPI dependency: the caller's context with the language its request prefers."""
    return replace(context, locale=preferred_locale(request.headers.get("accept-language")))


def localized(instructions: str) -> Instructions:
    """Instructions that also ask the model to answer in the user's preferred language."""

    def render(wrapper: RunContextWrapper[ChatAgentContext], agent: Agent[ChatAgentContext]) -> str:
        locale = wrapper.context.request_context.locale
        if locale is None:
            return instructions
        return (
            f"{instructions}\nThe user's preferred language (from their browser) is {locale}: "
            "answer in that language unless the user writes in another one.\n"
        )

    return render
