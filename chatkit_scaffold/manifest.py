"""``.chatkit-scaffold.json``: what was generated, so later commands know the project.

It records the tool version, the answers, the components (agents, stores) and the sha256 of
every generated file as generated; ``add-agent`` and ``add-store`` compare a file on disk with its
recorded hash to tell the user's edits from the tool's output.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from chatkit_scaffold.errors import RefusedError

MANIFEST_NAME = ".chatkit-scaffold.json"
MANIFEST_VERSION = 1


class Answers(BaseModel):
    """The answers a project was generated with (the Copier data, minus components)."""

    model_config = ConfigDict(extra="allow")

    project_name: str
    package_name: str
    database: str
    file_store: str
    provider: str
    auth: str
    docker: bool


class AgentComponent(BaseModel):
    """A specialist agent added by ``new --agent`` or ``add-agent``."""

    name: str
    instructions: str


class Components(BaseModel):
    """Parts added on top of the project template."""

    agents: list[AgentComponent] = []
    stores: list[str] = []

    def agent(self, name: str) -> AgentComponent | None:
        """The recorded agent of that name, if any."""
        return next((agent for agent in self.agents if agent.name == name), None)


class Manifest(BaseModel):
    """The content of ``.chatkit-scaffold.json``."""

    manifest_version: int = MANIFEST_VERSION
    tool_version: str
    template_version: str
    answers: Answers
    components: Components
    files: dict[str, str]

    def to_bytes(self) -> bytes:
        """The file's bytes: stable, indented JSON with a final newline."""
        data = self.model_dump(mode="json")
        data["files"] = dict(sorted(self.files.items()))
        return (json.dumps(data, indent=2) + "\n").encode()


def sha256(content: bytes) -> str:
    """The hex digest recorded for a file's content."""
    return hashlib.sha256(content).hexdigest()


def read_manifest(project_dir: Path) -> Manifest:
    """Load a project's manifest; a folder that is not a generated project is refused."""
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
        manifest = Manifest.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'file'}: {error['msg']}"
            for error in exc.errors()
        )
        raise RefusedError(
            f"{path} is not a valid chatkit-scaffold manifest ({problems}).",
            "Restore it from version control; the tool needs it to know the project.",
        ) from None
    if manifest.manifest_version > MANIFEST_VERSION:
        raise RefusedError(
            f"{path} was written by a newer chatkit-scaffold (manifest version "
            f"{manifest.manifest_version}).",
            "Upgrade the tool: pip install --upgrade chatkit-scaffold",
        )
    return manifest
