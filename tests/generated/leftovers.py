"""Find template syntax or template tooling left in a generated project."""

from __future__ import annotations

import json
from pathlib import Path

#: Folders and files the project's own tooling creates after generation.
_TOOL_OUTPUT = {".venv", ".pytest_cache", ".mypy_cache", ".ruff_cache", "__pycache__", "uv.lock"}
_MARKERS = ("{{", "{%", "{#", "copier")


def template_leftovers(project: Path) -> list[str]:
    """Every generated path or line holding Jinja syntax, a ``.jinja`` name or ``copier``."""
    found = []
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        if _TOOL_OUTPUT.intersection(relative.parts):
            continue
        if path.suffix == ".jinja" or any(marker in str(relative) for marker in _MARKERS):
            found.append(f"{relative}: template name")
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".widget":
            text = _without_widget_template(text)
        for number, line in enumerate(text.splitlines(), start=1):
            if any(marker in line.lower() for marker in _MARKERS):
                found.append(f"{relative}:{number}: {line.strip()}")
    return found


def _without_widget_template(text: str) -> str:
    """A ChatKit ``.widget`` file's ``template`` is Jinja on purpose: the SDK renders it at run
    time. Everything else in the file must still be plain."""
    widget = json.loads(text)
    widget.pop("template", None)
    return json.dumps(widget, indent=2)
