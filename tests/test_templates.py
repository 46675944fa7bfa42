"""The templates themselves, checked in seconds: no branch on an option's value, one source of
values, and Python that ruff accepts where it lies and once rendered."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import jinja2
import jinja2.nodes
import pytest

from chatkit_scaffold import cli
from chatkit_scaffold.catalog import load_catalog
from chatkit_scaffold.options import ProjectOptions
from chatkit_scaffold.project import new_project
from chatkit_scaffold.templates import template_root

from .generated.matrix import OPTION_VALUES

#: The values of PRODUCT.md §1, which the catalog must offer.
PRODUCT_VALUES = {
    "database": ["sqlite", "postgres"],
    "file_store": ["none", "local", "s3"],
    "provider": ["openai", "gemini", "litellm", "openai-compatible"],
    "auth": ["none", "jwt"],
    "deploy": ["none", "kubernetes"],
}


def template_files() -> Iterator[Path]:
    yield from sorted(template_root().rglob("*.jinja"))


def option_values() -> set[str]:
    catalog = load_catalog()
    return {
        value
        for kind in catalog.kinds.values()
        for value in kind.choices
        if kind.cardinality != "flag"
    }


def branches_on_values(source: str) -> list[str]:
    """Comparisons of anything with an option's value, found in a template's syntax tree."""
    values = option_values()
    tree = jinja2.Environment().parse(source)
    found = []
    for node in tree.find_all(jinja2.nodes.Compare):
        constants = [node.expr, *(operand.expr for operand in node.ops)]
        for constant in constants:
            if isinstance(constant, jinja2.nodes.Const) and constant.value in values:
                found.append(f"line {node.lineno}: compares with {constant.value!r}")
    for node in tree.find_all(jinja2.nodes.Test):
        if node.name in ("equalto", "eq", "==", "sameas") and any(
            isinstance(arg, jinja2.nodes.Const) and arg.value in values for arg in node.args
        ):
            found.append(f"line {node.lineno}: tests {node.name} an option value")
    return found


@pytest.mark.parametrize("path", list(template_files()), ids=lambda p: str(p.name))
def test_no_template_branches_on_an_option_value(path: Path) -> None:
    """A shared file loops over declared data; a value's own files live in its component."""
    assert branches_on_values(path.read_text()) == []
    for part in path.relative_to(template_root()).parts:
        assert branches_on_values(part) == []


def test_the_scan_finds_a_branch_on_a_value() -> None:
    assert branches_on_values("{% if answers.database == 'postgres' %}x{% else %}y{% endif %}")
    assert branches_on_values("{% if 'postgres' in installed.database %}x{% endif %}")
    assert branches_on_values("{{ 'a' if file_store == 's3' else 'b' }}")
    assert not branches_on_values("{% for s in settings if s.required %}{% endfor %}")


def test_values_come_from_one_source() -> None:
    catalog = load_catalog()
    for kind, values in PRODUCT_VALUES.items():
        assert sorted(catalog.kind(kind).choices) == sorted(values)
        assert sorted(OPTION_VALUES[kind]) == sorted(values)
    assert catalog.kind("database").default == "sqlite"
    assert catalog.kind("file_store").default == "local"
    assert catalog.kind("provider").default == "openai"
    assert catalog.kind("auth").default == "none"
    assert catalog.kind("deploy").default == "none"


def test_every_grow_command_of_the_catalog_is_a_cli_command() -> None:
    commands = {command.name for command in cli.app.registered_commands}
    grown = {kind.grow_command for kind in load_catalog().kinds.values() if kind.grow_command}
    assert grown == {
        "add-store",
        "add-file-store",
        "add-provider",
        "add-auth",
        "add-agent",
        "add-tool",
        "add-widget",
        "add-deploy",
    }
    assert grown <= commands


def generated_ruff_config(tmp_path: Path) -> Path:
    """The ruff settings of a generated project, as a config file for `ruff --config`."""
    pyproject = (template_root() / "core/files/pyproject.toml.jinja").read_text()
    start = pyproject.index("[tool.ruff]")
    end = pyproject.index("[tool.mypy]")
    document = tomllib.loads(pyproject[start:end])
    config = tmp_path / "ruff.toml"
    lint = document["tool"]["ruff"]["lint"]
    config.write_text(
        f"line-length = {document['tool']['ruff']['line-length']}\n"
        f'target-version = "{document["tool"]["ruff"]["target-version"]}"\n'
        f"[lint]\nselect = {lint['select']!r}\n".replace("'", '"')
    )
    return config


def ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("ruff")
    assert executable, "ruff is a dev dependency of the tool"
    return subprocess.run(
        [executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_plain_template_python_passes_ruff_where_it_lies(tmp_path: Path) -> None:
    config = generated_ruff_config(tmp_path)
    files = [str(path) for path in sorted(template_root().rglob("*.py"))]
    assert files
    check = ruff("check", "--config", str(config), *files, cwd=tmp_path)
    assert check.returncode == 0, check.stdout
    formatted = ruff("format", "--check", "--config", str(config), *files, cwd=tmp_path)
    assert formatted.returncode == 0, formatted.stdout


RENDERED = [
    {},
    {"file_store": "none", "docker": False, "deploy": "kubernetes"},
    {
        "database": "postgres",
        "file_store": "s3",
        "auth": "jwt",
        "agents": ["billing"],
        "deploy": "kubernetes",
    },
    {"provider": "litellm"},
    {"provider": "openai-compatible"},
    {"provider": "gemini"},
]


@pytest.mark.parametrize(
    "answers", RENDERED, ids=lambda a: "-".join(map(str, a.values())) or "default"
)
def test_rendered_projects_pass_ruff(tmp_path: Path, answers: dict[str, object]) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app", **answers}), project)
    check = ruff("check", "--no-cache", ".", cwd=project)
    assert check.returncode == 0, check.stdout
    formatted = ruff("format", "--no-cache", "--check", ".", cwd=project)
    assert formatted.returncode == 0, formatted.stdout


#: The longest tool and widget names the grow commands accept.
LONG_NAME = "a" * 38 + "_x"


def test_grown_tools_and_widgets_pass_ruff_at_any_name_length(tmp_path: Path) -> None:
    from chatkit_scaffold.grow import add_tool, add_widget

    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app", "agents": ["billing"]}), project)
    for name in (LONG_NAME, "x"):
        add_tool(project, f"{name[:-1]}s", "server")
        add_tool(project, f"{name[:-1]}c", "client", "billing")
        add_tool(project, f"{name[:-1]}a", "approval")
        add_widget(project, f"{name[:-1]}w")
    check = ruff("check", "--no-cache", ".", cwd=project)
    assert check.returncode == 0, check.stdout
    formatted = ruff("format", "--no-cache", "--check", ".", cwd=project)
    assert formatted.returncode == 0, formatted.stdout
