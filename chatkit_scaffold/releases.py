"""Released template versions: find a frozen snapshot and render it as that release did.

Every release of chatkit-scaffold freezes its ``templates/`` tree into ``releases/<version>/``
(shipped in the wheel as ``chatkit_scaffold/releases/<version>/``), with a ``release.toml`` naming
the version, the commit and the engine that renders it. ``update`` renders the snapshot of the
version a project records to get the base of its three-way merge, so each engine must reproduce,
byte for byte and mode for mode, what that version generated.

Release 0.1.0 rendered its templates with Copier 9. ``render_release_0_1_0`` reproduces that with
Jinja2 alone (no Copier at run time): Copier's sandboxed environment with
``keep_trailing_newline``, the ``.jinja`` suffix, the templates' ``_exclude`` patterns, path
segments rendered one by one (a segment rendering empty drops the file), the ``copier.yml``
defaults and one agent component per specialist. The release test compares it with projects made
by the 0.1.0 wheel itself (tests/test_release_0_1_0.py).
"""

from __future__ import annotations

import fnmatch
import os
import stat
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from chatkit_scaffold.errors import RefusedError, ScaffoldError

_PACKAGE_DIR = Path(__file__).resolve().parent

#: The file describing one snapshot.
RELEASE_FILE = "release.toml"


@dataclass(frozen=True)
class ReleaseFile:
    """One file as a release generated it (the fields of ``render.RenderedFile``)."""

    content: bytes
    executable: bool = False


ReleaseFiles = dict[str, ReleaseFile]


class Agent(Protocol):
    """A specialist as a 0.1.0 manifest recorded it (``Specialist`` fits)."""

    @property
    def name(self) -> str: ...

    @property
    def instructions(self) -> str: ...


@dataclass(frozen=True)
class Specialist:
    """A specialist agent: its name and instructions."""

    name: str
    instructions: str


@dataclass(frozen=True)
class Release:
    """A released template version: its snapshot folder and what ``release.toml`` says."""

    version: str
    commit: str
    engine: str
    path: Path


def releases_root() -> Path:
    """The folder holding one snapshot per release (in the wheel, or at a checkout's root)."""
    for candidate in (_PACKAGE_DIR / "releases", _PACKAGE_DIR.parent / "releases"):
        if candidate.is_dir():
            return candidate
    raise ScaffoldError(
        "The released templates are missing from this installation of chatkit-scaffold.",
        hint="Reinstall the tool: pip install --force-reinstall chatkit-scaffold",
    )


def find_release(version: str) -> Release:
    """The snapshot of ``version``; a version this tool does not know is refused (exit 4)."""
    folder = releases_root() / version
    path = folder / RELEASE_FILE
    if not path.is_file():
        raise RefusedError(
            f"This chatkit-scaffold does not know the templates of version {version}.",
            "Install a chatkit-scaffold at least as new as the one that made the project: "
            "pip install --upgrade chatkit-scaffold",
        )
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return Release(
        version=str(data["version"]),
        commit=str(data["commit"]),
        engine=str(data["engine"]),
        path=folder,
    )


def render_release(
    version: str,
    answers: Mapping[str, object],
    agents: Sequence[Agent],
    stores: Sequence[str],
) -> ReleaseFiles:
    """Render the templates of ``version`` for a project's recorded answers and components."""
    release = find_release(version)
    renderer = RENDERERS.get(release.engine)
    if renderer is None:
        raise ScaffoldError(
            f"The templates of version {version} need the '{release.engine}' engine, which this "
            "chatkit-scaffold does not have.",
            "This is a bug in chatkit-scaffold; please report it.",
        )
    return renderer(release.path, answers, agents, stores)


# --- Release 0.1.0: Copier 9 ----------------------------------------------------------------------

#: The version the 0.1.0 templates write into a project (``tool_version``).
VERSION_0_1_0 = "0.1.0"

#: ``_templates_suffix`` of both 0.1.0 templates.
_SUFFIX = ".jinja"

#: ``_exclude`` of both 0.1.0 templates (Copier's gitignore-style patterns, none with a slash).
_EXCLUDE = ("copier.yml", "~*", "*.py[co]", "__pycache__")

#: Defaults of the project template's ``copier.yml``, for answers a manifest lacks. Strings are
#: Jinja expressions rendered with the answers given so far, as Copier renders them.
_PROJECT_DEFAULTS: tuple[tuple[str, object], ...] = (
    ("package_name", "{{ project_name | lower | replace('-', '_') | replace(' ', '_') }}"),
    ("database", "sqlite"),
    ("file_store", "local"),
    ("provider", "openai"),
    ("auth", "none"),
    ("docker", True),
    ("agents", []),
)


def render_release_0_1_0(
    snapshot_dir: Path,
    answers: Mapping[str, object],
    agents: Sequence[Agent],
    stores: Sequence[str],
) -> ReleaseFiles:
    """Render a 0.1.0 snapshot exactly as chatkit-scaffold 0.1.0 (Copier 9) generated it.

    ``answers`` are the manifest's (project_name, package_name, database, ...), ``agents`` its
    specialists (the CLI always recorded their instructions, so the component's default never
    applies) and ``stores`` its store backends (``[database]`` when empty, Copier's ``stores``
    default). The project template renders once, the agent component once per specialist with
    the project's data plus ``agent_name`` and ``agent_instructions``.
    """
    data: dict[str, object] = dict(answers)
    data["agents"] = [agent.name for agent in agents]
    data["stores"] = list(stores)
    data["tool_version"] = VERSION_0_1_0
    project = _Copier9Template(snapshot_dir / "project")
    for key, default in _PROJECT_DEFAULTS:
        if key not in data:
            data[key] = project.render_default(default, data)
    if not data["stores"]:
        data["stores"] = [data["database"]]
    files = project.render(data)
    component = _Copier9Template(snapshot_dir / "components" / "agent")
    for agent in agents:
        agent_data = {**data, "agent_name": agent.name, "agent_instructions": agent.instructions}
        for path, rendered in component.render(agent_data).items():
            if files.get(path, rendered) != rendered:
                raise ScaffoldError(
                    f"The 0.1.0 agent component '{agent.name}' renders {path}, which the 0.1.0 "
                    "project template renders differently.",
                    "This is a bug in chatkit-scaffold; please report it.",
                )
            files[path] = rendered
    return dict(sorted(files.items()))


class _Copier9Template:
    """One Copier 9 template folder, rendered the way Copier 9.x renders it (no tasks, no VCS)."""

    def __init__(self, root: Path) -> None:
        from jinja2 import FileSystemLoader
        from jinja2.sandbox import SandboxedEnvironment

        if not (root / "copier.yml").is_file():
            raise ScaffoldError(
                f"{root} is not a released template (copier.yml is missing).",
                "Reinstall the tool: pip install --force-reinstall chatkit-scaffold",
            )
        self.root = root
        # Copier's environment: its sandbox, a FileSystemLoader on the template root, the
        # template's ``_envops`` and the default ``jinja2.Undefined``. Copier also loads the
        # Ansible filters and its ``yield`` tag; the 0.1.0 templates use neither (an unknown
        # filter or tag fails to compile here rather than render differently).
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader([str(root.resolve())]),
            keep_trailing_newline=True,
        )

    def render_default(self, default: object, data: Mapping[str, object]) -> object:
        """A ``copier.yml`` default: a string is a template rendered with the data so far."""
        if isinstance(default, str):
            return self.env.from_string(default).render(**data)
        return default

    def render(self, data: Mapping[str, Any]) -> ReleaseFiles:
        """Every file the template renders for ``data``, by path relative to the project."""
        files: ReleaseFiles = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for filename in sorted(filenames):
                source = Path(dirpath, filename)
                relpath = PurePosixPath(source.relative_to(self.root).as_posix())
                target = self._target(relpath, data)
                if target is None:
                    continue
                if relpath.name.endswith(_SUFFIX):
                    template = self.env.get_template(relpath.as_posix())
                    content = template.render(**data).encode()
                else:
                    content = source.read_bytes()
                executable = bool(source.stat().st_mode & stat.S_IXUSR)
                files[target] = ReleaseFile(content, executable)
        return files

    def _target(self, relpath: PurePosixPath, data: Mapping[str, Any]) -> str | None:
        """Where a template file lands, or ``None`` when Copier skips it.

        A plain file with a ``.jinja`` sibling is skipped; ``.jinja`` is stripped; every path
        segment is rendered, and one rendering empty drops the file; the rendered path is then
        matched against ``_exclude``.
        """
        is_template = relpath.name.endswith(_SUFFIX)
        if not is_template and (self.root / f"{relpath}{_SUFFIX}").exists():
            return None
        if is_template:
            relpath = relpath.with_suffix("")
        parts: list[str] = []
        for part in relpath.parts:
            rendered = self.env.from_string(part).render(**data)
            if not rendered:
                return None
            parts.append(rendered)
        target = PurePosixPath(*parts)
        if not is_template and (self.root / f"{target}{_SUFFIX}").exists():
            return None
        if _excluded(target):
            return None
        return target.as_posix()


def _excluded(path: PurePosixPath) -> bool:
    """Whether a gitignore-style pattern without a slash matches any segment of ``path``."""
    return any(fnmatch.fnmatchcase(part, pattern) for part in path.parts for pattern in _EXCLUDE)


#: Renderers by ``release.toml`` engine; the engine of later releases registers here too.
RENDERERS: dict[
    str,
    Callable[[Path, Mapping[str, object], Sequence[Agent], Sequence[str]], ReleaseFiles],
] = {"copier-9": render_release_0_1_0}
