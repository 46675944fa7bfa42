"""``add_agent`` and ``add_store``: grow a generated project without clobbering user edits.

Both render the project twice, as recorded in its manifest ("before") and with the new component
("after"): an added agent renders one more agent component; an added store extends the
``stores`` answer (the templates add a backend's parts with ``'postgres' in stores``, while
``database``, the default backend, never changes). Only files that differ between the two
renders concern the command; for each one:

- missing on disk: created;
- already equal to the "after" render: unchanged (so a second run changes nothing);
- ``pyproject.toml``: dependencies merged structurally with tomlkit (never removed);
- unchanged since generation (sha256 equal to the manifest's record): replaced, diff shown;
- edited by the user: README.md and .env.example are left alone with a note; any other file
  stops the command (exit 4) with the exact change for the user to make, nothing written.

Writes are all-or-nothing (``plan.apply_changes``); the manifest records the new component and
the hashes of the files written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from chatkit_scaffold import __version__
from chatkit_scaffold.errors import RefusedError, ScaffoldError, UsageError
from chatkit_scaffold.manifest import (
    MANIFEST_NAME,
    AgentComponent,
    Components,
    Manifest,
    read_manifest,
    sha256,
)
from chatkit_scaffold.options import (
    Database,
    InvalidValue,
    ProjectOptions,
    default_instructions,
    validate_agent_name,
)
from chatkit_scaffold.plan import Action, FileChange, Plan, apply_changes
from chatkit_scaffold.render import Files, render_project

#: Documentation files: a user edit there never blocks a command; the change is only reported.
_DOCUMENTATION = frozenset({"README.md", ".env.example"})

#: Where a pyproject.toml lists dependencies: (table, key) pairs merged structurally.
_DEPENDENCY_ARRAYS = (("project", "dependencies"), ("dependency-groups", "dev"))


def add_agent(
    project_dir: Path, name: str, instructions: str | None = None, *, dry_run: bool = False
) -> Plan:
    """Add a specialist agent; the entry agent discovers it by itself.

    An agent that already exists is left as it is: asking for it again (without instructions or
    with its recorded ones) changes nothing, and asking for other instructions is refused.
    """
    root = project_dir.resolve()
    manifest = read_manifest(root)
    try:
        validate_agent_name(name)
    except InvalidValue as exc:
        raise UsageError(exc.message, exc.hint) from None
    if instructions is not None and not instructions.strip():
        raise UsageError("Invalid --instructions: empty.", "Give the agent's instructions as text.")
    recorded = manifest.components.agent(name)
    if recorded is not None:
        return _existing_agent(root, manifest, recorded, instructions)
    added = AgentComponent(name=name, instructions=instructions or default_instructions(name))
    before = manifest.components.agents
    after = [*before, added]
    answers = manifest.answers.model_dump()
    stores = manifest.components.stores
    return _grow(
        root,
        manifest,
        before=render_project(answers, before, stores),
        after=render_project(answers, after, stores),
        components=manifest.components.model_copy(update={"agents": after}),
        dry_run=dry_run,
    )


def _existing_agent(
    root: Path, manifest: Manifest, recorded: AgentComponent, instructions: str | None
) -> Plan:
    """An empty plan for an agent asked for again, or a refusal if its instructions differ."""
    module = f"src/{manifest.answers.package_name}/agents/specialists/{recorded.name}.py"
    if instructions is not None and instructions.strip() != recorded.instructions.strip():
        raise RefusedError(
            f"The agent '{recorded.name}' already exists with other instructions; nothing was "
            "written.",
            f"Edit INSTRUCTIONS in {module} to change them, or pick another agent name.",
        )
    return Plan(
        root=root,
        changes=(),
        notes=(f"The agent '{recorded.name}' already exists ({module}); nothing changed.",),
    )


def add_store(project_dir: Path, backend: str, *, dry_run: bool = False) -> Plan:
    """Add a store backend (module, dependency, compose service, tests)."""
    root = project_dir.resolve()
    manifest = read_manifest(root)
    database = _parse_backend(backend)
    if database.value in manifest.components.stores:
        return Plan(
            root=root,
            changes=(),
            notes=(f"The {database.value} store is already part of this project.",),
        )
    answers = manifest.answers.model_dump()
    agents = manifest.components.agents
    stores = manifest.components.stores
    before = render_project(answers, agents, stores)
    after = render_project(answers, agents, [*stores, database.value])
    if before == after:
        raise ScaffoldError(
            f"The templates of chatkit-scaffold {__version__} render nothing for an added "
            f"{database.value} store.",
            "This is a bug in chatkit-scaffold's templates; please report it.",
        )
    return _grow(
        root,
        manifest,
        before=before,
        after=after,
        components=manifest.components.model_copy(update={"stores": [*stores, database.value]}),
        dry_run=dry_run,
    )


def _parse_backend(backend: str) -> Database:
    try:
        return ProjectOptions.parse({"name": "project", "database": backend}).database
    except UsageError as exc:
        raise UsageError(exc.message.replace("--database", "BACKEND", 1), exc.hint) from None


def _grow(
    root: Path,
    manifest: Manifest,
    *,
    before: Files,
    after: Files,
    components: Components,
    dry_run: bool,
) -> Plan:
    changes: list[FileChange] = []
    notes: list[str] = []
    blocked: list[str] = []
    hashes = dict(manifest.files)
    for path, rendered in after.items():
        previous = before.get(path)
        if previous is not None and previous.content == rendered.content:
            continue
        new = rendered.content
        on_disk = root / path
        current = on_disk.read_bytes() if on_disk.is_file() else None
        pristine = current is not None and manifest.files.get(path) == sha256(current)
        if current == new:
            changes.append(FileChange(path, Action.UNCHANGED, new, current))
            hashes[path] = sha256(new)
        elif current is None:
            changes.append(FileChange(path, Action.CREATE, new, executable=rendered.executable))
            hashes[path] = sha256(new)
        elif path == "pyproject.toml":
            merged = _merge_dependencies(current, new, blocked)
            action = Action.UNCHANGED if merged == current else Action.MODIFY
            changes.append(FileChange(path, action, merged, current))
            if pristine:
                hashes[path] = sha256(merged)
        elif pristine:
            changes.append(FileChange(path, Action.MODIFY, new, current))
            hashes[path] = sha256(new)
        else:
            change = FileChange(path, Action.MODIFY, new, previous.content if previous else None)
            if path in _DOCUMENTATION:
                notes.append(
                    f"{path} was edited, so it was left alone. The template's change:\n"
                    + change.diff()
                )
            elif _already_applied(current, change.diff()):
                notes.append(f"{path} was edited and already has the change.")
            else:
                blocked.append(f"{path}:\n{change.diff()}")
    if blocked:
        raise RefusedError(
            f"This needs changes to {len(blocked)} file(s) you edited since they were "
            "generated (or that chatkit-scaffold did not make); nothing was written.",
            "Make these changes yourself, then run the command again:\n\n" + "\n".join(blocked),
        )
    updated = manifest.model_copy(update={"components": components, "files": hashes})
    if updated != manifest:
        current_manifest = (root / MANIFEST_NAME).read_bytes()
        changes.append(
            FileChange(MANIFEST_NAME, Action.MODIFY, updated.to_bytes(), current_manifest)
        )
    plan = Plan(root=root, changes=tuple(changes), notes=tuple(notes))
    if not dry_run:
        apply_changes(plan)
    return plan


def _already_applied(current: bytes, diff: str) -> bool:
    """Whether every block of lines a diff adds is already in the file (the user pasted it)."""
    text = current.decode(errors="replace")
    blocks: list[list[str]] = []
    block: list[str] = []
    for line in diff.splitlines()[2:]:
        if line.startswith("+"):
            block.append(line[1:])
            continue
        if block:
            blocks.append(block)
            block = []
    if block:
        blocks.append(block)
    return bool(blocks) and all("\n".join(lines) in text for lines in blocks)


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else requirement


def _merge_dependencies(current: bytes, generated: bytes, blocked: list[str]) -> bytes:
    """Add the generated pyproject's missing dependencies to the project's, structurally."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError
    from tomlkit.items import Array

    wanted = tomlkit.parse(generated.decode())
    try:
        document = tomlkit.parse(current.decode())
    except (TOMLKitError, UnicodeDecodeError) as exc:
        blocked.append(f"pyproject.toml (does not parse: {exc}): add\n{_listing(wanted)}")
        return current
    for table, key in _DEPENDENCY_ARRAYS:
        listed = _lookup(wanted, table, key)
        requirements = [str(item) for item in listed] if isinstance(listed, Sequence) else []
        present = _lookup(document, table, key)
        if not isinstance(present, Array):
            missing = requirements
            if missing:
                blocked.append(
                    f"pyproject.toml: [{table}] {key} is missing or not a list; add to it:\n"
                    + "\n".join(f'    "{requirement}",' for requirement in missing)
                )
            continue
        names = {_requirement_name(str(item)) for item in present if isinstance(item, str)}
        for requirement in requirements:
            if _requirement_name(requirement) not in names:
                present.append(requirement)
    return tomlkit.dumps(document).encode()


def _lookup(document: Mapping[str, object], table: str, key: str) -> object:
    section = document.get(table)
    return section.get(key) if isinstance(section, Mapping) else None


def _listing(document: Mapping[str, object]) -> str:
    lines: list[str] = []
    for table, key in _DEPENDENCY_ARRAYS:
        requirements = _lookup(document, table, key)
        if isinstance(requirements, Sequence) and requirements:
            lines.append(f"[{table}] {key}:")
            lines.extend(f'    "{requirement}",' for requirement in requirements)
    return "\n".join(lines)
