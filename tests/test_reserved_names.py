"""The reserved NAME list covers every dependency and test module a generated project has."""

from __future__ import annotations

import itertools
import re
import tomllib

import jinja2
import pytest

from chatkit_scaffold.options import (
    Auth,
    FileStore,
    Provider,
    generated_test_modules,
    package_name_for,
    reserved_dependency_names,
)
from chatkit_scaffold.templates import project_template

_STORE_SETS = (["sqlite"], ["postgres"], ["sqlite", "postgres"])


def _declared_dependencies(answers: dict[str, object]) -> set[str]:
    source = (project_template() / "pyproject.toml.jinja").read_text()
    rendered = jinja2.Environment(keep_trailing_newline=True).from_string(source).render(answers)
    document = tomllib.loads(rendered)
    requirements = [
        *document["project"]["dependencies"],
        *document["dependency-groups"]["dev"],
    ]
    names: set[str] = set()
    for requirement in requirements:
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        assert match, requirement
        names.add(package_name_for(match.group(0)).replace(".", "_"))
    return names


@pytest.mark.parametrize(
    ("provider", "file_store", "auth", "stores"),
    list(itertools.product(Provider, FileStore, Auth, _STORE_SETS)),
)
def test_reserved_names_cover_declared_dependencies(
    provider: Provider, file_store: FileStore, auth: Auth, stores: list[str]
) -> None:
    answers: dict[str, object] = {
        "project_name": "probe",
        "package_name": "probe",
        "database": stores[0],
        "stores": stores,
        "provider": provider.value,
        "file_store": file_store.value,
        "auth": auth.value,
        "docker": True,
    }
    missing = _declared_dependencies(answers) - reserved_dependency_names()
    assert not missing, (
        f"{sorted(missing)} missing from chatkit_scaffold/reserved_names.txt: "
        "run .venv/bin/python scripts/reserved_names.py"
    )


def test_reserved_names_include_transitive_dependencies() -> None:
    reserved = reserved_dependency_names()
    transitive = {"jinja2", "httpx2", "requests", "click", "mcp", "h11", "sniffio", "certifi"}
    transitive |= {"griffe", "websockets", "typing_extensions", "pydantic_core", "jiter"}
    transitive |= {"starlette", "anyio", "jwt", "multipart", "botocore", "tiktoken"}
    assert transitive <= reserved


def test_generated_test_modules_are_read_from_the_template() -> None:
    modules = generated_test_modules()
    helpers = {"conftest", "chatkit_helpers", "store_fixtures", "sqlite_database"}
    assert helpers | {"postgres_database", "test_store", "test_store_postgres"} <= modules
    assert not any("{" in module or module.endswith(".py") for module in modules)
