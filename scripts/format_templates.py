"""Format and lint-fix the templates' Python with ruff, where they lie.

Plain `.py` files are given to ruff as they are. A `.py.jinja` file whose only Jinja is a
`{{ package_name }}` or `{{ component.name }}` placeholder is formatted with the placeholders
swapped for identifiers and back; any other template is listed for formatting by hand (the
fast tests check every rendered combination anyway).

Usage (from the repository root): `uv run python scripts/format_templates.py`
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "templates"
PLACEHOLDERS = {"{{ package_name }}": "pkg_placeholder", "{{ component.name }}": "name_placeholder"}
RULES = "E,F,I,UP,B,SIM,RUF,ASYNC"


def ruff(*args: str) -> None:
    executable = shutil.which("ruff")
    if executable is None:
        sys.exit("ruff is not installed (uv sync installs it)")
    subprocess.run([executable, *args], check=False)


def main() -> None:
    common = ["--isolated", "--line-length", "100", "--target-version", "py311"]
    plain = [str(path) for path in sorted(ROOT.rglob("*.py"))]
    ruff("check", "-q", *common, "--select", RULES, "--fix", *plain)
    ruff("format", "-q", *common, *plain)
    by_hand = []
    with tempfile.TemporaryDirectory() as tmp:
        for template in sorted(ROOT.rglob("*.py.jinja")):
            text = template.read_text()
            swapped = text
            for placeholder, identifier in PLACEHOLDERS.items():
                swapped = swapped.replace(placeholder, identifier)
            if re.search(r"\{\{|\{%|\{#", swapped):
                by_hand.append(template.relative_to(ROOT))
                continue
            work = Path(tmp) / template.name.removesuffix(".jinja")
            work.write_text(swapped)
            known = "--config=lint.isort.known-first-party=['pkg_placeholder']"
            ruff("check", "-q", *common, known, "--select", RULES, "--fix", str(work))
            ruff("format", "-q", *common, str(work))
            result = work.read_text()
            for placeholder, identifier in PLACEHOLDERS.items():
                result = result.replace(identifier, placeholder)
            if result != text:
                template.write_text(result)
                print(f"formatted {template.relative_to(ROOT)}")
    for path in by_hand:
        print(f"has Jinja logic, check by hand: {path}")


if __name__ == "__main__":
    main()
