"""The CLI's cost cuts keep their behaviour: ``--help`` without Rich's Markdown, shared and cached
compiled templates (``docs/performance.md``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatkit_scaffold.catalog import load_catalog
from chatkit_scaffold.options import ProjectOptions
from chatkit_scaffold.render import _environment, cache_folder, render_project

#: Imported only for Markdown help texts and pretty tracebacks, which --help shows neither of.
HELP_NEEDS_NONE_OF = ("rich.markdown", "rich.traceback", "rich.syntax", "markdown_it", "pygments")


def run_python(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "100", "NO_COLOR": "1", **(env or {})},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + "\n--imports--\n" + result.stderr


def help_of(*args: str, preload: str = "") -> tuple[str, set[str]]:
    """The help text of ``chatkit-scaffold args`` and the modules its process imported."""
    code = (
        f"{preload}\n"
        "import sys\n"
        "from chatkit_scaffold.cli import main\n"
        "sys.argv = ['chatkit-scaffold', *sys.argv[1:]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
    )
    output, _, imports = run_python(code, *args).partition("\n--imports--\n")
    modules = {line.split("|")[-1].strip() for line in imports.splitlines() if "|" in line}
    return output, modules


@pytest.mark.parametrize("args", [["--help"], ["new", "--help"], ["add-store", "-h"]])
def test_help_is_the_same_without_richs_markdown_and_traceback(args: list[str]) -> None:
    light, modules = help_of(*args)
    heavy = [name for name in modules if name.startswith(HELP_NEEDS_NONE_OF)]
    assert heavy == []
    full, _ = help_of(*args, preload="import rich.markdown, rich.traceback")
    assert light == full
    assert "Usage:" in light


def test_the_stand_ins_forward_to_the_real_classes() -> None:
    code = (
        "import sys\n"
        "from chatkit_scaffold import cli\n"
        "cli._import_rich_help_lightly()\n"
        "assert 'rich.markdown' not in sys.modules and 'rich.traceback' not in sys.modules\n"
        "from typer import rich_utils\n"
        "import rich.markdown, rich.traceback\n"
        "assert isinstance(rich_utils.Markdown('*x*'), rich.markdown.Markdown)\n"
        "try:\n"
        "    raise ValueError('boom')\n"
        "except ValueError as exc:\n"
        "    tb = rich_utils.Traceback.from_exception(type(exc), exc, exc.__traceback__)\n"
        "assert isinstance(tb, rich.traceback.Traceback)\n"
        "print('forwarded')\n"
    )
    assert "forwarded" in run_python(code)


def test_renders_of_one_process_share_the_compiled_templates() -> None:
    root = load_catalog().root
    assert _environment(root) is _environment(root)
    options = ProjectOptions.parse({"name": "my-app"})
    first = render_project(options.answers(), options.components())
    second = render_project(options.answers(), options.components())
    assert first == second


RENDER = (
    "import sys\n"
    "from pathlib import Path\n"
    "from chatkit_scaffold.options import ProjectOptions\n"
    "from chatkit_scaffold.render import render_project\n"
    "options = ProjectOptions.parse({'name': 'my-app', 'database': 'postgres'})\n"
    "files = render_project(options.answers(), options.components())\n"
    "out = Path(sys.argv[1])\n"
    "for path, rendered in files.items():\n"
    "    (out / path).parent.mkdir(parents=True, exist_ok=True)\n"
    "    (out / path).write_bytes(rendered.content)\n"
)


def rendered_tree(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_compiled_templates_are_cached_per_user_and_give_the_same_files(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    outputs = []
    for run in ("cold", "warm"):
        out = tmp_path / run
        run_python(RENDER, str(out), env={"XDG_CACHE_HOME": str(cache)})
        outputs.append(rendered_tree(out))
    entries = list((cache / "chatkit-scaffold" / "jinja").iterdir())
    assert len(entries) >= 10
    assert outputs[0] == outputs[1]
    # A cache folder that cannot be made (here: a file is in the way) only means no cache.
    blocked = tmp_path / "blocked"
    blocked.write_text("not a folder")
    run_python(RENDER, str(tmp_path / "uncached"), env={"XDG_CACHE_HOME": str(blocked)})
    assert rendered_tree(tmp_path / "uncached") == outputs[0]


def test_the_cache_folder_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_folder() == tmp_path / "chatkit-scaffold" / "jinja"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_folder() == Path.home() / ".cache" / "chatkit-scaffold" / "jinja"
