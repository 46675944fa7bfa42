"""A bearer token for local testing: `python -m <package>.devtoken USER [--minutes N]`.

It is signed with `JWT_SECRET` (the same settings the server reads), carries `sub` = USER and the
`exp` claim the server requires, plus `iss` and `aud` when `JWT_ISSUER` / `JWT_AUDIENCE` are set.
Projects that verify RS256 tokens against `JWKS_URL` get theirs from the identity provider.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import jwt

from .settings import Settings, SettingsError, load_settings

DEFAULT_MINUTES = 60
MAX_MINUTES = 60 * 24 * 30


def issue(settings: Settings, user: str, minutes: int = DEFAULT_MINUTES) -> str:
    """A token for `user`, valid for `minutes`, that this project's server accepts."""
    if settings.jwt_secret is None:
        raise SettingsError(
            [
                "JWT_SECRET is not set: devtoken signs with it (JWKS projects get "
                "tokens from their identity provider)"
            ]
        )
    claims: dict[str, object] = {"sub": user, "exp": int(time.time()) + minutes * 60}
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    secret = settings.jwt_secret.get_secret_value()
    return jwt.encode(claims, secret, algorithm=settings.jwt_algorithm)


def main(argv: Sequence[str] | None = None) -> int:
    """Print a token for the user named in `argv`; returns the exit status."""
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}", description=__doc__)
    parser.add_argument("user", help="the user id (the token's `sub`)")
    parser.add_argument(
        "--minutes",
        type=int,
        default=DEFAULT_MINUTES,
        choices=range(1, MAX_MINUTES + 1),
        metavar="N",
        help=f"how long the token is valid (default {DEFAULT_MINUTES}, at most {MAX_MINUTES})",
    )
    args = parser.parse_args(argv)
    if not args.user.strip():
        parser.error("the user id must not be empty")
    try:
        token = issue(load_settings(), args.user, args.minutes)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
