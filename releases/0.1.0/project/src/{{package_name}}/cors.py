"""CORS from the settings, which are only known once the app has started."""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from .settings import Settings


class SettingsCORSMiddleware:
    """Applies `CORS_ORIGINS` (explicit origins, credentials allowed); no CORS when empty.

    Middleware is fixed when the app is built, before the lifespan reads the settings, so the
    real `CORSMiddleware` is created on the first request from `app.state.settings`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._cors: CORSMiddleware | None = None
        self._origins: list[str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings: Settings = scope["app"].state.settings
        if not settings.cors_origins:
            await self.app(scope, receive, send)
            return
        if self._cors is None or self._origins != settings.cors_origins:
            self._origins = list(settings.cors_origins)
            self._cors = CORSMiddleware(
                self.app,
                allow_origins=self._origins,
                allow_credentials=True,
                allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
                allow_headers=["*"],
            )
        await self._cors(scope, receive, send)
