"""Who is calling: `Authorization: Bearer <JWT>`, whose `sub` claim is the user id.

Tokens are HS256 (or HS384/HS512) signed with `JWT_SECRET`, or RS256 (RS384, RS512, ES256,
ES384, PS256) verified with the key set at `JWKS_URL`. `exp` and `sub` are required; `iss` and
`aud` are checked when `JWT_ISSUER` / `JWT_AUDIENCE` are set. Anything else is a 401.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
from fastapi import Request

from .context import RequestContext
from .errors import ApiError
from .settings import Settings

logger = logging.getLogger(__name__)

JWKS_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "PS256"})
LEEWAY_SECONDS = 30
NUMERIC_CLAIMS = ("exp", "nbf", "iat")
JWKS_TIMEOUT_SECONDS = 5.0
JWKS_MAX_BYTES = 1_000_000
JWKS_MAX_AGE_SECONDS = 3600.0
# An unknown `kid` triggers a refetch (keys rotate), but at most this often: random kids must
# not turn every request into a call to the identity provider.
JWKS_MIN_REFRESH_SECONDS = 30.0

JwksFetcher = Callable[[str], Awaitable[dict[str, Any]]]


class Unauthorized(ApiError):
    """401 with the `WWW-Authenticate` challenge of bearer tokens."""

    def __init__(self, message: str) -> None:
        super().__init__(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


async def fetch_jwks(url: str) -> dict[str, Any]:
    """Download a JSON Web Key Set (in a thread: urllib blocks), within JWKS_TIMEOUT_SECONDS in
    all: urllib's own timeout applies to each read, so a server that trickles would hold it."""

    def download() -> dict[str, Any]:
        with urllib.request.urlopen(url, timeout=JWKS_TIMEOUT_SECONDS) as response:
            body = response.read(JWKS_MAX_BYTES + 1)
        if len(body) > JWKS_MAX_BYTES:
            raise ValueError(f"the JWKS at {url} is over {JWKS_MAX_BYTES} bytes")
        data: dict[str, Any] = json.loads(body)
        return data

    async with asyncio.timeout(JWKS_TIMEOUT_SECONDS):
        return await asyncio.to_thread(download)


class JwksKeys:
    """Signing keys from a JWKS URL, by key id; cached, refreshed when a new kid shows up."""

    def __init__(
        self,
        url: str,
        fetch: JwksFetcher = fetch_jwks,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> jwt.PyJWK:
        if kid in self._keys and not self._stale(JWKS_MAX_AGE_SECONDS):
            return self._keys[kid]
        async with self._lock:
            unknown = kid not in self._keys
            if (unknown and self._stale(JWKS_MIN_REFRESH_SECONDS)) or self._stale(
                JWKS_MAX_AGE_SECONDS
            ):
                await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise Unauthorized("The token is signed with an unknown key.")
        return key

    def _stale(self, age: float) -> bool:
        return self._clock() - self._fetched_at >= age

    async def _refresh(self) -> None:
        try:
            keyset = jwt.PyJWKSet.from_dict(await self._fetch(self._url))
        except Exception as exc:
            logger.exception("Could not load the JWKS from %s", self._url)
            raise ApiError(503, "auth_unavailable", "Tokens cannot be checked now.") from exc
        self._keys = {key.key_id: key for key in keyset.keys if key.key_id}
        self._fetched_at = self._clock()


class Authenticator:
    """Checks bearer tokens against the configured secret or key set."""

    def __init__(self, settings: Settings, *, jwks: JwksKeys | None = None) -> None:
        # Settings guarantee JWT_SECRET or JWKS_URL, and an HMAC JWT_ALGORITHM.
        self._secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        self._hmac_algorithm = settings.jwt_algorithm
        if settings.jwks_url is not None:
            self._jwks: JwksKeys | None = jwks or JwksKeys(settings.jwks_url)
        else:
            self._jwks = None
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience

    async def authenticate(self, request: Request) -> RequestContext:
        token = _bearer_token(request)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("The token is malformed.") from exc
        key = await self._key(header)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[str(header["alg"])],
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": self._audience is not None,
                    "verify_iss": self._issuer is not None,
                },
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired.") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("The token is invalid.") from exc
        for name in NUMERIC_CLAIMS:
            value = claims.get(name)
            # PyJWT turns "1700000000" into a number; the JWT spec says NumericDate: a number.
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise Unauthorized(f"The token's `{name}` claim must be a number.")
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise Unauthorized("The token has no subject.")
        return RequestContext(user_id=subject)

    async def _key(self, header: dict[str, Any]) -> str | jwt.PyJWK:
        # The key is chosen by the token's algorithm family, never the other way round: an RS256
        # public key must not be usable as an HS256 secret (algorithm confusion).
        algorithm = header.get("alg")
        if self._secret is not None and algorithm == self._hmac_algorithm:
            return self._secret
        if self._jwks is not None and algorithm in JWKS_ALGORITHMS:
            kid = header.get("kid")
            if not isinstance(kid, str):
                raise Unauthorized("The token has no key id (kid).")
            return await self._jwks.key_for(kid)
        raise Unauthorized("The token's algorithm is not accepted.")


def _bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("An `Authorization: Bearer <token>` header is required.")
    return token.strip()


def create_authenticator(settings: Settings) -> Authenticator:
    """The authenticator for these settings (built once, at start-up)."""
    return Authenticator(settings)


async def get_request_context(request: Request) -> RequestContext:
    """FastAPI dependency: the caller's context, or 401."""
    authenticator: Authenticator = request.app.state.services.authenticator
    return await authenticator.authenticate(request)
