"""A runnable copy of a generated package for the console's browser test.

The copy is served with ``uvicorn --app-dir``, so the prepared project (shared by other tests)
is never modified. While the templates do not ship the console yet, the copy gets it from
``incoming/console`` exactly as ``incoming/console/INTEGRATION.md`` says; once they do, the copy
is the generated package unchanged and ``install_incoming_console`` is not called.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import REPO_ROOT

INCOMING = REPO_ROOT / "incoming" / "console"
SCRIPTED_APP = Path(__file__).with_name("console_scripted_app.py")

#: (file, text, replacement): the edits INTEGRATION.md lists.
EDITS = [
    (
        "main.py",
        "from .auth import create_authenticator\n",
        "from .auth import create_authenticator\nfrom .console import router as console_router\n",
    ),
    (
        "main.py",
        "    app.include_router(router)\n    return app\n",
        "    app.include_router(router)\n    app.include_router(console_router)\n    return app\n",
    ),
    (
        "settings.py",
        '    log_level: LogLevel = "INFO"\n',
        '    log_level: LogLevel = "INFO"\n'
        "    # None: /console only for requests to a loopback address (see console/__init__.py).\n"
        "    console_enabled: bool | None = None\n",
    ),
]


def console_app_dir(project: Path, target: Path) -> Path:
    """``target`` holding the project's package (with the console) and the scripted app."""
    package = target / "my_app"
    shutil.copytree(
        project / "src" / "my_app", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    if not (package / "console").is_dir():
        install_incoming_console(package)
    shutil.copy(SCRIPTED_APP, target / SCRIPTED_APP.name)
    return target


def install_incoming_console(package: Path) -> None:
    """Add ``incoming/console`` to a generated package, as INTEGRATION.md describes."""
    shutil.copytree(INCOMING / "src" / "PKG" / "console", package / "console")
    for name, old, new in EDITS:
        path = package / name
        text = path.read_text()
        assert text.count(old) == 1, f"{name} does not hold {old!r} once"
        path.write_text(text.replace(old, new))
