"""The option combinations the generated-project checks cover.

Every option value appears, and every pair of values of two different options appears in at least
one combination (an all-pairs design: 12 projects instead of the 384 of the full product), so an
interaction between two choices (say postgres with s3, or jwt with the local file store) cannot
go untested. The first combination is the default stack, the second the default with no file store.
One more combination is a grown project with two store backends (docs/matrix.md).
"""

from __future__ import annotations

import itertools
from typing import Any

from chatkit_scaffold.catalog import load_catalog


def _option_values() -> dict[str, list[Any]]:
    """Every value of every option, from the component catalog (the one source of values)."""
    catalog = load_catalog()
    values: dict[str, list[Any]] = {}
    for name in ("provider", "file_store", "database", "auth"):
        values[name] = list(catalog.kind(name).choices)
    values["docker"] = [True, False]
    values["agents"] = [(), ("billing",)]
    values["deploy"] = list(catalog.kind("deploy").choices)
    return values


OPTION_VALUES: dict[str, list[Any]] = _option_values()

_ROWS: list[tuple[Any, ...]] = [
    ("openai", "local", "sqlite", "none", True, (), "none"),
    ("openai", "none", "sqlite", "none", True, (), "none"),
    ("openai", "s3", "postgres", "jwt", False, ("billing",), "kubernetes"),
    ("gemini", "local", "postgres", "jwt", False, (), "none"),
    ("gemini", "none", "postgres", "none", True, ("billing",), "none"),
    ("gemini", "s3", "sqlite", "jwt", True, (), "kubernetes"),
    ("litellm", "local", "sqlite", "jwt", True, ("billing",), "kubernetes"),
    ("litellm", "none", "postgres", "jwt", False, (), "kubernetes"),
    ("litellm", "s3", "sqlite", "none", False, (), "none"),
    ("openai-compatible", "local", "postgres", "none", True, (), "kubernetes"),
    ("openai-compatible", "none", "sqlite", "jwt", False, ("billing",), "none"),
    ("openai-compatible", "s3", "postgres", "none", True, ("billing",), "none"),
]

#: Projects grown after generation: the answers, then the store backends they end up with.
_GROWN: list[tuple[tuple[Any, ...], tuple[str, ...]]] = [
    # The SQLite default plus the PostgreSQL store (``add-store postgres``): both stores' code,
    # dependencies and contract tests live side by side, DATABASE_URL picking one.
    (("gemini", "s3", "sqlite", "jwt", True, ("billing",), "kubernetes"), ("sqlite", "postgres")),
]

#: Each combination as the answers to pass to ``generate_project``.
COMBINATIONS: list[dict[str, Any]] = [
    *(dict(zip(OPTION_VALUES, row, strict=True)) for row in _ROWS),
    *({**dict(zip(OPTION_VALUES, row, strict=True)), "stores": stores} for row, stores in _GROWN),
]


def combination_id(answers: dict[str, Any]) -> str:
    """A short test id, e.g. ``gemini-s3-sqlite-jwt-docker``."""
    parts = [answers["provider"], answers["file_store"], answers["database"], answers["auth"]]
    parts.append("docker" if answers["docker"] else "nodocker")
    parts.extend(answers["agents"])
    if answers["deploy"] != "none":
        parts.append(answers["deploy"])
    if "stores" in answers:
        parts.append("stores=" + "+".join(answers["stores"]))
    return "-".join(parts)


def uncovered_pairs() -> list[tuple[str, Any, str, Any]]:
    """Value pairs of two options that no combination holds (empty for an all-pairs design)."""
    missing = []
    for first, second in itertools.combinations(OPTION_VALUES, 2):
        for value_one, value_two in itertools.product(OPTION_VALUES[first], OPTION_VALUES[second]):
            if not any(c[first] == value_one and c[second] == value_two for c in COMBINATIONS):
                missing.append((first, value_one, second, value_two))
    return missing
