"""The baseline of ``new`` in ``bench/cli_bench.py``: the same template files, plain Jinja2.

    python -m bench.raw_render ANSWERS_JSON COMPONENTS_JSON TARGET

renders exactly the files ``chatkit-scaffold new`` renders for these answers (the tool's
catalog resolves which template files and which context), with a plain ``jinja2.Environment``
(no cache of any kind), and writes them into TARGET. Nothing else: no command line, no
validation of the answers, no manifest, no staging folder, no output. So ``new`` over this is
what the tool's own layers cost on top of rendering the files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2

from chatkit_scaffold import __version__
from chatkit_scaffold.catalog import load_catalog
from chatkit_scaffold.render import _Renderer, identifier, python_literal, resolve


def plain_environment(root: Path) -> jinja2.Environment:
    """The tool's Jinja settings (Copier's conventions), without its caches."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(root),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters["py"] = python_literal
    env.filters["ident"] = identifier
    return env


def main() -> None:
    answers = json.loads(sys.argv[1])
    # What `resolve` reads of a manifest Component (kind, value, name, params), without pydantic.
    components: Any = [SimpleNamespace(**component) for component in json.loads(sys.argv[2])]
    target = Path(sys.argv[3])
    catalog = load_catalog()
    renderer = _Renderer(catalog, answers, resolve(catalog, answers, components), __version__)
    renderer.env = plain_environment(catalog.root)
    for path, rendered in renderer.render().items():
        destination = target / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(rendered.content)
        if rendered.executable:
            destination.chmod(0o755)


if __name__ == "__main__":
    main()
