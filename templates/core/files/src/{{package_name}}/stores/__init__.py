"""Pick the store backend for a database URL.

Every module in this package other than `base`, `schema` and `migrate` is a backend: it
declares the URL schemes it serves (`SCHEMES`), an `EXAMPLE_URL`, and builds its store with
`from_url(database_url, *, pool_size=..., files=...)`. Adding a backend means adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Protocol, cast

from ..file_storage import FileStorage
from .base import AppStore


class _Backend(Protocol):
    SCHEMES: tuple[str, ...]
    EXAMPLE_URL: str

    def from_url(
        self, database_url: str, *, pool_size: int, files: FileStorage | None
    ) -> AppStore: ...


NOT_BACKENDS = frozenset({"base", "schema", "migrate"})
"""Modules of this package every backend shares."""


def create_store(
    database_url: str, *, pool_size: int = 10, files: FileStorage | None = None
) -> AppStore:
    """Return the store for `database_url`; its schema is created on first use.

    `pool_size` caps the connections of pooled backends (PostgreSQL); `files` is the file
    store whose URLs loaded attachments get and whose bytes go with a deleted thread.
    """
    backends = _backends()
    scheme, separator, _ = database_url.partition("://")
    if not separator:
        examples = " or ".join(backend.EXAMPLE_URL for backend in backends)
        raise ValueError(f"DATABASE_URL has no scheme; expected e.g. {examples}")
    backend = next((b for b in backends if scheme.lower() in b.SCHEMES), None)
    if backend is None:
        supported = ", ".join(sorted(s for b in backends for s in b.SCHEMES))
        raise ValueError(
            f"DATABASE_URL scheme {scheme!r} is not supported by this project; "
            f"supported schemes: {supported}"
        )
    if pool_size < 1:
        raise ValueError(f"The database pool size must be at least 1, got {pool_size}")
    return backend.from_url(database_url, pool_size=pool_size, files=files)


def backend_names() -> list[str]:
    """Names of the backend modules present, e.g. ``["sqlite"]``."""
    return sorted(
        module.name for module in pkgutil.iter_modules(__path__) if module.name not in NOT_BACKENDS
    )


def _backends() -> list[_Backend]:
    return [
        cast(_Backend, importlib.import_module(f"{__name__}.{name}")) for name in backend_names()
    ]


__all__ = ["AppStore", "FileStorage", "backend_names", "create_store"]
