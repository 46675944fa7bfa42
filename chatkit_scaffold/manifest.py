"""``.chatkit-scaffold.json``: what was generated, so later commands know the project.

It records the tool version that generated the files, the answers, the components and the
sha256 of every generated file as generated; the grow commands and ``update`` compare a file on
disk with its recorded hash to tell the user's edits from the tool's output.

Version 2 lists components as ``{kind, value, name?, params}``. Version 1 (chatkit-scaffold
0.1.0) kept agents and stores apart; it is read and converted, so old projects keep working.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from chatkit_scaffold.catalog import Catalog, load_catalog
from chatkit_scaffold.errors import RefusedError

MANIFEST_NAME = ".chatkit-scaffold.json"
MANIFEST_VERSION = 2


class Answers(BaseModel):
    """The answers a project was generated with: its name and one value per option.

    For a kind that may hold several values (databases) the answer is the default one.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    project_name: str
    package_name: str

    def option(self, kind: str) -> Any:
        """The answer for one option (``database``, ``docker``, ...)."""
        return (self.model_extra or {}).get(kind)


class Component(BaseModel):
    """One component of a project: a value of a kind, named for named kinds (agents)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    value: str
    name: str | None = None
    params: dict[str, str] = {}

    @property
    def label(self) -> str:
        """How messages name it: ``database postgres``, ``agent billing``."""
        return f"{self.kind} {self.name or self.value}"


class Manifest(BaseModel):
    """The content of ``.chatkit-scaffold.json``."""

    manifest_version: int = MANIFEST_VERSION
    tool_version: str
    answers: Answers
    components: list[Component]
    files: dict[str, str]

    def to_bytes(self) -> bytes:
        """The file's bytes: stable, indented JSON with a final newline."""
        data = self.model_dump(mode="json", exclude_none=True)
        data["files"] = dict(sorted(self.files.items()))
        return (json.dumps(data, indent=2) + "\n").encode()

    def named(self, kind: str, name: str) -> Component | None:
        """The recorded component of a named kind with that name, if any."""
        return next((c for c in self.components if c.kind == kind and c.name == name), None)

    def of_kind(self, kind: str) -> list[Component]:
        """The recorded components of one kind, in order."""
        return [component for component in self.components if component.kind == kind]


def sha256(content: bytes) -> str:
    """The hex digest recorded for a file's content."""
    return hashlib.sha256(content).hexdigest()


def read_manifest(project_dir: Path, catalog: Catalog | None = None) -> Manifest:
    """Load a project's manifest; a folder that is not a generated project is refused.

    Values the catalog does not know are reported as a problem of the manifest file.
    """
    if not project_dir.is_dir():
        raise RefusedError(
            f"{project_dir} is not a folder.",
            "Run the command inside a generated project or pass --project DIR.",
        )
    path = project_dir / MANIFEST_NAME
    if not path.is_file():
        raise RefusedError(
            f"{project_dir} is not a chatkit-scaffold project: {MANIFEST_NAME} is missing.",
            "Run the command inside a project made by `chatkit-scaffold new`, or pass "
            "--project DIR.",
        )
    try:
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict):
            raise ValueError("the file is not a JSON object")
        if data.get("manifest_version", 1) == 1:
            data = _from_version_1(data)
        manifest = Manifest.model_validate(data)
    except (ValueError, ValidationError) as exc:
        raise _invalid(path, _describe(exc)) from None
    if manifest.manifest_version > MANIFEST_VERSION:
        raise RefusedError(
            f"{path} was written by a newer chatkit-scaffold (manifest version "
            f"{manifest.manifest_version}).",
            "Upgrade the tool: uv tool upgrade chatkit-scaffold",
        )
    catalog = catalog or load_catalog()
    manifest = with_new_kinds(manifest, catalog)
    problems = check_components(manifest, catalog)
    if problems:
        raise _invalid(path, "; ".join(problems))
    return manifest


def with_new_kinds(manifest: Manifest, catalog: Catalog) -> Manifest:
    """The manifest with the default of every one-value kind it predates (``deploy``: ``none``).

    A kind added to the tool after a project was generated is absent from both its answers and
    its components; the project has what that kind's default renders.
    """
    answers = manifest.answers.model_dump()
    components = list(manifest.components)
    for kind in catalog.kinds.values():
        if kind.cardinality != "one" or kind.name in answers or manifest.of_kind(kind.name):
            continue
        answers[kind.name] = kind.default
        components.append(Component(kind=kind.name, value=str(kind.default)))
    if len(components) == len(manifest.components):
        return manifest
    return manifest.model_copy(
        update={"answers": Answers.model_validate(answers), "components": components}
    )


def check_components(manifest: Manifest, catalog: Catalog) -> list[str]:
    """What in the manifest's answers and components the catalog does not allow."""
    problems: list[str] = []
    for kind in catalog.kinds.values():
        present = manifest.of_kind(kind.name)
        answer = manifest.answers.option(kind.name)
        values = [component.value for component in present]
        for value in values:
            if value not in kind.choices:
                problems.append(f"{kind.name} '{value}' is not one of {', '.join(kind.choices)}")
        if kind.cardinality == "one" and len(present) != 1:
            problems.append(f"exactly one {kind.name} component is required, found {len(present)}")
        if kind.cardinality in ("one", "many") and answer not in values:
            problems.append(f"answers.{kind.name} is {answer!r}, not one of its components")
        if kind.cardinality == "flag" and bool(answer) != bool(present):
            problems.append(f"answers.{kind.name} is {answer!r} but the components disagree")
        if kind.cardinality == "named":
            names = [component.name for component in present]
            if any(not name for name in names) or len(set(names)) != len(names):
                problems.append(f"each {kind.name} needs a unique name")
    unknown = {c.kind for c in manifest.components} - set(catalog.kinds)
    problems.extend(f"unknown component kind '{kind}'" for kind in sorted(unknown))
    return problems


def _from_version_1(data: dict[str, Any]) -> dict[str, Any]:
    """A 0.1.0 manifest in the version-2 shape (the recorded tool version is kept)."""
    answers = dict(data.get("answers") or {})
    old = dict(data.get("components") or {})
    components: list[dict[str, Any]] = [
        {"kind": "database", "value": store} for store in old.get("stores") or []
    ]
    components += [
        {"kind": "file_store", "value": answers.get("file_store")},
        {"kind": "provider", "value": answers.get("provider")},
        {"kind": "auth", "value": answers.get("auth")},
    ]
    if answers.get("docker"):
        components.append({"kind": "docker", "value": "on"})
    components += [
        {
            "kind": "agent",
            "value": "specialist",
            "name": agent.get("name"),
            "params": {"instructions": agent.get("instructions", "")},
        }
        for agent in old.get("agents") or []
    ]
    return {
        "manifest_version": 1,
        "tool_version": data.get("tool_version"),
        "answers": answers,
        "components": components,
        "files": data.get("files"),
    }


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'file'}: {error['msg']}"
            for error in exc.errors()
        )
    return str(exc)


def _invalid(path: Path, problems: str) -> RefusedError:
    return RefusedError(
        f"{path} is not a valid chatkit-scaffold manifest ({problems}).",
        "Restore it from version control; the tool needs it to know the project.",
    )
