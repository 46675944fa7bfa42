"""A fresh PostgreSQL database per generated project, so parallel test runs do not collide."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import project_env, run_checked

#: The server the generated projects' tests use (trust auth on the CI machines).
ADMIN_URL = os.environ.get(
    "CHATKIT_SCAFFOLD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)

_CREATE = """
import sys
import psycopg

admin_url, name = sys.argv[1], sys.argv[2]
with psycopg.connect(admin_url, autocommit=True) as conn:
    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.execute(f'CREATE DATABASE "{name}"')
"""


def fresh_database_url(project: Path, label: str) -> str:
    """Create (or re-create) an empty database for ``label``; return its URL.

    Runs with the project's own psycopg, so the tool's environment needs no PostgreSQL driver.
    """
    name = "chatkit_scaffold_" + "".join(c if c.isalnum() else "_" for c in label.lower())
    name = name[:63]
    run_checked(["uv", "run", "python", "-c", _CREATE, ADMIN_URL, name], project, env=project_env())
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
