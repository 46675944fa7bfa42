"""Render a project in memory: the core plus its components, ``{relative path: RenderedFile}``.

Templates are rendered with Jinja2 directly, following Copier's conventions: a file ending in
``.jinja`` is a template (the suffix is dropped), any other file is copied as is, and every path
segment may hold Jinja (``{{ package_name }}``); a segment that renders empty drops the file.

Every template sees the same context (see ``_context``): the answers, the components, and what
the components declare, merged (dependencies, settings, and any table through ``collect`` and
``merged``). A shared file such as ``pyproject.toml`` loops over that data; it never branches on
an option's value. A component's own files also see ``component`` (its kind, value, name and
parameters). Nothing here writes to the user's tree.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from chatkit_scaffold import __version__
from chatkit_scaffold.catalog import (
    CORE,
    FILES_FOLDER,
    FRAGMENTS_FOLDER,
    Catalog,
    ComponentSpec,
    Setting,
    load_catalog,
)
from chatkit_scaffold.errors import ScaffoldError

if TYPE_CHECKING:
    import jinja2

    from chatkit_scaffold.manifest import Component

TEMPLATE_SUFFIX = ".jinja"

#: File names never rendered into a project.
_IGNORED = re.compile(r"(^__pycache__$|\.py[co]$|^~)")


@dataclass(frozen=True)
class RenderedFile:
    """One rendered file."""

    content: bytes
    executable: bool = False


Files = dict[str, RenderedFile]


class TemplateBug(ScaffoldError):
    """A template that does not render: always a bug in chatkit-scaffold's templates."""

    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            "This is a bug in chatkit-scaffold's templates; please report it with the command "
            "you ran.",
        )


@dataclass(frozen=True)
class ComponentView:
    """A component as templates see it: its declaration and, for named kinds, its name."""

    spec: ComponentSpec
    name: str = ""
    params: Mapping[str, str] = field(default_factory=dict)
    is_default: bool = True

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def value(self) -> str:
        return self.spec.value

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def summary(self) -> str:
        return self.spec.summary

    @cached_property
    def declaration(self) -> Mapping[str, Any]:
        """The declaration, with its ``[when_default]`` table merged in when it is the default."""
        data = dict(self.spec.declaration)
        extra = data.pop("when_default", {})
        if self.is_default and isinstance(extra, Mapping):
            data = _deep_merge(data, extra, f"{self.key} when_default")
        return data

    def get(self, path: str, default: Any = None) -> Any:
        """A value of the declaration by dotted path (``compose.volumes``)."""
        node: Any = self.declaration
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node


def render_project(
    answers: Mapping[str, Any],
    components: Sequence[Component],
    *,
    catalog: Catalog | None = None,
    tool_version: str = __version__,
) -> Files:
    """Render the core and every component of a project (validated against the catalog)."""
    catalog = catalog or load_catalog()
    views = resolve(catalog, answers, components)
    renderer = _Renderer(catalog, answers, views, tool_version)
    return renderer.render()


def setup_steps_for(
    answers: Mapping[str, Any], components: Sequence[Component], catalog: Catalog | None = None
) -> list[str]:
    """What a user must fill in before the first start of such a project (see ``setup_steps``)."""
    views = resolve(catalog or load_catalog(), answers, components)
    return setup_steps(views, merge_settings(views))


def resolve(
    catalog: Catalog, answers: Mapping[str, Any], components: Sequence[Component]
) -> list[ComponentView]:
    """The core, the components in catalog order, then the parts they include (once each)."""
    by_kind: dict[str, list[Component]] = {}
    for component in components:
        by_kind.setdefault(component.kind, []).append(component)
    unknown = sorted(set(by_kind) - set(catalog.kinds))
    if unknown:
        raise ScaffoldError(f"Unknown component kind(s): {', '.join(unknown)}.")
    views = [ComponentView(catalog.core)]
    for kind in catalog.kinds.values():
        default = answers.get(kind.name)
        for component in by_kind.get(kind.name, []):
            spec = catalog.spec(kind.name, component.value)
            is_default = kind.cardinality != "many" or component.value == default
            views.append(
                ComponentView(spec, component.name or "", dict(component.params), is_default)
            )
    seen = {view.key for view in views}
    parts: list[ComponentView] = []
    for view in views:
        for part in view.spec.parts:
            if part not in seen:
                kind_name, _, value = part.partition("/")
                parts.append(ComponentView(catalog.spec(kind_name, value)))
                seen.add(part)
    return views + parts


class _Renderer:
    def __init__(
        self,
        catalog: Catalog,
        answers: Mapping[str, Any],
        views: list[ComponentView],
        tool_version: str,
    ) -> None:
        self.catalog = catalog
        self.views = views
        self.env = _environment(catalog.root)
        self._segments: dict[str, jinja2.Template] = {}
        settings = merge_settings(views)
        self.context: dict[str, Any] = {
            "project_name": answers["project_name"],
            "package_name": answers["package_name"],
            "tool_version": tool_version,
            "answers": dict(answers),
            "components": views,
            "installed": _installed(catalog, views),
            "named": _named(catalog, views),
            "dependencies": merge_requirements(
                (req, view.key) for view in views for req in view.get("dependencies", [])
            ),
            "dev_dependencies": merge_requirements(
                (req, view.key) for view in views for req in view.get("dev_dependencies", [])
            ),
            "settings": settings,
            "setup": setup_steps(views, settings),
            "collect": self.collect,
            "merged": self.merged,
            "fragments": self.fragments,
        }

    def render(self) -> Files:
        files: Files = {}
        owners: dict[str, str] = {}
        for view in self.views:
            for path, rendered in self._render_component(view).items():
                if path in files and files[path] != rendered:
                    raise TemplateBug(
                        f"The components {owners[path]} and {view.key} both render {path}."
                    )
                files[path] = rendered
                owners[path] = view.key
        return dict(sorted(files.items()))

    def collect(self, path: str) -> list[Any]:
        """Every component's list at ``path``, concatenated in component order."""
        items: list[Any] = []
        for view in self.views:
            value = view.get(path, [])
            items.extend(value if isinstance(value, list) else [value])
        return items

    def merged(self, path: str) -> dict[str, Any]:
        """Every component's table at ``path``, merged (a key given twice must agree)."""
        result: dict[str, Any] = {}
        for view in self.views:
            value = view.get(path, {})
            if isinstance(value, Mapping):
                result = _deep_merge(result, value, f"{view.key} {path}")
        return result

    def fragments(self, name: str) -> str:
        """Every component's ``fragments/<name>[.jinja]``, rendered and concatenated."""
        parts: list[str] = []
        for view in self.views:
            folder = view.spec.folder / FRAGMENTS_FOLDER
            for candidate in (folder / name, folder / f"{name}{TEMPLATE_SUFFIX}"):
                if candidate.is_file():
                    parts.append(self._render_text(candidate, view))
        return "".join(parts)

    def _render_component(self, view: ComponentView) -> Files:
        root = view.spec.folder / FILES_FOLDER
        if not root.is_dir():
            return {}
        files: Files = {}
        context = {**self.context, "component": view}
        for source in sorted(root.rglob("*")):
            if not source.is_file() or any(_IGNORED.search(p) for p in source.parts):
                continue
            relative = source.relative_to(root)
            target = self._render_path(relative, context, view)
            if target is None:
                continue
            if source.name.endswith(TEMPLATE_SUFFIX):
                content = self._render_text(source, view).encode()
            else:
                content = source.read_bytes()
            executable = bool(source.stat().st_mode & 0o100)
            files[target] = RenderedFile(content, executable)
        return files

    def _render_path(
        self, relative: Path, context: Mapping[str, Any], view: ComponentView
    ) -> str | None:
        parts: list[str] = []
        last = len(relative.parts) - 1
        for index, part in enumerate(relative.parts):
            if index == last:
                # Copier's conditional file: `{% if x %}name.yaml{% endif %}.jinja` is dropped
                # when the name renders empty, so the suffix is taken off before rendering.
                part = part.removesuffix(TEMPLATE_SUFFIX)
            if "{" in part:
                try:
                    part = self._segment_template(part).render(context)
                except Exception as exc:
                    raise TemplateBug(
                        f"The path {relative} of {view.key} does not render: {exc}"
                    ) from exc
            if not part:
                return None
            parts.append(part)
        return str(PurePosixPath(*parts))

    def _segment_template(self, segment: str) -> jinja2.Template:
        """A path segment's template, compiled once per render (most files share a few)."""
        template = self._segments.get(segment)
        if template is None:
            template = self._segments[segment] = self.env.from_string(segment)
        return template

    def _render_text(self, source: Path, view: ComponentView) -> str:
        name = source.relative_to(self.catalog.root).as_posix()
        try:
            template = self.env.get_template(name)
            return template.render({**self.context, "component": view})
        except ScaffoldError:
            raise
        except Exception as exc:  # Jinja raises many unrelated exception types
            raise TemplateBug(f"Rendering {name} failed: {type(exc).__name__}: {exc}") from exc


@functools.cache
def _environment(root: Path) -> jinja2.Environment:
    """The Jinja environment of a template root, one per process.

    Compiling the templates is most of a render's time, so the environment is shared by every
    render of the process (``add-*`` render a project twice) and keeps compiled templates on disk
    between runs (``bytecode_cache``); both reuse a template only while its source is unchanged.
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(root),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        bytecode_cache=bytecode_cache(),
    )
    env.filters["py"] = python_literal
    env.filters["ident"] = identifier
    return env


def cache_folder() -> Path:
    """Where compiled templates are kept: ``$XDG_CACHE_HOME/chatkit-scaffold/jinja``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chatkit-scaffold" / "jinja"


def bytecode_cache() -> jinja2.BytecodeCache | None:
    """A per-user cache of compiled templates, or None where no cache folder can be made.

    Jinja keys an entry by the template's path and checks its source and the Python and Jinja
    versions before using it, so a stale entry is recompiled, never run.
    """
    import jinja2

    class QuietCache(jinja2.FileSystemBytecodeCache):
        """A cache that never fails a render: an entry it cannot write is skipped."""

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            with contextlib.suppress(OSError):
                super().dump_bytecode(bucket)

    folder = cache_folder()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return QuietCache(str(folder))


def python_literal(value: Any, indent: int | None = None) -> str:
    """A TOML value as Python source, in the style ruff format keeps (double quotes).

    With ``indent`` (the column of the line it starts on), a list too long for one line is
    written one item per line, with a trailing comma, as ruff format would.
    """
    if isinstance(value, list) and indent is not None:
        flat = python_literal(value)
        if len(flat) > 60:
            inner = " " * (indent + 4)
            lines = "".join(f"{inner}{python_literal(item)},\n" for item in value)
            return f"[\n{lines}{' ' * indent}]"
        return flat
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(python_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{python_literal(key)}: {python_literal(item)}" for key, item in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise TemplateBug(f"No Python literal for {value!r}.")


def identifier(value: str) -> str:
    """A name usable as a Python identifier (``openai-compatible`` -> ``openai_compatible``)."""
    return re.sub(r"\W", "_", value)


def _installed(catalog: Catalog, views: Iterable[ComponentView]) -> dict[str, list[str]]:
    """Values present per kind, e.g. ``{"database": ["sqlite", "postgres"], "docker": []}``."""
    result: dict[str, list[str]] = {kind: [] for kind in catalog.kinds}
    for view in views:
        if view.kind != CORE and not view.spec.is_part and not view.name:
            result[view.kind].append(view.value)
    return result


def _named(catalog: Catalog, views: Iterable[ComponentView]) -> dict[str, list[ComponentView]]:
    """Named components per kind, e.g. ``{"agent": [<billing>, <support>]}``."""
    result: dict[str, list[ComponentView]] = {kind: [] for kind in catalog.kinds}
    for view in views:
        if view.name:
            result[view.kind].append(view)
    return result


_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?\s*(.*)$")


def requirement_name(requirement: str) -> str:
    """The normalized distribution name of a PEP 508 requirement."""
    match = _REQUIREMENT.match(requirement)
    name = match.group(1) if match else requirement
    return re.sub(r"[-_.]+", "-", name).lower()


def merge_requirements(requirements: Iterable[tuple[str, str]]) -> list[str]:
    """Requirements in first-seen order; one distribution named twice gets its extras merged.

    Two components asking for the same distribution must give the same version specifier.
    """
    merged: dict[str, tuple[str, list[str], str, str]] = {}
    for requirement, owner in requirements:
        match = _REQUIREMENT.match(requirement)
        if not match:
            raise TemplateBug(f"{owner}: invalid requirement {requirement!r}.")
        name, extras_text, specifier = match.groups()
        extras = [extra.strip() for extra in (extras_text or "").split(",") if extra.strip()]
        key = requirement_name(name)
        if key not in merged:
            merged[key] = (name, extras, specifier.strip(), owner)
            continue
        _, first_extras, first_specifier, first_owner = merged[key]
        if first_specifier != specifier.strip():
            raise TemplateBug(
                f"{first_owner} and {owner} ask for {key} with different versions "
                f"({first_specifier!r} and {specifier.strip()!r})."
            )
        for extra in extras:
            if extra not in first_extras:
                first_extras.append(extra)
    result = []
    for name, extras, specifier, _ in merged.values():
        extra_text = f"[{','.join(sorted(extras))}]" if extras else ""
        result.append(f"{name}{extra_text}{specifier}")
    return result


@dataclass(frozen=True)
class SettingView:
    """A setting as templates see it: the declaration and the component declaring it."""

    setting: Setting
    component: ComponentView
    examples: tuple[str, ...]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.setting, name)

    @property
    def example_value(self) -> str:
        """The value ``.env.example`` gives: the default (or its example), never a secret."""
        setting = self.setting
        if setting.secret or setting.optional:
            return ""
        if isinstance(setting.default, list):
            return ",".join(str(item) for item in setting.default)
        if isinstance(setting.default, bool):
            return "true" if setting.default else "false"
        if setting.default is not None:
            return str(setting.default)
        return setting.example

    @property
    def hint(self) -> str:
        """What ``.env.example`` says after the doc line: required, or an example value."""
        setting = self.setting
        if setting.required:
            return " (required)"
        if setting.required_when_selected:
            return f" (required when LLM_PROVIDER is {self.component.value})"
        return ""


def merge_settings(views: Sequence[ComponentView]) -> list[SettingView]:
    """Every declared setting once, in component order.

    A variable declared by several values of one kind (``DATABASE_URL`` by each database) is
    taken from the default value; the others only add their examples.
    """
    chosen: dict[str, SettingView] = {}
    examples: dict[str, list[str]] = {}
    for view in views:
        for setting in view.spec.settings:
            examples.setdefault(setting.env, [])
            if setting.example and setting.example not in examples[setting.env]:
                examples[setting.env].append(setting.example)
            current = chosen.get(setting.env)
            if current is None:
                chosen[setting.env] = SettingView(setting, view, ())
            elif current.component.kind != view.kind:
                raise TemplateBug(
                    f"{current.component.key} and {view.key} both declare {setting.env}."
                )
            elif view.is_default and not current.component.is_default:
                chosen[setting.env] = SettingView(setting, view, ())
    merged = [
        SettingView(item.setting, item.component, tuple(examples[env]))
        for env, item in chosen.items()
    ]
    order = [str(name) for name in views[0].get("section_order", [])]
    for item in merged:
        if item.setting.section not in order:
            order.append(item.setting.section)
    return sorted(merged, key=lambda item: order.index(item.setting.section))


def setup_steps(views: Sequence[ComponentView], settings: Sequence[SettingView]) -> list[str]:
    """What a user must fill in before the first start, in Markdown (``OPENAI_API_KEY``...).

    The default provider's setup text, every required variable, and each group of which one
    must be set.
    """
    steps: list[str] = []
    for view in views:
        text = view.get("readme.setup")
        if text and view.is_default:
            steps.append(str(text))
    steps += [f"`{setting.env}`" for setting in settings if setting.required]
    for view in views:
        for check in view.get("checks", []):
            if "one_of" in check:
                steps.append(" or ".join(f"`{env}`" for env in check["one_of"]))
    return steps


def _deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any], where: str) -> dict[str, Any]:
    result = dict(base)
    for key, value in extra.items():
        if key not in result:
            result[key] = value
        elif isinstance(result[key], Mapping) and isinstance(value, Mapping):
            result[key] = _deep_merge(result[key], value, where)
        elif isinstance(result[key], list) and isinstance(value, list):
            result[key] = [*result[key], *(item for item in value if item not in result[key])]
        elif result[key] != value:
            raise TemplateBug(f"{where}: '{key}' is declared twice with different values.")
    return result
