"""``new_project``: the library entry point behind ``chatkit-scaffold new``."""

from __future__ import annotations

from pathlib import Path

from chatkit_scaffold import __version__
from chatkit_scaffold.manifest import MANIFEST_NAME, Answers, Manifest, sha256
from chatkit_scaffold.options import ProjectOptions
from chatkit_scaffold.plan import Action, FileChange, Plan, apply_new_project, ensure_empty_target
from chatkit_scaffold.render import render_project


def new_project(options: ProjectOptions, target: Path, *, dry_run: bool = False) -> Plan:
    """Generate a project into ``target`` (which must be missing or empty) and return the plan.

    The project is the core plus one component per option value and per agent. With
    ``dry_run`` nothing is written; the plan still lists every file, the manifest included.
    """
    target = target.resolve()
    ensure_empty_target(target)
    answers = options.answers()
    components = options.components()
    files = render_project(answers, components)
    manifest = Manifest(
        tool_version=__version__,
        answers=Answers.model_validate(answers),
        components=components,
        files={path: sha256(rendered.content) for path, rendered in files.items()},
    )
    changes = [
        FileChange(path, Action.CREATE, rendered.content, executable=rendered.executable)
        for path, rendered in files.items()
    ]
    changes.append(FileChange(MANIFEST_NAME, Action.CREATE, manifest.to_bytes()))
    plan = Plan(root=target, changes=tuple(sorted(changes, key=lambda change: change.path)))
    if not dry_run:
        apply_new_project(plan)
    return plan
