"""The rendering engine on a stand-in catalog: paths, merges, fragments and template bugs."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from chatkit_scaffold.catalog import CatalogError, load_catalog
from chatkit_scaffold.manifest import Component
from chatkit_scaffold.render import (
    TemplateBug,
    merge_requirements,
    python_literal,
    render_project,
)

ANSWERS = {"project_name": "my-app", "package_name": "my_app", "db": "one"}

BASE: dict[str, str] = {
    "core/component.toml": (
        'summary = "core"\ndependencies = ["fastapi>=0.115", "openai-agents>=0.24"]\n'
        '[[settings]]\nenv = "LOG_LEVEL"\ntype = "str"\ndefault = "INFO"\ndoc = "level"\n'
    ),
    "core/files/{{ package_name }}/core.py": "CORE = True\n",
    "core/files/settings.txt.jinja": (
        "{% for s in settings %}{{ s.env }}={{ s.example_value }} {{ s.component.key }}\n"
        "{% endfor %}"
        "deps={{ dependencies | join(' ') }}\n"
        "env={{ merged('compose.environment') }}\n"
        "volumes={{ collect('compose.volumes') }}\n"
        "{{ fragments('notes.md') }}"
    ),
    "components/db/kind.toml": (
        'flag = "--db"\nprompt = "DB"\nhelp = "DB"\ncardinality = "many"\ndefault = "one"\n'
        'values = ["one", "two"]\n'
    ),
    "components/db/one/component.toml": (
        'summary = "one"\ndependencies = ["openai-agents[litellm]>=0.24"]\n'
        '[[settings]]\nenv = "DATABASE_URL"\ntype = "str"\ndefault = "one://"\n'
        'example = "one://"\ndoc = "url"\n'
        '[compose]\nvolumes = ["one-data"]\n'
        '[when_default.compose.environment]\nDATABASE_URL = "one://db"\n'
    ),
    "components/db/one/fragments/notes.md": "notes of one\n",
    "components/db/one/files/{{ package_name }}/one.py": "ONE = True\n",
    "components/db/one/files/{{ package_name }}/{% if False %}skipped.py{% endif %}": "never\n",
    "components/db/one/files/{% if False %}skipped.txt{% endif %}.jinja": "never\n",
    "components/db/one/files/{% if True %}kept.txt{% endif %}.jinja": "{{ project_name }}\n",
    "components/db/two/component.toml": (
        'summary = "two"\nparts = ["db/_shared"]\n'
        '[[settings]]\nenv = "DATABASE_URL"\ntype = "str"\nexample = "two://"\ndoc = "url"\n'
        '[compose]\nvolumes = ["two-data"]\n'
        '[when_default.compose.environment]\nDATABASE_URL = "two://db"\n'
    ),
    "components/db/two/fragments/notes.md.jinja": "notes of two for {{ project_name }}\n",
    "components/db/two/files/bin/run.sh": "#!/bin/sh\n",
    "components/db/_shared/component.toml": 'summary = "shared"\n',
    "components/db/_shared/files/shared.txt": "shared\n",
}


def write_catalog(root: Path, files: dict[str, str]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    run = root / "components/db/two/files/bin/run.sh"
    if run.exists():
        run.chmod(0o755)
    return root


def render(root: Path, values: list[str], default: str = "one") -> dict[str, bytes]:
    load_catalog.cache_clear()
    components = [Component(kind="db", value=value) for value in values]
    files = render_project({**ANSWERS, "db": default}, components, catalog=load_catalog(root))
    load_catalog.cache_clear()
    return {path: rendered.content for path, rendered in files.items()}


def test_paths_render_and_empty_segments_drop_the_file(tmp_path: Path) -> None:
    files = render(write_catalog(tmp_path, BASE), ["one"])
    assert set(files) == {"my_app/core.py", "my_app/one.py", "settings.txt", "kept.txt"}
    assert files["kept.txt"] == b"my-app\n"


def test_shared_files_loop_over_what_the_components_declare(tmp_path: Path) -> None:
    text = render(write_catalog(tmp_path, BASE), ["one", "two"]).get("settings.txt", b"")
    assert text.decode().splitlines() == [
        "LOG_LEVEL=INFO core",
        "DATABASE_URL=one:// db/one",
        "deps=fastapi>=0.115 openai-agents[litellm]>=0.24",
        "env={'DATABASE_URL': 'one://db'}",
        "volumes=['one-data', 'two-data']",
        "notes of one",
        "notes of two for my-app",
    ]


def test_the_default_value_decides_shared_settings_and_default_only_tables(
    tmp_path: Path,
) -> None:
    text = render(write_catalog(tmp_path, BASE), ["one", "two"], default="two")["settings.txt"]
    assert "DATABASE_URL=two:// db/two" in text.decode()
    assert "env={'DATABASE_URL': 'two://db'}" in text.decode()


def test_parts_render_once_and_modes_are_kept(tmp_path: Path) -> None:
    load_catalog.cache_clear()
    root = write_catalog(tmp_path, BASE)
    components = [Component(kind="db", value="two")]
    files = render_project({**ANSWERS, "db": "two"}, components, catalog=load_catalog(root))
    assert files["shared.txt"].content == b"shared\n"
    assert files["bin/run.sh"].executable
    assert not files["my_app/core.py"].executable
    assert stat.S_IXUSR & (root / "components/db/two/files/bin/run.sh").stat().st_mode


def test_two_components_rendering_one_path_differently_is_a_bug(tmp_path: Path) -> None:
    root = write_catalog(
        tmp_path, {**BASE, "components/db/two/files/my_app/core.py": "OTHER = True\n"}
    )
    with pytest.raises(TemplateBug, match=r"core and db/two both render my_app/core\.py"):
        render(root, ["one", "two"])


def test_an_undefined_name_in_a_template_is_a_bug_not_an_empty_string(tmp_path: Path) -> None:
    root = write_catalog(tmp_path, {**BASE, "core/files/x.txt.jinja": "{{ database }}\n"})
    with pytest.raises(TemplateBug, match="'database' is undefined"):
        render(root, ["one"])


def test_a_bad_declaration_is_a_catalog_error(tmp_path: Path) -> None:
    root = write_catalog(
        tmp_path, {**BASE, "components/db/kind.toml": BASE["components/db/kind.toml"] + "x = [\n"}
    )
    load_catalog.cache_clear()
    with pytest.raises(CatalogError, match="is invalid"):
        load_catalog(root)
    load_catalog.cache_clear()


def test_requirements_merge_extras_and_refuse_conflicting_versions() -> None:
    merged = merge_requirements(
        [("openai-agents>=0.24,<0.25", "core"), ("openai_agents[litellm]>=0.24,<0.25", "p")]
    )
    assert merged == ["openai-agents[litellm]>=0.24,<0.25"]
    with pytest.raises(TemplateBug, match="different versions"):
        merge_requirements([("boto3>=1.34", "a"), ("boto3>=1.35", "b")])


@pytest.mark.parametrize(
    ("value", "indent", "expected"),
    [
        ('a "q" \\ b', None, '"a \\"q\\" \\\\ b"'),
        (True, None, "True"),
        (10, None, "10"),
        ([], 4, "[]"),
        (
            {"timeout": 30, "check_same_thread": False},
            None,
            '{"timeout": 30, "check_same_thread": False}',
        ),
        (
            ["x" * 30, "y" * 30],
            4,
            '[\n        "' + "x" * 30 + '",\n        "' + "y" * 30 + '",\n    ]',
        ),
    ],
)
def test_python_literals_are_formatted_like_ruff(
    value: object, indent: int | None, expected: str
) -> None:
    assert python_literal(value, indent) == expected
