"""A runnable copy of a generated package for the console's browser test.

The copy is served with ``uvicorn --app-dir``, so the prepared project (shared by other tests)
is never modified: it is the generated package unchanged plus the scripted app next to it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

SCRIPTED_APP = Path(__file__).with_name("console_scripted_app.py")


def console_app_dir(project: Path, target: Path) -> Path:
    """``target`` holding the project's package and the scripted app."""
    package = target / "my_app"
    shutil.copytree(
        project / "src" / "my_app", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    assert (package / "console" / "console.html").is_file(), "the project ships no console"
    shutil.copy(SCRIPTED_APP, target / SCRIPTED_APP.name)
    return target
