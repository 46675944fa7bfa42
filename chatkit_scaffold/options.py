"""The answers of ``new``: one typed model for flags, prompts, defaults and validation.

``ProjectOptions`` is the single source of truth. The CLI reads each field's ``Question`` (flag
and prompt text), its default and, for choices, its enum; every value, whether it came from a
flag, a prompt or a default, goes through ``ProjectOptions.parse`` so that errors always name the
flag, the bad value, the allowed values and a close match.
"""

from __future__ import annotations

import difflib
import keyword
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib.resources import files
from typing import Annotated

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from chatkit_scaffold.errors import UsageError
from chatkit_scaffold.templates import project_template


class Database(StrEnum):
    """Store backend the project runs on by default."""

    SQLITE = "sqlite"
    POSTGRES = "postgres"


class FileStore(StrEnum):
    """Where attachment bytes live (``none`` disables attachments)."""

    NONE = "none"
    LOCAL = "local"
    S3 = "s3"


class Provider(StrEnum):
    """Model provider the generated ``create_model()`` targets by default."""

    OPENAI = "openai"
    GEMINI = "gemini"
    LITELLM = "litellm"
    OPENAI_COMPATIBLE = "openai-compatible"


class Auth(StrEnum):
    """How requests are authenticated."""

    NONE = "none"
    JWT = "jwt"


@dataclass(frozen=True)
class Question:
    """How a field is asked for: its command-line flag and its interactive prompt."""

    flag: str
    prompt: str


#: Longest project NAME: it is a folder name and a package name, so it must fit every filesystem.
MAX_PROJECT_NAME_LENGTH = 64

#: Package names the generated project's own layout takes besides its test helpers.
_LAYOUT_MODULES = frozenset({"tests", "src"})

#: Matches a template file name: optional Jinja condition, the name, optional ``endif``.
_TEMPLATE_FILE = re.compile(r"^(?:\{%.*?%\})?(?P<name>[^{}]*?)(?:\{%.*?%\})?\.jinja$")

#: Module names an agent may not take: the entry agent and the modules next to the specialists.
RESERVED_AGENT_NAMES = frozenset({"assistant", "specialists", "tools"})

#: Longest agent name: its handoff tool ``transfer_to_<name>`` must fit providers' 64-char cap.
MAX_AGENT_NAME_LENGTH = 40

_DISTRIBUTION_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_AGENT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class InvalidValue(ValueError):
    """A validation failure with a ready-made message and hint (raised inside validators)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def package_name_for(name: str) -> str:
    """The import name of a project: NAME lower-cased, with ``-`` and spaces turned into ``_``."""
    return name.lower().replace("-", "_").replace(" ", "_")


def validate_project_name(name: str) -> str:
    """Check NAME as a distribution name whose package name is importable and shadows nothing."""
    if not _DISTRIBUTION_NAME.match(name):
        suggestion = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip("-._")
        hint = "Use letters, digits, '-', '_' or '.', starting and ending with a letter or digit."
        if suggestion and _DISTRIBUTION_NAME.match(suggestion):
            hint += f" Did you mean '{suggestion}'?"
        raise InvalidValue(f"Invalid NAME '{name}': not a valid Python distribution name.", hint)
    package = package_name_for(name)
    if not package.isidentifier():
        raise InvalidValue(
            f"Invalid NAME '{name}': its package name '{package}' is not a Python identifier.",
            "Start with a letter and use only letters, digits, '-' and '_' (no '.').",
        )
    if len(name) > MAX_PROJECT_NAME_LENGTH:
        raise InvalidValue(
            f"Invalid NAME '{name}': {len(name)} characters, longer than "
            f"{MAX_PROJECT_NAME_LENGTH}.",
            "Pick a shorter name; it becomes the project's folder and package name.",
        )
    if keyword.iskeyword(package):
        raise InvalidValue(
            f"Invalid NAME '{name}': its package name '{package}' is a Python keyword.",
            f"Pick another name, e.g. '{name}-app'.",
        )
    shadowed = _shadowed_module(package)
    if shadowed is not None:
        raise InvalidValue(
            f"Invalid NAME '{name}': its package name '{package}' would shadow {shadowed}, "
            "and the generated project would not install, import or pass its tests.",
            f"Pick another name, e.g. '{name}-app'.",
        )
    return name


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


def generated_test_modules() -> frozenset[str]:
    """Module names of the project template's ``tests/`` files, read from the template."""
    folder = project_template() / "tests"
    names: set[str] = set()
    if folder.is_dir():
        for path in folder.iterdir():
            match = _TEMPLATE_FILE.match(path.name)
            rendered = match.group("name") if match else path.name
            if rendered.endswith(".py"):
                names.add(rendered.removesuffix(".py"))
    return frozenset(names)


def validate_agent_name(name: str) -> str:
    """Check an agent name: a lower-case identifier, not a keyword, not reserved."""
    if not _AGENT_NAME.match(name):
        suggestion = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")
        hint = "Use lower-case letters, digits and '_', starting with a letter."
        if suggestion and _AGENT_NAME.match(suggestion) and not keyword.iskeyword(suggestion):
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


def default_instructions(agent_name: str) -> str:
    """Instructions of a specialist agent created without ``--instructions``."""
    topic = agent_name.replace("_", " ")
    return (
        f"You are the {topic} specialist. Answer the user's {topic} questions clearly and "
        "concisely, and say so when a question is outside your area."
    )


class ProjectOptions(BaseModel):
    """Everything ``new`` needs to generate a project."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Question("NAME", "Project name")]
    database: Annotated[Database, Question("--database", "Database")] = Database.SQLITE
    file_store: Annotated[FileStore, Question("--file-store", "File store for attachments")] = (
        FileStore.LOCAL
    )
    provider: Annotated[Provider, Question("--provider", "Model provider")] = Provider.OPENAI
    auth: Annotated[Auth, Question("--auth", "Authentication")] = Auth.NONE
    docker: Annotated[
        bool, Question("--docker/--no-docker", "Add a Dockerfile, .dockerignore and compose.yaml?")
    ] = True
    agents: Annotated[
        tuple[str, ...],
        Question("--agent", "Specialist agents besides the entry agent"),
    ] = ()

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return validate_project_name(value)

    @field_validator("agents")
    @classmethod
    def _check_agents(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        for name in value:
            validate_agent_name(name)
            if name in seen:
                raise InvalidValue(
                    f"Invalid --agent '{name}': given more than once.", "Give each agent once."
                )
            seen.add(name)
        return value

    @classmethod
    def parse(cls, values: Mapping[str, object]) -> ProjectOptions:
        """Validate raw answers (strings from flags or prompts); bad input raises ``UsageError``."""
        try:
            return cls.model_validate(dict(values))
        except ValidationError as exc:
            raise _usage_error(exc) from None

    @property
    def package_name(self) -> str:
        """The project's import name."""
        return package_name_for(self.name)

    def answers(self) -> dict[str, object]:
        """The project's answers as recorded in the manifest (agents are components)."""
        return {
            "project_name": self.name,
            "package_name": self.package_name,
            "database": self.database.value,
            "file_store": self.file_store.value,
            "provider": self.provider.value,
            "auth": self.auth.value,
            "docker": self.docker,
        }


def _questions() -> dict[str, Question]:
    found: dict[str, Question] = {}
    for field_name, info in ProjectOptions.model_fields.items():
        for item in info.metadata:
            if isinstance(item, Question):
                found[field_name] = item
    return found


#: Each field's flag and prompt, in prompt order.
QUESTIONS: dict[str, Question] = _questions()


def prompted_fields() -> Iterator[tuple[str, Question]]:
    """The fields asked for interactively (all but NAME), in order."""
    for field_name, question in QUESTIONS.items():
        if field_name != "name":
            yield field_name, question


def choices(field_name: str) -> list[str]:
    """The values a choice field accepts."""
    annotation = ProjectOptions.model_fields[field_name].annotation
    if not (isinstance(annotation, type) and issubclass(annotation, StrEnum)):
        raise TypeError(f"{field_name} is not a choice field")
    return [member.value for member in annotation]


def default_value(field_name: str) -> object:
    """A field's default as the CLI shows it (enum values as plain strings)."""
    default = ProjectOptions.model_fields[field_name].default
    return default.value if isinstance(default, StrEnum) else default


def _usage_error(exc: ValidationError) -> UsageError:
    messages: list[str] = []
    hints: list[str] = []
    for error in exc.errors():
        field_name = str(error["loc"][0]) if error["loc"] else ""
        question = QUESTIONS.get(field_name)
        label = question.flag if question else field_name
        if error["type"] == "enum":
            bad = str(error["input"])
            allowed = choices(field_name)
            close = difflib.get_close_matches(bad.lower(), allowed, n=1, cutoff=0.6)
            suggestion = f" Did you mean '{close[0]}'?" if close else ""
            messages.append(
                f"Invalid value for {label}: '{bad}'. Allowed values: {', '.join(allowed)}."
                + suggestion
            )
            continue
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, InvalidValue):
            messages.append(cause.message)
            if cause.hint:
                hints.append(cause.hint)
            continue
        messages.append(f"Invalid value for {label}: {error['input']!r}: {error['msg']}.")
    return UsageError("\n".join(messages), " ".join(hints) or None)
