"""Grow a generated project by one component, without clobbering user edits.

Every grow command (``add-agent``, ``add-tool``, ``add-widget``, ``add-store``,
``add-file-store``, ``add-auth``, ``add-provider``) is ``add_component``: render the project as
its manifest records it ("before") and with the component added ("after"; for a kind that holds
one value, the new value replaces the old one). Only files that differ between the two renders
concern the command; for each one:

- missing on disk: created;
- already equal to the "after" render: unchanged (so a second run changes nothing);
- ``pyproject.toml``: dependencies merged structurally with tomlkit (never removed);
- no longer rendered: deleted when unchanged since generation, else the command stops;
- unchanged since generation (sha256 equal to the manifest's record): replaced, diff shown;
- edited by the user: README.md and .env.example are left alone with a note; any other file
  stops the command (exit 4) with the exact change for the user to make, nothing written.

Writes are all-or-nothing (``plan.apply_changes``); the manifest records the new components and
the hashes of the files written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from chatkit_scaffold import __version__
from chatkit_scaffold.catalog import load_catalog
from chatkit_scaffold.errors import RefusedError, ScaffoldError, UsageError
from chatkit_scaffold.manifest import (
    MANIFEST_NAME,
    Answers,
    Component,
    Manifest,
    read_manifest,
    sha256,
)
from chatkit_scaffold.options import (
    AGENT_KIND,
    AGENT_VALUE,
    ENTRY_AGENT,
    TOOL_KIND,
    TOOL_VALUES,
    WIDGET_KIND,
    WIDGET_VALUE,
    InvalidValue,
    default_instructions,
    parse_choice,
    validate_agent_name,
    validate_tool_name,
    validate_widget_name,
)
from chatkit_scaffold.plan import Action, FileChange, Plan, apply_changes
from chatkit_scaffold.render import Files, render_project, requirement_name

#: Documentation files: a user edit there never blocks a command; the change is only reported.
_DOCUMENTATION = frozenset({"README.md", ".env.example"})

#: Where a pyproject.toml lists dependencies: (table, key) pairs merged structurally.
DEPENDENCY_ARRAYS = (("project", "dependencies"), ("dependency-groups", "dev"))


def add_component(
    project_dir: Path,
    kind_name: str,
    value: str,
    *,
    name: str | None = None,
    params: Mapping[str, str] | None = None,
    dry_run: bool = False,
) -> Plan:
    """Add one component (replacing the current value of a single-value kind)."""
    root = project_dir.resolve()
    catalog = load_catalog()
    kind = catalog.kind(kind_name)
    manifest = read_current_manifest(root)
    try:
        chosen = str(parse_choice(kind, value, kind.argument))
    except InvalidValue as exc:
        raise UsageError(exc.message, exc.hint) from None
    present = manifest.of_kind(kind.name)
    if kind.cardinality == "named":
        assert name is not None, "a named component needs a name"
        if manifest.named(kind.name, name) is not None:
            return Plan(root, (), (f"The {kind.name} '{name}' is already part of this project.",))
    elif any(component.value == chosen for component in present):
        return Plan(root, (), (f"The {kind.name} '{chosen}' is already part of this project.",))
    added = Component(kind=kind.name, value=chosen, name=name, params=dict(params or {}))
    components = list(manifest.components)
    answers = manifest.answers.model_dump()
    notes: list[str] = []
    if kind.cardinality == "one":
        replaced = present[0]
        components = [c for c in components if c != replaced]
        answers[kind.name] = chosen
        notes.append(f"The {kind.name} '{chosen}' replaces '{replaced.value}'.")
    elif kind.cardinality == "flag":
        answers[kind.name] = True
    components.append(added)
    before = render_project(manifest.answers.model_dump(), manifest.components)
    after = render_project(answers, components)
    if before == after:
        raise ScaffoldError(
            f"The templates of chatkit-scaffold {__version__} render nothing for {added.label}.",
            "This is a bug in chatkit-scaffold's templates; please report it.",
        )
    updated = manifest.model_copy(
        update={"answers": Answers.model_validate(answers), "components": components}
    )
    return grow(root, manifest, updated, before, after, notes=notes, dry_run=dry_run)


def add_agent(
    project_dir: Path, name: str, instructions: str | None = None, *, dry_run: bool = False
) -> Plan:
    """Add a specialist agent; the entry agent discovers it by itself.

    An agent that already exists is left as it is: asking for it again (without instructions or
    with its recorded ones) changes nothing, and asking for other instructions is refused.
    """
    root = project_dir.resolve()
    try:
        validate_agent_name(name)
    except InvalidValue as exc:
        raise UsageError(exc.message, exc.hint) from None
    if instructions is not None and not instructions.strip():
        raise UsageError("Invalid --instructions: empty.", "Give the agent's instructions as text.")
    manifest = read_current_manifest(root)
    recorded = manifest.named(AGENT_KIND, name)
    if recorded is not None:
        module = f"src/{manifest.answers.package_name}/agents/specialists/{name}.py"
        known = recorded.params.get("instructions", "")
        if instructions is not None and instructions.strip() != known.strip():
            raise RefusedError(
                f"The agent '{name}' already exists with other instructions; nothing was written.",
                f"Edit INSTRUCTIONS in {module} to change them, or pick another agent name.",
            )
        return Plan(root, (), (f"The agent '{name}' already exists ({module}); nothing changed.",))
    return add_component(
        root,
        AGENT_KIND,
        AGENT_VALUE,
        name=name,
        params={"instructions": instructions or default_instructions(name)},
        dry_run=dry_run,
    )


def add_tool(
    project_dir: Path,
    name: str,
    kind: str = "server",
    agent: str | None = None,
    *,
    dry_run: bool = False,
) -> Plan:
    """Add a function tool module (``server``, ``client`` or ``approval``) and its test.

    ``agent`` is a specialist of the project (default: the entry agent); the tool module names it
    in ``AGENT``, so no agent module changes. A tool that already exists as asked changes
    nothing; asking for it as another kind or for another agent is refused.
    """
    root = project_dir.resolve()
    if kind not in TOOL_VALUES:
        raise UsageError(
            f"Invalid tool kind '{kind}'.", f"Allowed kinds: {', '.join(TOOL_VALUES)}."
        )
    try:
        validate_tool_name(name)
    except InvalidValue as exc:
        raise UsageError(exc.message, exc.hint) from None
    manifest = read_current_manifest(root)
    owner = ENTRY_AGENT if agent in (None, ENTRY_AGENT) else str(agent)
    agents = [component.name for component in manifest.of_kind(AGENT_KIND) if component.name]
    if owner != ENTRY_AGENT and owner not in agents:
        known = ", ".join(agents) if agents else "none yet (chatkit-scaffold add-agent NAME)"
        raise UsageError(
            f"Invalid --agent '{owner}': this project has no such specialist agent.",
            f"Its specialists: {known}. Leave --agent out for the entry agent.",
        )
    recorded = manifest.named(TOOL_KIND, name)
    if recorded is not None:
        module = f"src/{manifest.answers.package_name}/tools/{name}.py"
        wanted = (kind, owner)
        if (recorded.value, recorded.params.get("agent", ENTRY_AGENT)) != wanted:
            raise RefusedError(
                f"The tool '{name}' already exists as a {recorded.value} tool of "
                f"'{recorded.params.get('agent', ENTRY_AGENT)}'; nothing was written.",
                f"Edit {module} to change it, or pick another tool name.",
            )
        return Plan(root, (), (f"The tool '{name}' already exists ({module}); nothing changed.",))
    return add_component(root, TOOL_KIND, kind, name=name, params={"agent": owner}, dry_run=dry_run)


def add_widget(project_dir: Path, name: str, *, dry_run: bool = False) -> Plan:
    """Add a widget: its ``.widget`` template, typed builder, action handler and test."""
    root = project_dir.resolve()
    try:
        validate_widget_name(name)
    except InvalidValue as exc:
        raise UsageError(exc.message, exc.hint) from None
    return add_component(root, WIDGET_KIND, WIDGET_VALUE, name=name, dry_run=dry_run)


def read_current_manifest(root: Path) -> Manifest:
    """The manifest of a project generated by this version of the tool (else refused)."""
    manifest = read_manifest(root)
    if manifest.tool_version != __version__:
        raise RefusedError(
            f"This project was generated by chatkit-scaffold {manifest.tool_version}; this is "
            f"{__version__}, whose templates differ.",
            "Bring the project to this version first: chatkit-scaffold update",
        )
    return manifest


def grow(
    root: Path,
    manifest: Manifest,
    updated: Manifest,
    before: Files,
    after: Files,
    *,
    notes: Sequence[str] = (),
    dry_run: bool,
) -> Plan:
    """Plan (and unless ``dry_run`` apply) the change from ``before`` to ``after`` on disk."""
    changes: list[FileChange] = []
    all_notes = list(notes)
    blocked: list[str] = []
    hashes = dict(manifest.files)
    for path in sorted(set(before) | set(after)):
        previous = before.get(path)
        rendered = after.get(path)
        if previous is not None and rendered is not None and previous == rendered:
            continue
        on_disk = root / path
        current = on_disk.read_bytes() if on_disk.is_file() else None
        pristine = current is not None and manifest.files.get(path) == sha256(current)
        if rendered is None:
            hashes.pop(path, None)
            if current is None:
                continue
            if pristine:
                changes.append(FileChange(path, Action.DELETE, b"", current))
            else:
                blocked.append(
                    f"{path}: no longer part of the project, but you edited it; move what you "
                    "need elsewhere and delete it."
                )
            continue
        new = rendered.content
        if current == new:
            changes.append(FileChange(path, Action.UNCHANGED, new, current))
            hashes[path] = sha256(new)
        elif current is None:
            changes.append(FileChange(path, Action.CREATE, new, executable=rendered.executable))
            hashes[path] = sha256(new)
        elif path == "pyproject.toml":
            merged = merge_dependencies(current, new, blocked)
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
                all_notes.append(
                    f"{path} was edited, so it was left alone. The template's change:\n"
                    + change.diff()
                )
            elif already_applied(current, change.diff()):
                all_notes.append(f"{path} was edited and already has the change.")
            else:
                blocked.append(f"{path}:\n{change.diff()}")
    if blocked:
        raise RefusedError(
            f"This needs changes to {len(blocked)} file(s) you edited since they were "
            "generated (or that chatkit-scaffold did not make); nothing was written.",
            "Make these changes yourself, then run the command again:\n\n" + "\n".join(blocked),
        )
    final = updated.model_copy(update={"files": hashes})
    if final != manifest:
        current_manifest = (root / MANIFEST_NAME).read_bytes()
        changes.append(FileChange(MANIFEST_NAME, Action.MODIFY, final.to_bytes(), current_manifest))
    plan = Plan(root=root, changes=tuple(changes), notes=tuple(all_notes))
    if not dry_run:
        apply_changes(plan)
    return plan


def already_applied(current: bytes, diff: str) -> bool:
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


def merge_dependencies(current: bytes, generated: bytes, blocked: list[str]) -> bytes:
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
    for table, key in DEPENDENCY_ARRAYS:
        listed = _lookup(wanted, table, key)
        requirements = [str(item) for item in listed] if isinstance(listed, Sequence) else []
        present = _lookup(document, table, key)
        if not isinstance(present, Array):
            if requirements:
                blocked.append(
                    f"pyproject.toml: [{table}] {key} is missing or not a list; add to it:\n"
                    + "\n".join(f'    "{requirement}",' for requirement in requirements)
                )
            continue
        names = {requirement_name(str(item)) for item in present if isinstance(item, str)}
        for requirement in requirements:
            if requirement_name(requirement) not in names:
                present.append(requirement)
    return tomlkit.dumps(document).encode()


def _lookup(document: Mapping[str, object], table: str, key: str) -> object:
    section = document.get(table)
    return section.get(key) if isinstance(section, Mapping) else None


def _listing(document: Mapping[str, object]) -> str:
    lines: list[str] = []
    for table, key in DEPENDENCY_ARRAYS:
        requirements = _lookup(document, table, key)
        if isinstance(requirements, Sequence) and requirements:
            lines.append(f"[{table}] {key}:")
            lines.extend(f'    "{requirement}",' for requirement in requirements)
    return "\n".join(lines)


__all__ = ["add_agent", "add_component", "add_tool", "add_widget", "grow", "read_current_manifest"]
