"""Regenerate chatkit_scaffold/reserved_names.txt from synced generated projects.

A project NAME whose package name equals a distribution or a top-level module installed in the
generated project's virtualenv breaks that project: `uv sync` refuses a project that shadows a
dependency, and a package named like an installed module hides it at import time. This script
renders the projects whose dependency sets together cover every option combination (both store
backends, every file store, litellm and the other providers, JWT auth, the dev group), runs
`uv sync` in each, and writes every installed distribution name and top-level module name
(normalised to a Python identifier) to the data file.

Usage (from the repository root; needs uv and PyPI):

    .venv/bin/python scripts/reserved_names.py [--output chatkit_scaffold/reserved_names.txt]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from chatkit_scaffold.options import package_name_for
from chatkit_scaffold.render import render_project

#: Option sets whose declared dependencies, together, are those of every option combination.
COVERING_ANSWERS: tuple[dict[str, object], ...] = (
    {"file_store": "local", "provider": "litellm", "auth": "jwt"},
    {"file_store": "s3", "provider": "openai", "auth": "jwt"},
)

#: Printed by the project's own Python: every installed distribution and its top-level modules.
_LIST_INSTALLED = """
import importlib.metadata as md, json
found = {}
for dist in md.distributions():
    name = dist.metadata["Name"]
    top = (dist.read_text("top_level.txt") or "").split()
    if not top:
        for file in dist.files or ():
            parts = file.parts
            if len(parts) == 1 and parts[0].endswith((".py", ".so", ".pyd")):
                top.append(parts[0].split(".")[0])
            elif len(parts) > 1 and parts[0] != ".." and not parts[0].endswith(
                (".dist-info", ".data")
            ):
                top.append(parts[0])
    found[name] = sorted(set(top))
print(json.dumps(found))
"""

_HEADER = """\
# Package names a generated project's NAME may not take: every distribution and top-level module
# installed by `uv sync` in generated projects covering all option combinations (see
# COVERING_ANSWERS in scripts/reserved_names.py), normalised like a package name (lower case,
# '-' and '.' as '_'). Produced by `.venv/bin/python scripts/reserved_names.py`; rerun it when
# the template's dependencies change (tests/test_reserved_names.py checks the declared ones).
"""

_PROJECT_NAME = "reserved-names-probe"


def installed_names(answers: dict[str, object], workdir: Path) -> set[str]:
    """Render, sync and list one project's installed distributions and top-level modules."""
    data = {
        "project_name": _PROJECT_NAME,
        "package_name": package_name_for(_PROJECT_NAME),
        "database": "sqlite",
        "docker": False,
        **answers,
    }
    project = workdir / "-".join(str(value) for value in answers.values())
    for path, rendered in render_project(data, [], ["sqlite", "postgres"]).items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_bytes(rendered.content)
    subprocess.run(["uv", "sync", "--quiet"], cwd=project, check=True)
    listing = subprocess.run(
        [str(project / ".venv" / "bin" / "python"), "-c", _LIST_INSTALLED],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    names: set[str] = set()
    for distribution, modules in json.loads(listing).items():
        names.add(normalise(distribution))
        names.update(normalise(module) for module in modules)
    names.discard(package_name_for(_PROJECT_NAME))
    return {name for name in names if name.isidentifier()}


def normalise(name: str) -> str:
    """A distribution or module name as the package name a NAME would produce."""
    return package_name_for(name).replace(".", "_")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "chatkit_scaffold" / "reserved_names.txt",
    )
    args = parser.parse_args()
    names: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="reserved-names-") as tmp:
        for answers in COVERING_ANSWERS:
            names |= installed_names(answers, Path(tmp))
    args.output.write_text(_HEADER + "".join(f"{name}\n" for name in sorted(names)))
    print(f"{len(names)} names written to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
