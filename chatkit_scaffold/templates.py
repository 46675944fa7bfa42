"""Where the templates live: inside the wheel, or at the root of a checkout."""

from __future__ import annotations

from pathlib import Path

from chatkit_scaffold.errors import ScaffoldError

_PACKAGE_DIR = Path(__file__).resolve().parent


def template_root() -> Path:
    """The folder holding ``core/`` and ``components/``.

    A built wheel carries the templates as ``chatkit_scaffold/templates``; a checkout (and an
    editable install of it) has them in ``templates/`` next to the package.
    """
    for candidate in (_PACKAGE_DIR / "templates", _PACKAGE_DIR.parent / "templates"):
        if (candidate / "core" / "component.toml").is_file():
            return candidate
    raise ScaffoldError(
        "The project templates are missing from this installation of chatkit-scaffold.",
        hint="Reinstall the tool: uv tool install --reinstall chatkit-scaffold",
    )
