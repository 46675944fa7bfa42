"""Who is calling. Auth is off ("none"): every request is the same local user.

`create_authenticator()` runs at start-up and `get_request_context` is the FastAPI dependency of
every protected route; an authenticator that checks credentials slots in behind the same names.
"""

from __future__ import annotations

from fastapi import Request

from .context import RequestContext
from .settings import Settings

LOCAL_USER_ID = "local"


class Authenticator:
    """Resolves a request to its user; without auth, always the local user."""

    async def authenticate(self, request: Request) -> RequestContext:
        return RequestContext(user_id=LOCAL_USER_ID)


def create_authenticator(settings: Settings) -> Authenticator:
    """The authenticator for these settings (built once, at start-up)."""
    return Authenticator()


async def get_request_context(request: Request) -> RequestContext:
    """FastAPI dependency: the caller's context."""
    authenticator: Authenticator = request.app.state.services.authenticator
    return await authenticator.authenticate(request)
