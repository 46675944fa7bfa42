"""The answers of ``new``: one typed value for NAME, each option and the agents.

The options and their values come from the component catalog (``catalog.py``), never from a
list kept here. Every value, whether it came from a flag, a prompt or a default, goes through
``ProjectOptions.parse``, which reports every problem at once: the flag, the bad value, the
allowed values and a close match. Choice values are matched without regard to case.
"""

from __future__ import annotations

import difflib
import keyword
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING

from chatkit_scaffold.catalog import Catalog, Kind, load_catalog
from chatkit_scaffold.errors import UsageError

if TYPE_CHECKING:
    from chatkit_scaffold.manifest import Component

#: Longest project NAME: it is a folder name and a package name, so it must fit every filesystem.
MAX_PROJECT_NAME_LENGTH = 64

#: Package names the generated project's own layout takes besides its test helpers.
_LAYOUT_MODULES = frozenset({"tests", "src"})

#: Module names an agent may not take: the entry agent and the modules next to the specialists.
RESERVED_AGENT_NAMES = frozenset({"assistant", "specialists", "tools"})

#: Longest agent name: its handoff tool ``transfer_to_<name>`` must fit providers' 64-char cap.
MAX_AGENT_NAME_LENGTH = 40

#: The named kind ``new --agent`` fills, and the value each agent gets.
AGENT_KIND = "agent"
AGENT_VALUE = "specialist"

#: The named kinds ``add-tool`` and ``add-widget`` fill, and their values.
TOOL_KIND = "tool"
TOOL_VALUES = ("server", "client", "approval")
WIDGET_KIND = "widget"
WIDGET_VALUE = "card"

#: The ``AGENT`` of a tool for the entry agent (``tools/__init__.py`` of the core).
ENTRY_AGENT = "assistant"

#: Longest tool or widget name: it is a module, a function and (for tools) a model-facing name.
MAX_TOOL_NAME_LENGTH = 40

_DISTRIBUTION_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_AGENT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TEMPLATE_NAME = re.compile(r"^(?P<name>[^{}]*?)(?:\.jinja)?$")


class InvalidValue(ValueError):
    """A validation failure with a ready-made message and hint."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def package_name_for(name: str) -> str:
    """The import name of a project: NAME lower-cased, with ``-`` and spaces turned into ``_``."""
    return name.lower().replace("-", "_").replace(" ", "_")


def validate_project_name(name: str) -> str:
    """Check NAME as a distribution name whose package name is importable and shadows nothing."""
    problem = _project_name_problem(name)
    if problem is not None:
        message, hint = problem
        suggestion = suggest_project_name(name)
        if suggestion is not None:
            hint = (
                f"{hint} Did you mean '{suggestion}'?" if hint else f"Did you mean '{suggestion}'?"
            )
        raise InvalidValue(message, hint)
    return name


def suggest_project_name(name: str) -> str | None:
    """A close NAME that would be accepted, or None (a suggestion is never refused itself)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", name.strip()).strip("-._")
    cleaned = cleaned[:MAX_PROJECT_NAME_LENGTH].strip("-._")
    unprefixed = re.sub(r"^test[-_]+", "", cleaned, flags=re.IGNORECASE)
    candidates = [cleaned, unprefixed, f"{cleaned}-app", f"my-{cleaned}", f"{cleaned}-chat"]
    if cleaned and cleaned[0].isdigit():
        candidates.insert(0, f"app-{cleaned}")
    for candidate in candidates:
        if candidate and candidate != name and _project_name_problem(candidate) is None:
            return candidate
    return None


def _project_name_problem(name: str) -> tuple[str, str | None] | None:
    """Why NAME is refused (message, hint without a suggestion), or None."""
    if not _DISTRIBUTION_NAME.match(name):
        return (
            f"Invalid NAME '{name}': not a valid Python distribution name.",
            "Use letters, digits, '-', '_' or '.', starting and ending with a letter or digit.",
        )
    package = package_name_for(name)
    if not package.isidentifier():
        return (
            f"Invalid NAME '{name}': its package name '{package}' is not a Python identifier.",
            "Start with a letter and use only letters, digits, '-' and '_' (no '.').",
        )
    if len(name) > MAX_PROJECT_NAME_LENGTH:
        return (
            f"Invalid NAME '{name}': {len(name)} characters, longer than "
            f"{MAX_PROJECT_NAME_LENGTH}.",
            "Pick a shorter name; it becomes the project's folder and package name.",
        )
    if keyword.iskeyword(package):
        return (f"Invalid NAME '{name}': its package name '{package}' is a Python keyword.", None)
    shadowed = _shadowed_module(package)
    if shadowed is not None:
        return (
            f"Invalid NAME '{name}': its package name '{package}' would shadow {shadowed}, "
            "and the generated project would not install, import or pass its tests.",
            None,
        )
    return None


def _shadowed_module(package: str) -> str | None:
    """What a package of this name would shadow in a generated project, or None."""
    if package in sys.stdlib_module_names:
        return f"the standard library's '{package}' module"
    if package in reserved_dependency_names():
        return f"the '{package}' module or distribution (a dependency of the generated project)"
    if package in _LAYOUT_MODULES:
        return f"the generated project's '{package}' folder"
    if package.startswith("test_") or package in generated_test_modules():
        return f"the generated test module 'tests/{package}.py' (pytest imports it as '{package}')"
    return None


@cache
def reserved_dependency_names() -> frozenset[str]:
    """Distributions and modules installed in generated projects (``reserved_names.txt``)."""
    text = files("chatkit_scaffold").joinpath("reserved_names.txt").read_text(encoding="utf-8")
    lines = (line.strip() for line in text.splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


@cache
def generated_test_modules() -> frozenset[str]:
    """Module names of every ``tests/`` file the core and the components can render."""
    catalog = load_catalog()
    folders = [catalog.core.folder] + [
        spec.folder for kind in catalog.kinds.values() for spec in kind.values.values()
    ]
    names: set[str] = set()
    for folder in folders:
        tests = folder / "files" / "tests"
        if not tests.is_dir():
            continue
        for path in tests.iterdir():
            match = _TEMPLATE_NAME.match(path.name)
            if match and match.group("name").endswith(".py"):
                names.add(match.group("name").removesuffix(".py"))
    return frozenset(names)


def validate_agent_name(name: str) -> str:
    """Check an agent name: a lower-case identifier, not a keyword, not reserved."""
    if not _AGENT_NAME.match(name):
        suggestion = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")
        hint = "Use lower-case letters, digits and '_', starting with a letter."
        if suggestion and _agent_name_ok(suggestion):
            hint += f" Did you mean '{suggestion}'?"
        raise InvalidValue(
            f"Invalid agent name '{name}': not a lower-case Python identifier.", hint
        )
    if len(name) > MAX_AGENT_NAME_LENGTH:
        raise InvalidValue(
            f"Invalid agent name '{name}': longer than {MAX_AGENT_NAME_LENGTH} characters.",
            "Model providers cap tool names (the handoff is transfer_to_NAME) at 64 characters.",
        )
    if keyword.iskeyword(name):
        raise InvalidValue(
            f"Invalid agent name '{name}': it is a Python keyword.",
            f"Pick another name, e.g. '{name}_agent'.",
        )
    if name in RESERVED_AGENT_NAMES:
        raise InvalidValue(
            f"Invalid agent name '{name}': the name is reserved "
            f"({', '.join(sorted(RESERVED_AGENT_NAMES))}).",
            f"Pick another name, e.g. '{name}_specialist'.",
        )
    return name


def core_module_names(package: str) -> frozenset[str]:
    """Modules the core puts in ``src/<pkg>/<package>/`` (``tools``: ``current_time``...)."""
    folder = load_catalog().core.folder / "files" / "src" / "{{package_name}}" / package
    if not folder.is_dir():
        return frozenset()
    names = (_TEMPLATE_NAME.match(path.name) for path in folder.iterdir())
    return frozenset(
        match.group("name").removesuffix(".py")
        for match in names
        if match and match.group("name").endswith(".py") and not match.group("name").startswith("_")
    )


def validate_tool_name(name: str) -> str:
    """Check a tool name: a lower-case identifier that no tool of the core or handoff takes."""
    _check_module_name(name, "tool")
    if name.startswith("transfer_to_"):
        raise InvalidValue(
            f"Invalid tool name '{name}': transfer_to_* names are the agents' handoffs.",
            "Pick another name.",
        )
    reserved = core_module_names("tools")
    if name in reserved:
        raise InvalidValue(
            f"Invalid tool name '{name}': every project has a tool of that name "
            f"({', '.join(sorted(reserved))}).",
            f"Pick another name, e.g. 'my_{name}'.",
        )
    return name


def validate_widget_name(name: str) -> str:
    """Check a widget name: a lower-case identifier that no widget or action of the core takes."""
    _check_module_name(name, "widget")
    reserved = core_module_names("widgets") | core_module_names("actions")
    if name in reserved:
        raise InvalidValue(
            f"Invalid widget name '{name}': the name is taken by a widget or action every "
            f"project has ({', '.join(sorted(reserved))}).",
            f"Pick another name, e.g. '{name}_card'.",
        )
    return name


def _check_module_name(name: str, what: str) -> None:
    if not _AGENT_NAME.match(name):
        suggestion = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")
        hint = "Use lower-case letters, digits and '_', starting with a letter."
        if suggestion and _AGENT_NAME.match(suggestion) and not keyword.iskeyword(suggestion):
            hint += f" Did you mean '{suggestion}'?"
        raise InvalidValue(
            f"Invalid {what} name '{name}': not a lower-case Python identifier.", hint
        )
    if len(name) > MAX_TOOL_NAME_LENGTH:
        raise InvalidValue(
            f"Invalid {what} name '{name}': longer than {MAX_TOOL_NAME_LENGTH} characters.",
            "It names a module and a function; pick a shorter name.",
        )
    if keyword.iskeyword(name):
        raise InvalidValue(
            f"Invalid {what} name '{name}': it is a Python keyword.",
            f"Pick another name, e.g. '{name}_{what}'.",
        )


def _agent_name_ok(name: str) -> bool:
    return (
        _AGENT_NAME.match(name) is not None
        and len(name) <= MAX_AGENT_NAME_LENGTH
        and not keyword.iskeyword(name)
        and name not in RESERVED_AGENT_NAMES
    )


def default_instructions(agent_name: str) -> str:
    """Instructions of a specialist agent created without ``--instructions``."""
    topic = agent_name.replace("_", " ")
    return (
        f"You are the {topic} specialist. Answer the user's {topic} questions clearly and "
        "concisely, and say so when a question is outside your area."
    )


def parse_choice(kind: Kind, raw: object, label: str | None = None) -> str | bool:
    """A value of ``kind`` from a flag or a prompt (any case); ``InvalidValue`` otherwise."""
    if kind.cardinality == "flag":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("y", "yes", "true", "on", "1"):
            return True
        if text in ("n", "no", "false", "off", "0"):
            return False
        raise InvalidValue(f"Invalid value for {label or kind.flag}: '{raw}'. Answer yes or no.")
    text = str(raw).strip()
    by_lower = {choice.lower(): choice for choice in kind.choices}
    if text.lower() in by_lower:
        return by_lower[text.lower()]
    close = difflib.get_close_matches(text.lower(), list(by_lower), n=1, cutoff=0.6)
    suggestion = f" Did you mean '{by_lower[close[0]]}'?" if close else ""
    raise InvalidValue(
        f"Invalid value for {label or kind.flag}: '{raw}'. Allowed values: "
        f"{', '.join(kind.choices)}.{suggestion}"
    )


@dataclass(frozen=True)
class ProjectOptions:
    """Everything ``new`` needs: NAME, one value per option, and the agents."""

    name: str
    choices: Mapping[str, str | bool]
    agents: tuple[str, ...] = ()

    @classmethod
    def parse(cls, values: Mapping[str, object], catalog: Catalog | None = None) -> ProjectOptions:
        """Validate raw answers (from flags, prompts or defaults); ``UsageError`` lists them all.

        ``values`` holds ``name``, any option by its kind name (``database``, ``docker``...)
        and ``agents``; options not given take their default.
        """
        catalog = catalog or load_catalog()
        messages: list[str] = []
        hints: list[str] = []

        def fail(exc: InvalidValue) -> None:
            messages.append(exc.message)
            if exc.hint and exc.hint not in hints:
                hints.append(exc.hint)

        known = {"name", "agents", *(kind.name for kind in catalog.options())}
        for key in sorted(set(values) - known):
            messages.append(f"Unknown option '{key}'.")
        name = str(values.get("name", ""))
        try:
            validate_project_name(name)
        except InvalidValue as exc:
            fail(exc)
        chosen: dict[str, str | bool] = {}
        for kind in catalog.options():
            raw = values.get(kind.name)
            if raw is None:
                assert kind.default is not None
                chosen[kind.name] = kind.default
                continue
            try:
                chosen[kind.name] = parse_choice(kind, raw)
            except InvalidValue as exc:
                fail(exc)
        agents = tuple(str(agent) for agent in values.get("agents") or ())  # type: ignore[attr-defined]
        seen: set[str] = set()
        for agent in agents:
            try:
                validate_agent_name(agent)
            except InvalidValue as exc:
                fail(exc)
            if agent in seen:
                fail(InvalidValue(f"Invalid --agent '{agent}': given more than once.", None))
            seen.add(agent)
        if messages:
            raise UsageError("\n".join(messages), " ".join(hints) or None)
        return cls(name=name, choices=chosen, agents=agents)

    @property
    def package_name(self) -> str:
        """The project's import name."""
        return package_name_for(self.name)

    def answers(self) -> dict[str, object]:
        """The answers as the manifest records them: name, package and one value per option."""
        return {"project_name": self.name, "package_name": self.package_name, **self.choices}

    def components(self, catalog: Catalog | None = None) -> list[Component]:
        """The components a new project with these answers is made of."""
        from chatkit_scaffold.manifest import Component

        catalog = catalog or load_catalog()
        result: list[Component] = []
        for kind in catalog.options():
            value = self.choices[kind.name]
            if kind.cardinality == "flag":
                if value:
                    result.append(Component(kind=kind.name, value=kind.choices[0]))
            else:
                result.append(Component(kind=kind.name, value=str(value)))
        result += [
            Component(
                kind=AGENT_KIND,
                value=AGENT_VALUE,
                name=agent,
                params={"instructions": default_instructions(agent)},
            )
            for agent in self.agents
        ]
        return result


def option_kinds(catalog: Catalog | None = None) -> Iterator[Kind]:
    """The kinds ``new`` asks for, in prompt order."""
    return (catalog or load_catalog()).options()
