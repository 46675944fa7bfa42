"""Where the Copier templates live: inside the wheel, or at the root of a checkout."""

from __future__ import annotations

from pathlib import Path

from chatkit_scaffold.errors import ScaffoldError

_PACKAGE_DIR = Path(__file__).resolve().parent


def template_root() -> Path:
    """The folder holding ``project/`` and ``components/``.

    A built wheel carries the templates as ``chatkit_scaffold/templates``; a checkout (and an
    editable install of it) has them in ``templates/`` next to the package.
    """
    for candidate in (_PACKAGE_DIR / "templates", _PACKAGE_DIR.parent / "templates"):
        if (candidate / "project" / "copier.yml").is_file():
            return candidate
    raise ScaffoldError(
        "The project templates are missing from this installation of chatkit-scaffold.",
        hint="Reinstall the tool: pip install --force-reinstall chatkit-scaffold",
    )


def project_template() -> Path:
    """The Copier template of a whole project."""
    return template_root() / "project"


def component_template(kind: str) -> Path:
    """The Copier template of one component (``agent``, ...)."""
    path = template_root() / "components" / kind
    if not path.is_dir():
        raise ScaffoldError(
            f"The '{kind}' component template is missing from this installation.",
            hint="Reinstall the tool: pip install --force-reinstall chatkit-scaffold",
        )
    return path
