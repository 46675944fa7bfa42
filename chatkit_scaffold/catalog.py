"""The component catalog: every option, every value, read from the template folders.

``templates/core/`` is what every project has. ``templates/components/<kind>/kind.toml``
declares one kind of component (an option such as ``--database``, or a named part such as an
agent); each ``templates/components/<kind>/<value>/component.toml`` declares one value of it.
A folder whose name starts with ``_`` is a *part*: it is never chosen by itself, only rendered
with the components that list it in ``parts``.

This module is the one source of option values: the options model, the CLI help, the manifest
check and the tests' matrices all read it. It uses only the standard library (it runs for
``--help``) and reports a malformed declaration as a bug in the templates.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from chatkit_scaffold.errors import ScaffoldError
from chatkit_scaffold.templates import template_root

KIND_FILE = "kind.toml"
COMPONENT_FILE = "component.toml"
FILES_FOLDER = "files"
FRAGMENTS_FOLDER = "fragments"
CORE = "core"

#: How a kind's values combine in one project.
#: ``one``: exactly one value (``--auth``); ``many``: one or more, the answer is the default one
#: (``--database``; ``add-store`` adds more); ``flag``: present or not (``--docker``);
#: ``named``: any number of named instances (agents).
CARDINALITIES = ("one", "many", "flag", "named")


class CatalogError(ScaffoldError):
    """A kind or component declaration that does not parse: a bug in the templates."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(
            f"The template declaration {path} is invalid: {problem}",
            "This is a bug in chatkit-scaffold's templates; please report it.",
        )


@dataclass(frozen=True)
class Setting:
    """One environment variable a component reads, as declared in ``[[settings]]``."""

    env: str
    type: str
    doc: str
    example: str = ""
    default: Any = None
    default_code: str | None = None
    constraints: str = ""
    optional: bool = False
    required_when_selected: bool = False
    secret: bool = False
    section: str = ""

    @property
    def field(self) -> str:
        """The settings field name (the variable lower-cased)."""
        return self.env.lower()

    @property
    def annotation(self) -> str:
        """The field's annotation: the type, ``| None`` when optional, constraints if any."""
        base = f"{self.type} | None" if self.optional else self.type
        return f"Annotated[{base}, Field({self.constraints})]" if self.constraints else base

    @property
    def required(self) -> bool:
        """Required whenever the component is present (no default, not optional)."""
        return (
            self.default is None
            and self.default_code is None
            and not self.optional
            and not self.required_when_selected
        )


@dataclass(frozen=True)
class ComponentSpec:
    """One value of a kind (or the core, or a part): its folder and its declaration."""

    kind: str
    value: str
    folder: Path
    summary: str
    declaration: Mapping[str, Any]
    settings: tuple[Setting, ...]
    parts: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """``kind/value``, e.g. ``database/postgres`` (the core is ``core``)."""
        return CORE if self.kind == CORE else f"{self.kind}/{self.value}"

    @property
    def is_part(self) -> bool:
        return self.value.startswith("_")

    def section(self, name: str) -> Mapping[str, Any]:
        """A table of the declaration (``compose``, ``ci``, ``readme``, ...), empty if absent."""
        value = self.declaration.get(name, {})
        return value if isinstance(value, Mapping) else {}

    def list(self, name: str) -> list[Any]:
        """A list of the declaration (``dependencies``, ...), empty if absent."""
        value = self.declaration.get(name, [])
        return list(value) if isinstance(value, list) else []


@dataclass(frozen=True)
class Kind:
    """One kind of component: an option of ``new`` or a named part such as agents."""

    name: str
    folder: Path
    flag: str
    prompt: str
    help: str
    cardinality: str
    default: str | bool | None
    grow_command: str | None
    grow_help: str
    argument: str
    order: int
    values: Mapping[str, ComponentSpec] = field(default_factory=dict)

    @property
    def choices(self) -> list[str]:
        """The values a user may pick (parts excluded), in declaration order."""
        return [value for value, spec in self.values.items() if not spec.is_part]

    @property
    def is_option(self) -> bool:
        """Whether ``new`` asks for it as one answer (``named`` kinds are lists)."""
        return self.cardinality in ("one", "many", "flag")


@dataclass(frozen=True)
class Catalog:
    """The core and every kind, read from one template root."""

    root: Path
    core: ComponentSpec
    kinds: Mapping[str, Kind]

    def kind(self, name: str) -> Kind:
        try:
            return self.kinds[name]
        except KeyError:
            raise ScaffoldError(
                f"The templates know no component kind '{name}'.",
                "This is a bug in chatkit-scaffold; please report it.",
            ) from None

    def spec(self, kind: str, value: str) -> ComponentSpec:
        """The declaration of one value; a value the kind does not have is a ScaffoldError."""
        if kind == CORE:
            return self.core
        known = self.kind(kind).values
        if value not in known:
            raise ScaffoldError(
                f"The templates have no {kind} component '{value}'.",
                f"Known values: {', '.join(self.kind(kind).choices)}.",
            )
        return known[value]

    def options(self) -> Iterator[Kind]:
        """The kinds ``new`` answers, in prompt order."""
        return (kind for kind in self.kinds.values() if kind.is_option)


@cache
def load_catalog(root: Path | None = None) -> Catalog:
    """Read the catalog under ``root`` (default: the installed templates)."""
    base = template_root() if root is None else root
    core = _read_component(CORE, CORE, base / CORE)
    kinds: dict[str, Kind] = {}
    components = base / "components"
    for folder in sorted(path for path in components.iterdir() if path.is_dir()):
        kind = _read_kind(folder)
        kinds[kind.name] = kind
    ordered = dict(sorted(kinds.items(), key=lambda item: (item[1].order, item[0])))
    return Catalog(root=base, core=core, kinds=ordered)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(path, str(exc)) from None


def _read_kind(folder: Path) -> Kind:
    path = folder / KIND_FILE
    data = _read_toml(path)
    cardinality = data.get("cardinality", "one")
    if cardinality not in CARDINALITIES:
        raise CatalogError(path, f"cardinality must be one of {', '.join(CARDINALITIES)}")
    values: dict[str, ComponentSpec] = {}
    for value in data.get("values", []):
        if not isinstance(value, str) or not (folder / value).is_dir():
            raise CatalogError(path, f"listed value {value!r} has no folder")
        values[value] = _read_component(folder.name, value, folder / value)
    for child in sorted(folder.iterdir()):
        if child.is_dir() and child.name not in values:
            if not child.name.startswith("_"):
                raise CatalogError(path, f"folder {child.name!r} is not listed in values")
            values[child.name] = _read_component(folder.name, child.name, child)
    default = data.get("default")
    choices = [value for value in values if not value.startswith("_")]
    if cardinality == "flag":
        if not isinstance(default, bool) or choices != ["on"]:
            raise CatalogError(path, "a flag kind has one value 'on' and a true/false default")
    elif cardinality == "named":
        if not choices:
            raise CatalogError(path, "a named kind needs at least one value")
    elif default not in choices:
        raise CatalogError(path, f"default {default!r} is not one of its values {choices}")
    for key in ("flag", "prompt", "help"):
        if not isinstance(data.get(key), str):
            raise CatalogError(path, f"'{key}' must be a string")
    return Kind(
        name=folder.name,
        folder=folder,
        flag=data["flag"],
        prompt=data["prompt"],
        help=data["help"],
        cardinality=cardinality,
        default=default,
        grow_command=data.get("grow"),
        grow_help=str(data.get("grow_help", "")),
        argument=str(data.get("argument", folder.name.upper())),
        order=int(data.get("order", 100)),
        values=values,
    )


def _read_component(kind: str, value: str, folder: Path) -> ComponentSpec:
    path = folder / COMPONENT_FILE
    data = _read_toml(path)
    summary = data.get("summary")
    if not isinstance(summary, str):
        raise CatalogError(path, "'summary' must be a string")
    section = str(data.get("section", ""))
    settings = tuple(_read_setting(path, raw, section) for raw in data.get("settings", []))
    parts = tuple(str(part) for part in data.get("parts", []))
    return ComponentSpec(
        kind=kind,
        value=value,
        folder=folder,
        summary=summary,
        declaration=data,
        settings=settings,
        parts=parts,
    )


_SETTING_KEYS = frozenset(
    {
        "env",
        "type",
        "doc",
        "example",
        "default",
        "default_code",
        "constraints",
        "optional",
        "required",
        "secret",
        "section",
    }
)


def _read_setting(path: Path, raw: object, section: str) -> Setting:
    if not isinstance(raw, dict):
        raise CatalogError(path, "each [[settings]] entry must be a table")
    unknown = set(raw) - _SETTING_KEYS
    if unknown:
        raise CatalogError(path, f"unknown setting keys {sorted(unknown)}")
    env, type_, doc = raw.get("env"), raw.get("type"), raw.get("doc")
    if not (isinstance(env, str) and env.isupper() and env.isidentifier()):
        raise CatalogError(path, f"setting env {env!r} must be an upper-case identifier")
    if not isinstance(type_, str) or not isinstance(doc, str):
        raise CatalogError(path, f"setting {env} needs a 'type' and a 'doc' string")
    required = raw.get("required", "always")
    if required not in ("always", "when-selected"):
        raise CatalogError(path, f"setting {env}: required is 'always' or 'when-selected'")
    return Setting(
        env=env,
        type=type_,
        doc=doc,
        example=str(raw.get("example", "")),
        default=raw.get("default"),
        default_code=raw.get("default_code"),
        constraints=str(raw.get("constraints", "")),
        optional=bool(raw.get("optional", False)),
        required_when_selected=required == "when-selected",
        secret=bool(raw.get("secret", False)),
        section=str(raw.get("section", section)),
    )
