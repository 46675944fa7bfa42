"""The ChatKit console: a self-contained page at `GET /console` that talks to `POST /chatkit`.

The page (`console.html`, shipped in this package) is plain HTML, CSS and JavaScript: no CDN, no
build step, nothing downloaded when it runs. It holds no secret; a bearer token typed into it
stays in the tab's sessionStorage and is only sent to this origin's `/chatkit`.

Who gets it (`CONSOLE_ENABLED`):
- `true`: every request (use it only where the app is not reachable by strangers);
- `false`: nobody (404, like any unknown path); the Docker image sets this;
- unset (the default): only requests made on this machine to a loopback address: the peer
  address, the address the connection arrived on and the `Host` header must all be loopback
  (`127.0.0.0/8`, `::1`, `localhost`). A server bound to `0.0.0.0` therefore still refuses the
  page to other machines, to a reverse proxy that forwards (with `--proxy-headers`) or rewrites
  the `Host`, and to DNS-rebinding pages whose `Host` is their own domain.

Every answer carries a strict Content-Security-Policy with a fresh nonce for the page's one
inline script and style: the page can only talk to this origin, plus the origins the file store
says uploads and previews are served from (`PUBLIC_BASE_URL` for the local file store,
`S3_ENDPOINT_URL` or `*.amazonaws.com` for S3), and Trusted Types forbid any HTML string reaching
the DOM.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from ..services import Services

__all__ = ["console_allowed", "router"]

router = APIRouter()

PACKAGE = __name__.split(".")[0]
NONCE_MARK = "__CONSOLE_NONCE__"
CONFIG_MARK = "__CONSOLE_CONFIG__"


@router.get("/console", include_in_schema=False)
async def console_page(request: Request) -> HTMLResponse:
    """The console page, or 404 when the console is off for this request."""
    services: Services = request.app.state.services
    if not console_allowed(request, services.settings.console_enabled):
        raise HTTPException(status_code=404, detail="Not Found")
    storage = services.file_storage
    uploads = services.attachment_store is not None and storage is not None
    file_origins = list(storage.browser_origins) if storage is not None and uploads else []
    app_origin = storage.app_origin if storage is not None else None
    nonce = secrets.token_urlsafe(18)
    config = {
        "project": request.app.title,
        "package": PACKAGE,
        "uploads": uploads,
        "file_origins": file_origins,
        "public_origin": app_origin or str(request.base_url).rstrip("/"),
        "devtoken_command": f"uv run python -m {PACKAGE}.devtoken USER",
    }
    # The nonce goes in first: the config, inserted last, is never searched for markers.
    html = page_source().replace(NONCE_MARK, nonce).replace(CONFIG_MARK, json_for_html(config))
    return HTMLResponse(html, headers=security_headers(nonce, file_origins))


def console_allowed(request: Request, enabled: bool | None) -> bool:
    """Whether this request may see the console (see the module docstring)."""
    if enabled is not None:
        return enabled
    client = request.client.host if request.client else None
    server = request.scope.get("server")
    local_address = server[0] if server else None
    host = urlsplit(f"//{request.headers.get('host', '')}").hostname
    return all(is_loopback(name) for name in (client, local_address, host))


def is_loopback(host: str | None) -> bool:
    """Whether `host` (an address or a name) is this machine's loopback."""
    if not host:
        return False
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def security_headers(nonce: str, file_origins: list[str]) -> dict[str, str]:
    """Headers of the page: the Content-Security-Policy and friends."""
    others = " ".join(file_origins)
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src 'nonce-{nonce}'",
            f"style-src 'nonce-{nonce}'",
            f"connect-src 'self' {others}".strip(),
            f"img-src 'self' data: {others}".strip(),
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        ]
    )
    return {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


def json_for_html(value: Any) -> str:
    """`value` as JSON that is safe inside a `<script type="application/json">` element."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@cache
def page_source() -> str:
    """The page as shipped, with its nonce and config markers still in place."""
    return resources.files(__name__).joinpath("console.html").read_text(encoding="utf-8")
