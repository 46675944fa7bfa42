"""The ``chatkit-scaffold`` command line: parse flags, prompt, print Rich output.

The work happens in plain functions (``project.new_project``, ``grow.add_agent``,
``grow.add_store``); this module only gathers input and shows results. Every ``ScaffoldError``
becomes a message, a hint and an exit code, never a traceback.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Annotated

import typer
from rich.console import Console
from rich.filesize import decimal
from rich.markup import escape
from rich.panel import Panel
from rich.prompt import Confirm, Prompt
from rich.table import Table
from rich.tree import Tree

from chatkit_scaffold import __version__
from chatkit_scaffold.errors import ScaffoldError
from chatkit_scaffold.grow import add_agent as grow_add_agent
from chatkit_scaffold.grow import add_store as grow_add_store
from chatkit_scaffold.manifest import MANIFEST_NAME
from chatkit_scaffold.options import (
    QUESTIONS,
    InvalidValue,
    ProjectOptions,
    choices,
    default_value,
    prompted_fields,
    validate_agent_name,
)
from chatkit_scaffold.plan import Action, Plan, ensure_empty_target, path_error
from chatkit_scaffold.project import new_project

app = typer.Typer(
    name="chatkit-scaffold",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)

_DIFF_STYLES = {"+": "green", "-": "red", "@": "cyan"}

_API_KEY_VARIABLE = {
    "openai": "OPENAI_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "litellm": "LLM_API_KEY",
    "openai-compatible": "LLM_API_KEY (and LLM_BASE_URL)",
}


def _choice_help(field_name: str) -> str:
    question = QUESTIONS[field_name]
    values = ", ".join(choices(field_name))
    return f"{question.prompt}: {values}. {_default(str(default_value(field_name)))}"


def _default(value: str) -> str:
    """A ``[default: ...]`` note for help texts (escaped: Rich would read it as markup)."""
    return escape(f"[default: {value}]")


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"chatkit-scaffold {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Generate and grow production-grade ChatKit backends (FastAPI + OpenAI Agents SDK)."""


@contextmanager
def _errors_to_exit_codes() -> Iterator[None]:
    """Print a ``ScaffoldError`` as message + hint on stderr and exit with its code.

    An ``OSError`` that escaped (a path that cannot be read or written) is reported the same way.
    """
    try:
        try:
            yield
        except OSError as exc:
            raise path_error(Path(exc.filename or "."), exc) from exc
    except ScaffoldError as exc:
        err = Console(stderr=True)
        err.print(f"[bold red]Error:[/] {escape(exc.message)}", soft_wrap=True)
        if exc.hint:
            err.print(f"[yellow]Hint:[/] {escape(exc.hint)}", soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None


def _is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


@app.command()
def new(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="Project name, a Python distribution name (my-app gives the package my_app).",
            show_default=False,
        ),
    ],
    database: Annotated[
        str | None, typer.Option(help=_choice_help("database"), show_default=False)
    ] = None,
    file_store: Annotated[
        str | None, typer.Option(help=_choice_help("file_store"), show_default=False)
    ] = None,
    provider: Annotated[
        str | None, typer.Option(help=_choice_help("provider"), show_default=False)
    ] = None,
    auth: Annotated[str | None, typer.Option(help=_choice_help("auth"), show_default=False)] = None,
    agent: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME",
            help="A specialist agent the entry agent hands off to (repeatable).",
            show_default=False,
        ),
    ] = None,
    docker: Annotated[
        bool | None,
        typer.Option(
            "--docker/--no-docker",
            help=f"Dockerfile, .dockerignore and compose.yaml. {_default('--docker')}",
            show_default=False,
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Never prompt; take defaults for the rest.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="List every file that would be written; write nothing."),
    ] = False,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir", "-o", help=f"Target folder. {_default('./NAME')}", show_default=False
        ),
    ] = None,
) -> None:
    """Create a new ChatKit backend project in ./NAME (or --output-dir)."""
    console = Console()
    with _errors_to_exit_codes():
        flags = {
            "database": database,
            "file_store": file_store,
            "provider": provider,
            "auth": auth,
            "docker": docker,
            "agents": tuple(agent) if agent else None,
        }
        given: dict[str, object] = {"name": name}
        given.update({key: value for key, value in flags.items() if value is not None})
        ProjectOptions.parse(given)  # bad flags fail before any prompt
        target = output_dir if output_dir is not None else Path(name)
        ensure_empty_target(target.resolve())
        missing = [field for field, _ in prompted_fields() if field not in given]
        if missing and not yes:
            if _is_interactive():
                given.update(_ask(console, missing))
            else:
                _note_defaults(missing)
        options = ProjectOptions.parse(given)
        plan = new_project(options, target, dry_run=dry_run)
    if dry_run:
        console.print(_file_tree(plan))
        console.print(
            f"Dry run: {len(plan.changes)} files ({decimal(plan.total_bytes)}) would be written "
            f"to {escape(str(plan.root))}; nothing was written.",
            soft_wrap=True,
        )
        return
    console.print(
        f"[green]Created[/] {escape(str(plan.root))} ({len(plan.changes)} files).", soft_wrap=True
    )
    _print_next_steps(console, options, plan.root)


def _ask(console: Console, fields: list[str]) -> dict[str, object]:
    """Ask for each missing answer on the terminal, showing its default."""
    answers: dict[str, object] = {}
    for field, question in prompted_fields():
        if field not in fields:
            continue
        if field == "docker":
            answers[field] = Confirm.ask(
                question.prompt, default=bool(default_value(field)), console=console
            )
        elif field == "agents":
            answers[field] = _ask_agents(console, question.prompt)
        else:
            answers[field] = Prompt.ask(
                question.prompt,
                choices=choices(field),
                default=str(default_value(field)),
                console=console,
            )
    return answers


def _ask_agents(console: Console, prompt: str) -> tuple[str, ...]:
    while True:
        text = Prompt.ask(
            f"{prompt} (comma-separated, blank for none)",
            default="",
            show_default=False,
            console=console,
        )
        names = tuple(part.strip() for part in text.split(",") if part.strip())
        try:
            for agent_name in names:
                validate_agent_name(agent_name)
        except InvalidValue as exc:
            console.print(f"[red]{escape(exc.message)}[/] {escape(exc.hint or '')}")
            continue
        if len(set(names)) != len(names):
            console.print("[red]Give each agent once.[/]")
            continue
        return names


def _note_defaults(fields: list[str]) -> None:
    taken = ", ".join(_shown(field) for field in fields)
    Console(stderr=True).print(
        f"No terminal to prompt on: using the defaults {escape(taken)}. "
        "Pass the flags, or --yes to accept the defaults silently.",
        soft_wrap=True,
    )


def _shown(field: str) -> str:
    """A default as the flags that give it, e.g. ``--database sqlite`` or ``--docker``."""
    value = default_value(field)
    if field == "docker":
        return "--docker" if value else "--no-docker"
    if field == "agents":
        return "no --agent"
    return f"{QUESTIONS[field].flag} {value}"


def _file_tree(plan: Plan) -> Tree:
    """Every file of a plan as a tree with sizes."""
    tree = Tree(f"[bold]{escape(str(plan.root))}[/]")
    folders: dict[PurePosixPath, Tree] = {PurePosixPath("."): tree}
    for change in plan.changes:
        path = PurePosixPath(change.path)
        parent = PurePosixPath(".")
        for part in path.parent.parts:
            folder = parent / part
            if folder not in folders:
                folders[folder] = folders[parent].add(f"[bold blue]{escape(part)}/[/]")
            parent = folder
        folders[parent].add(f"{escape(path.name)} [dim]{decimal(len(change.new))}[/]")
    return tree


def _print_next_steps(console: Console, options: ProjectOptions, root: Path) -> None:
    try:
        shown = os.path.relpath(root)
    except ValueError:
        shown = str(root)
    if shown.startswith(".."):
        shown = str(root)
    key = _API_KEY_VARIABLE[options.provider.value]
    steps = [] if shown == "." else [f"cd {shlex.quote(shown)}"]
    steps += ["uv sync", "uv run pytest", f"uv run uvicorn {options.package_name}.main:app"]
    commands = "\n".join(steps)
    console.print(
        Panel(
            f"{escape(commands)}\n\n[dim]Before serving, set {key}; .env.example lists every "
            "variable.[/]",
            title="Next steps",
            expand=False,
        )
    )


ProjectOption = Annotated[
    Path,
    typer.Option("--project", help=f"The project folder. {_default('.')}", show_default=False),
]
GrowDryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
]


@app.command("add-agent")
def add_agent(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="Agent name, a lower-case identifier (e.g. billing).",
            show_default=False,
        ),
    ],
    instructions: Annotated[
        str | None,
        typer.Option(help=f"The agent's instructions. {_default('a generic specialist prompt')}"),
    ] = None,
    project: ProjectOption = Path("."),
    dry_run: GrowDryRunOption = False,
) -> None:
    """Add a specialist agent (module + test); the entry agent hands off to it."""
    with _errors_to_exit_codes():
        plan = grow_add_agent(project, name, instructions, dry_run=dry_run)
    _print_changes(Console(), plan, dry_run)


@app.command("add-store")
def add_store(
    backend: Annotated[
        str,
        typer.Argument(
            metavar="BACKEND",
            help=f"Store backend: {', '.join(choices('database'))}.",
            show_default=False,
        ),
    ],
    project: ProjectOption = Path("."),
    dry_run: GrowDryRunOption = False,
) -> None:
    """Add a store backend (module, dependency, compose service, tests); DATABASE_URL picks it."""
    with _errors_to_exit_codes():
        plan = grow_add_store(project, backend, dry_run=dry_run)
    _print_changes(Console(), plan, dry_run)


def _print_changes(console: Console, plan: Plan, dry_run: bool) -> None:
    for note in plan.notes:
        console.print(f"[yellow]Note:[/] {escape(note)}", soft_wrap=True)
    if not plan.writes:
        console.print("Nothing to do: the project already has everything this command adds.")
        return
    table = Table(show_header=True, header_style="bold")
    table.add_column("action")
    table.add_column("file")
    table.add_column("size", justify="right")
    for change in plan.writes:
        style = "green" if change.action is Action.CREATE else "yellow"
        table.add_row(
            f"[{style}]{change.action.value}[/]", escape(change.path), decimal(len(change.new))
        )
    console.print(table)
    for change in plan.writes:
        if change.action is Action.MODIFY and change.path != MANIFEST_NAME:
            _print_diff(console, change.diff())
    if dry_run:
        console.print("Dry run: nothing was written.")
    else:
        console.print(f"[green]Updated[/] {escape(str(plan.root))}.", soft_wrap=True)


def _print_diff(console: Console, diff: str) -> None:
    """A unified diff, coloured by line and never re-wrapped (so it can be copied)."""
    for line in diff.splitlines():
        style = "bold" if line.startswith(("+++", "---")) else _DIFF_STYLES.get(line[:1], "")
        console.print(escape(line), style=style, soft_wrap=True, highlight=False)


def main() -> None:
    """Entry point of the ``chatkit-scaffold`` script."""
    app()
