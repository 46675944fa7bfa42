"""Pick the database of a URL and build the store on it.

The store is one implementation for every database (`sql.SqlStore` on SQLAlchemy Core); what
a database brings is data in `backends.py` (URL schemes, driver, connect options), rendered
from its component. A second database is a dependency and a URL scheme, not a new module.
"""

from __future__ import annotations

from ..file_storage import FileStorage
from .backends import BACKENDS
from .base import DATABASE_UNAVAILABLE, AppStore, StoreUnavailable
from .engine import Backend, create_engine, loop_reads
from .sql import SqlStore


def create_store(
    database_url: str,
    *,
    pool_size: int = 10,
    pool_timeout: float = 5.0,
    files: FileStorage | None = None,
) -> SqlStore:
    """Return the store for `database_url`; its schema is migrated on first use.

    `pool_size` caps the pooled connections per process (a database with `loop_reads` has one
    more, for reads on the event loop) and `pool_timeout` (seconds) how long a call waits for
    one before `StoreUnavailable`; `files` is the file store whose URLs loaded attachments get
    and whose bytes go with a deleted thread.
    """
    backend = backend_for(database_url)
    if pool_size < 1:
        raise ValueError(f"The database pool size must be at least 1, got {pool_size}")
    engine = create_engine(backend, database_url, pool_size=pool_size, pool_timeout=pool_timeout)
    return SqlStore(
        engine,
        pool_timeout=pool_timeout,
        single_writer=backend.single_writer,
        loop_reads=loop_reads(backend, database_url),
        files=files,
    )


def backend_for(database_url: str) -> Backend:
    """The database whose scheme `database_url` has; `ValueError` names the supported ones."""
    scheme, separator, _ = database_url.partition("://")
    if not separator:
        examples = " or ".join(backend.example_url for backend in BACKENDS)
        raise ValueError(f"DATABASE_URL has no scheme; expected e.g. {examples}")
    backend = next((b for b in BACKENDS if scheme.lower() in b.schemes), None)
    if backend is None:
        supported = ", ".join(sorted(s for b in BACKENDS for s in b.schemes))
        raise ValueError(
            f"DATABASE_URL scheme {scheme!r} is not supported by this project; "
            f"supported schemes: {supported}"
        )
    return backend


def backend_names() -> list[str]:
    """Names of the databases this project supports, e.g. ``["sqlite"]``."""
    return [backend.name for backend in BACKENDS]


__all__ = [
    "DATABASE_UNAVAILABLE",
    "AppStore",
    "FileStorage",
    "StoreUnavailable",
    "backend_for",
    "backend_names",
    "create_store",
]
