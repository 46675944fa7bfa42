"""Regenerate chatkit_scaffold/reserved_names.txt from synced generated projects.

A project NAME whose package name equals a distribution or a top-level module installed in the
generated project's virtualenv breaks that project: `uv sync` refuses a project that shadows a
dependency, and a package named like an installed module hides it at import time. This script
renders projects whose dependency sets together cover every component of the catalog (every
value of the kinds that hold several, each value of the kinds that hold one, the dev group),
runs `uv sync` in each, and writes every installed distribution name and top-level module name
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

from chatkit_scaffold.catalog import load_catalog
from chatkit_scaffold.manifest import Component
from chatkit_scaffold.options import package_name_for
from chatkit_scaffold.render import render_project

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
# installed by `uv sync` in generated projects covering every component (see covering_projects
# in scripts/reserved_names.py), normalised like a package name (lower case,
# '-' and '.' as '_'). Produced by `.venv/bin/python scripts/reserved_names.py`; rerun it when
# the template's dependencies change (tests/test_reserved_names.py checks the declared ones).
"""

_PROJECT_NAME = "reserved-names-probe"


def covering_projects() -> list[list[Component]]:
    """Component sets that, together, install every component of the catalog.

    Each holds every value of the kinds that take several (and every flag); the kinds that take
    one value cycle through their values, so the longest of them sets the number of projects.
    """
    catalog = load_catalog()
    single = [kind for kind in catalog.options() if kind.cardinality == "one"]
    count = max(len(kind.choices) for kind in single)
    projects: list[list[Component]] = []
    for index in range(count):
        components: list[Component] = []
        for kind in catalog.options():
            if kind.cardinality == "one":
                components.append(
                    Component(kind=kind.name, value=kind.choices[index % len(kind.choices)])
                )
            else:
                components += [Component(kind=kind.name, value=value) for value in kind.choices]
        projects.append(components)
    return projects


def installed_names(components: list[Component], workdir: Path) -> set[str]:
    """Render, sync and list one project's installed distributions and top-level modules."""
    answers: dict[str, object] = {
        "project_name": _PROJECT_NAME,
        "package_name": package_name_for(_PROJECT_NAME),
    }
    for component in components:
        answers.setdefault(component.kind, True if component.value == "on" else component.value)
    project = workdir / "-".join(c.value for c in components)
    for path, rendered in render_project(answers, components).items():
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
        for components in covering_projects():
            names |= installed_names(components, Path(tmp))
    args.output.write_text(_HEADER + "".join(f"{name}\n" for name in sorted(names)))
    print(f"{len(names)} names written to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
