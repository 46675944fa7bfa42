"""The API's OpenAPI description and its docs pages, served only when `API_DOCS=true`.

They describe every route to whoever asks, so they are off by default (404, like any unknown
path); turn them on for development. The app is built with FastAPI's own docs routes switched
off, and these check the setting on each request, since settings are read at start-up.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from .api import current_services
from .services import Services

router = APIRouter(include_in_schema=False)


def docs_enabled(services: Annotated[Services, Depends(current_services)]) -> None:
    """404 unless the docs are on."""
    if not services.settings.api_docs:
        raise HTTPException(status_code=404, detail="Not Found")


Enabled = Depends(docs_enabled)


@router.get("/openapi.json", dependencies=[Enabled])
async def openapi(request: Request) -> dict[str, Any]:
    """The OpenAPI description of the app."""
    schema: dict[str, Any] = request.app.openapi()
    return schema


@router.get("/docs", dependencies=[Enabled])
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI for the OpenAPI description."""
    return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{request.app.title} API")


@router.get("/redoc", dependencies=[Enabled])
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc for the OpenAPI description."""
    return get_redoc_html(openapi_url="/openapi.json", title=f"{request.app.title} API")
