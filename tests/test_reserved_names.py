"""The reserved NAME list covers every dependency and test module a generated project has."""

from __future__ import annotations

import re

from chatkit_scaffold.catalog import load_catalog
from chatkit_scaffold.options import (
    generated_test_modules,
    package_name_for,
    reserved_dependency_names,
)


def _declared_dependencies() -> dict[str, str]:
    """Every dependency any component declares, by import-style name, with its declarer."""
    catalog = load_catalog()
    specs = [catalog.core] + [
        spec for kind in catalog.kinds.values() for spec in kind.values.values()
    ]
    names: dict[str, str] = {}
    for spec in specs:
        for requirement in spec.list("dependencies") + spec.list("dev_dependencies"):
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
            assert match, requirement
            names[package_name_for(match.group(0)).replace(".", "_")] = spec.key
    return names


def test_reserved_names_cover_every_declared_dependency() -> None:
    declared = _declared_dependencies()
    missing = sorted(set(declared) - reserved_dependency_names())
    assert not missing, (
        f"{[(name, declared[name]) for name in missing]} missing from "
        "chatkit_scaffold/reserved_names.txt: run .venv/bin/python scripts/reserved_names.py"
    )


def test_reserved_names_include_transitive_dependencies() -> None:
    reserved = reserved_dependency_names()
    transitive = {"jinja2", "httpx2", "requests", "click", "mcp", "h11", "sniffio", "certifi"}
    transitive |= {"griffe", "websockets", "typing_extensions", "pydantic_core", "jiter"}
    transitive |= {"starlette", "anyio", "jwt", "multipart", "botocore", "tiktoken"}
    assert transitive <= reserved


def test_generated_test_modules_are_read_from_the_templates() -> None:
    modules = generated_test_modules()
    helpers = {"conftest", "chatkit_helpers", "store_fixtures", "sqlite_database", "identity"}
    assert helpers | {"postgres_database", "test_store", "test_store_postgres"} <= modules
    assert not any("{" in module or module.endswith(".py") for module in modules)
