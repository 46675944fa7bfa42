"""A small Dockerfile reader: stages of (instruction, arguments), enough to check and replay."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Stage:
    """One ``FROM`` stage: its base image, its name and its instructions in order."""

    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, instruction: str) -> list[str]:
        """Arguments of every ``instruction`` (upper case, e.g. ``RUN``) of the stage."""
        return [args for name, args in self.instructions if name == instruction]

    def env(self) -> dict[str, str]:
        """Variables set by the stage's ``ENV`` instructions (``KEY=value`` form)."""
        values: dict[str, str] = {}
        for args in self.all("ENV"):
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                values[key] = value
        return values


def shell_command(run_args: str) -> str:
    """The command of a ``RUN`` instruction, without its ``--mount=...``-style options."""
    words = run_args.split(" ")
    while words and words[0].startswith("--"):
        words.pop(0)
    return " ".join(words)


def exec_form(args: str) -> list[str]:
    """The argument list of an exec-form instruction (``["a", "b"]``)."""
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(part, str) for part in value), args
    return value


def read_stages(path: Path) -> list[Stage]:
    """The stages of the Dockerfile at ``path`` (line continuations joined, comments dropped)."""
    lines: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].strip() + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    stages: list[Stage] = []
    for line in lines:
        instruction, _, args = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            image, _, alias = args.partition(" AS ")
            stages.append(Stage(image.strip(), alias.strip() or None))
        elif stages:
            stages[-1].instructions.append((instruction, args.strip()))
    return stages


def dockerignore_allows(project: Path) -> list[str]:
    """The paths a ``*``-then-``!path`` style ``.dockerignore`` lets into the build context."""
    patterns = [
        line.strip()
        for line in (project / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "the .dockerignore should start by excluding everything"
    return [pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")]
