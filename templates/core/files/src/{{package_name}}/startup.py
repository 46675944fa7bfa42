"""Start-up failures caused by configuration, reported as plain lines instead of a traceback.

Starlette reports an exception of the lifespan to the server (uvicorn) with its full traceback.
For a `SettingsError`, which already names every variable that is missing or wrong, this
middleware sends the server its message alone; uvicorn logs it and exits with status 3
(it does not log the exception that follows a failure it was told about).
Anything else keeps its traceback: that is a bug to report, not a setting to fix.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .settings import SettingsError


class ConfigurationErrors:
    """ASGI middleware: a `SettingsError` at start-up fails the lifespan with its message only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold_failure(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                held.append(message)
                return
            await send(message)

        try:
            await self.app(scope, receive, hold_failure)
        except SettingsError as exc:
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            # Servers stop quietly once told the start failed; test clients wait for the error.
            raise
        except BaseException:
            for message in held:
                await send(message)
            raise
        for message in held:
            await send(message)
