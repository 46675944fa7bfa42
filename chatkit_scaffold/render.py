"""Render Copier templates into memory: ``{relative path: RenderedFile}``.

Copier is imported lazily (it costs about 0.3 s), so ``--help`` and argument errors stay fast.
Rendering happens in a throw-away folder; nothing here writes to the user's tree.
"""

from __future__ import annotations

import os
import stat
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from chatkit_scaffold import __version__
from chatkit_scaffold.errors import ScaffoldError
from chatkit_scaffold.manifest import AgentComponent
from chatkit_scaffold.templates import component_template, project_template


@dataclass(frozen=True)
class RenderedFile:
    """One rendered file."""

    content: bytes
    executable: bool = False


Files = dict[str, RenderedFile]


def render_template(template: Path, data: Mapping[str, object]) -> Files:
    """Render one Copier template with ``data`` as the answers (no prompts)."""
    from copier import run_copy

    with tempfile.TemporaryDirectory(prefix="chatkit-scaffold-render-") as tmp:
        out = Path(tmp) / "out"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run_copy(
                    str(template),
                    out,
                    data=dict(data),
                    defaults=True,
                    overwrite=True,
                    quiet=True,
                    unsafe=True,
                )
        except Exception as exc:  # copier and Jinja raise many unrelated exception types
            raise ScaffoldError(
                f"Rendering the template '{template.name}' failed: {type(exc).__name__}: {exc}",
                "This is a bug in chatkit-scaffold's templates; please report it with the "
                "command you ran.",
            ) from exc
        return _read_tree(out)


def render_project(
    answers: Mapping[str, object], agents: Sequence[AgentComponent], stores: Sequence[str]
) -> Files:
    """Render the project template plus one agent component per specialist agent.

    ``stores`` lists every store backend the project has (``database`` is the default one), so
    templates add a backend's parts with ``'postgres' in stores``.
    """
    data: dict[str, object] = {
        **answers,
        "agents": [agent.name for agent in agents],
        "stores": list(stores),
        "tool_version": __version__,
    }
    files = render_template(project_template(), data)
    for agent in agents:
        component = render_template(
            component_template("agent"),
            {**data, "agent_name": agent.name, "agent_instructions": agent.instructions},
        )
        for path, rendered in component.items():
            if path in files and files[path] != rendered:
                raise ScaffoldError(
                    f"The agent component '{agent.name}' renders {path}, which the project "
                    "template renders differently.",
                    "This is a bug in chatkit-scaffold's templates; please report it.",
                )
            files[path] = rendered
    return files


def _read_tree(root: Path) -> Files:
    files: Files = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for filename in filenames:
            path = Path(dirpath, filename)
            mode = path.stat().st_mode
            files[path.relative_to(root).as_posix()] = RenderedFile(
                path.read_bytes(), executable=bool(mode & stat.S_IXUSR)
            )
    return dict(sorted(files.items()))
