"""The ``chatkit-scaffold`` command line: parse flags, prompt, print Rich output.

The work happens in plain functions (``project.new_project``, ``grow.add_component``,
``grow.add_agent``, ``grow.add_tool``, ``grow.add_widget``, ``update.update_project``); this
module only gathers input and shows results. Every ``ScaffoldError`` becomes a message, a hint
and an exit code, never a traceback. The
options and their values come from the component catalog; each grow command (``add-store``,
``add-file-store``, ...) is declared by its kind.

Modules that are slow to import (the renderer, the grow engine, pydantic) are imported inside
the commands, so ``--help`` and argument errors stay fast.
"""

from __future__ import annotations

import importlib
import os
import shlex
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from chatkit_scaffold import __version__
from chatkit_scaffold.catalog import Kind, load_catalog
from chatkit_scaffold.errors import ScaffoldError
from chatkit_scaffold.options import (
    AGENT_KIND,
    InvalidValue,
    ProjectOptions,
    parse_choice,
    validate_agent_name,
)

if TYPE_CHECKING:
    from typer._click import Context, HelpFormatter

    from chatkit_scaffold.plan import Plan


def _hide_type_tags() -> None:
    """Show no ``<bool>``/``<str>`` type tags in ``--help``: flags and NAMEs speak for themselves.

    Typer 0.29 prints a type tag next to every parameter; options that take a value set their own
    metavar (``DIR``, ``TEXT``), which is still shown.
    """
    from typer.core import TyperArgument, TyperOption

    def option_type(self: TyperOption, ctx: object) -> str | None:
        return self.metavar or None

    def argument_type(self: TyperArgument, ctx: object) -> str | None:
        return None

    TyperOption.display_type_rich = option_type  # type: ignore[method-assign]
    TyperArgument.display_type_rich = argument_type  # type: ignore[method-assign,assignment]


_hide_type_tags()


def _import_rich_help_lightly() -> None:
    """Import ``typer.rich_utils`` without Rich's Markdown and traceback modules.

    Typer's help formatter imports ``rich.markdown`` (markdown-it, Pygments) and
    ``rich.traceback`` at module level, but uses them only in ``"markdown"`` markup mode and for
    pretty tracebacks: about 40% of the CPU time of ``--help``. While it is imported, those two
    modules are stand-ins whose classes import the real ones on first use, so a traceback (or
    Markdown) still renders exactly as before; the stand-ins leave ``sys.modules`` right after.
    """
    if "typer.rich_utils" in sys.modules:
        return
    stand_ins = {
        module: _stand_in_module(module, name)
        for module, name in (("rich.markdown", "Markdown"), ("rich.traceback", "Traceback"))
        if module not in sys.modules
    }
    sys.modules.update(stand_ins)
    try:
        import typer.rich_utils  # noqa: F401
    finally:
        for module, stand_in in stand_ins.items():
            if sys.modules.get(module) is stand_in:
                del sys.modules[module]


def _stand_in_module(module: str, name: str) -> types.ModuleType:
    """A module whose class ``name`` forwards calls and attributes to ``module.name``."""

    def real() -> type:
        cls: type = getattr(importlib.import_module(module), name)
        return cls

    class Forwarding(type):
        def __call__(cls, *args: object, **kwargs: object) -> object:
            return real()(*args, **kwargs)

        def __getattr__(cls, attribute: str) -> object:
            return getattr(real(), attribute)

    stand_in = types.ModuleType(module)
    setattr(stand_in, name, Forwarding(name, (), {}))
    return stand_in


class _LightHelpGroup(TyperGroup):
    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        _import_rich_help_lightly()
        super().format_help(ctx, formatter)


class _LightHelpCommand(TyperCommand):
    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        _import_rich_help_lightly()
        super().format_help(ctx, formatter)


app = typer.Typer(
    name="chatkit-scaffold",
    cls=_LightHelpGroup,
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_DIFF_STYLES = {"+": "green", "-": "red", "@": "cyan"}

#: Exit code of a command stopped with Ctrl-C (128 + SIGINT, what shells report).
INTERRUPTED_EXIT_CODE = 130


def _default(value: str) -> str:
    """A ``[default: ...]`` note for help texts (escaped: Rich would read it as markup)."""
    return escape(f"[default: {value}]")


def _choice_help(kind: Kind) -> str:
    return f"{kind.help}: {', '.join(kind.choices)}. {_default(str(kind.default))}"


def _completer(kind_name: str) -> Callable[[str], list[str]]:
    """Shell completion of a kind's values."""

    def complete(incomplete: str) -> list[str]:
        choices = load_catalog().kind(kind_name).choices
        return [value for value in choices if value.startswith(incomplete.lower())]

    return complete


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

    An ``OSError`` that escaped (a path that cannot be read or written) is reported the same
    way; Ctrl-C says that nothing was left half-written and exits 130.
    """
    from chatkit_scaffold.plan import path_error

    err = Console(stderr=True)
    try:
        try:
            yield
        except OSError as exc:
            raise path_error(Path(exc.filename or "."), exc) from exc
    except ScaffoldError as exc:
        err.print(f"[bold red]Error:[/] {escape(exc.message)}", soft_wrap=True)
        if exc.hint:
            err.print(f"[yellow]Hint:[/] {escape(exc.hint)}", soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("\nAborted: nothing was written.")
        raise typer.Exit(INTERRUPTED_EXIT_CODE) from None


def _is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


_catalog = load_catalog()
_kinds = _catalog.kinds


@app.command(cls=_LightHelpCommand)
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
        str | None,
        typer.Option(
            metavar="VALUE",
            help=_choice_help(_kinds["database"]),
            show_default=False,
            autocompletion=_completer("database"),
        ),
    ] = None,
    file_store: Annotated[
        str | None,
        typer.Option(
            metavar="VALUE",
            help=_choice_help(_kinds["file_store"]),
            show_default=False,
            autocompletion=_completer("file_store"),
        ),
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option(
            metavar="VALUE",
            help=_choice_help(_kinds["provider"]),
            show_default=False,
            autocompletion=_completer("provider"),
        ),
    ] = None,
    auth: Annotated[
        str | None,
        typer.Option(
            metavar="VALUE",
            help=_choice_help(_kinds["auth"]),
            show_default=False,
            autocompletion=_completer("auth"),
        ),
    ] = None,
    deploy: Annotated[
        str | None,
        typer.Option(
            metavar="VALUE",
            help=_choice_help(_kinds["deploy"]),
            show_default=False,
            autocompletion=_completer("deploy"),
        ),
    ] = None,
    agent: Annotated[
        list[str] | None,
        typer.Option(metavar="NAME", help=_kinds[AGENT_KIND].help + ".", show_default=False),
    ] = None,
    docker: Annotated[
        bool | None,
        typer.Option(
            "--docker/--no-docker",
            help=f"{_kinds['docker'].help}. {_default('--docker')}",
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
            "--output-dir",
            "-o",
            metavar="DIR",
            help=f"Target folder. {_default('./NAME')}",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Create a new ChatKit backend project in ./NAME (or --output-dir)."""
    from chatkit_scaffold.plan import ensure_empty_target
    from chatkit_scaffold.project import new_project

    console = Console()
    with _errors_to_exit_codes():
        flags: dict[str, object] = {
            "database": database,
            "file_store": file_store,
            "provider": provider,
            "auth": auth,
            "deploy": deploy,
            "docker": docker,
            "agents": tuple(agent) if agent else None,
        }
        given: dict[str, object] = {"name": name}
        given.update({key: value for key, value in flags.items() if value is not None})
        ProjectOptions.parse(given)  # bad flags fail before any prompt
        target = output_dir if output_dir is not None else Path(name)
        ensure_empty_target(target.resolve())
        missing = [kind.name for kind in _catalog.options() if kind.name not in given]
        if "agents" not in given:
            missing.append("agents")
        if missing and not yes:
            if _is_interactive():
                given.update(_ask(console, missing))
            else:
                _note_defaults(missing)
        options = ProjectOptions.parse(given)
        plan = new_project(options, target, dry_run=dry_run)
    if dry_run:
        _print_tree(console, plan)
        return
    console.print(
        f"[green]Created[/] {escape(str(plan.root))} ({len(plan.changes)} files).", soft_wrap=True
    )
    _print_next_steps(console, options, plan.root)


def _ask(console: Console, missing: list[str]) -> dict[str, object]:
    """Ask for each missing answer on the terminal, showing its default."""
    from rich.prompt import Confirm, Prompt

    answers: dict[str, object] = {}
    for kind in _catalog.options():
        if kind.name not in missing:
            continue
        if kind.cardinality == "flag":
            answers[kind.name] = Confirm.ask(
                kind.prompt, default=bool(kind.default), console=console
            )
            continue
        while True:
            raw = Prompt.ask(
                f"{kind.prompt} [magenta]\\[{'/'.join(kind.choices)}][/]",
                default=str(kind.default),
                console=console,
            )
            try:
                answers[kind.name] = parse_choice(kind, raw, kind.prompt)
                break
            except InvalidValue as exc:
                console.print(f"[red]{escape(exc.message)}[/]")
    if "agents" in missing:
        answers["agents"] = _ask_agents(console, _kinds[AGENT_KIND].prompt)
    return answers


def _ask_agents(console: Console, prompt: str) -> tuple[str, ...]:
    from rich.prompt import Prompt

    while True:
        text = Prompt.ask(
            f"{prompt} (comma-separated, blank for none)",
            default="",
            show_default=False,
            console=console,
        )
        names = tuple(part.strip() for part in text.split(",") if part.strip())
        problems: list[str] = []
        for agent_name in names:
            try:
                validate_agent_name(agent_name)
            except InvalidValue as exc:
                problems.append(f"{exc.message} {exc.hint or ''}".strip())
        if len(set(names)) != len(names):
            problems.append("Give each agent once.")
        if not problems:
            return names
        for problem in problems:
            console.print(f"[red]{escape(problem)}[/]")


def _note_defaults(missing: list[str]) -> None:
    taken = ", ".join(_shown(name) for name in missing)
    Console(stderr=True).print(
        f"No terminal to prompt on: using the defaults {escape(taken)}. "
        "Pass the flags, or --yes to accept the defaults silently.",
        soft_wrap=True,
    )


def _shown(name: str) -> str:
    """A default as the flags that give it, e.g. ``--database sqlite`` or ``--docker``."""
    if name == "agents":
        return "no --agent"
    kind = _kinds[name]
    if kind.cardinality == "flag":
        return "--docker" if kind.default else "--no-docker"
    return f"{kind.flag} {kind.default}"


def _print_tree(console: Console, plan: Plan) -> None:
    """Every file of a dry run as a tree with sizes, then the totals."""
    from rich.filesize import decimal
    from rich.tree import Tree

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
    console.print(tree)
    console.print(
        f"Dry run: {len(plan.changes)} files ({decimal(plan.total_bytes)}) would be written "
        f"to {escape(str(plan.root))}; nothing was written.",
        soft_wrap=True,
    )


def _print_next_steps(console: Console, options: ProjectOptions, root: Path) -> None:
    from rich.panel import Panel

    from chatkit_scaffold.render import setup_steps_for

    try:
        shown = os.path.relpath(root)
    except ValueError:
        shown = str(root)
    if shown.startswith(".."):
        shown = str(root)
    steps = [] if shown == "." else [f"cd {shlex.quote(shown)}"]
    steps += [
        "uv sync",
        "uv run pytest",
        "cp .env.example .env",
        f"uv run uvicorn {options.package_name}.main:app",
    ]
    console.print(Panel(escape("\n".join(steps)), title="Next steps", expand=False))
    setup = setup_steps_for(options.answers(), options.components())
    needed = ", ".join(step.replace("`", "") for step in setup)
    console.print(
        f"Before serving, fill in {escape(needed)} in .env; .env.example lists every variable.",
        soft_wrap=True,
    )


ProjectOption = Annotated[
    Path,
    typer.Option(
        "--project", metavar="DIR", help=f"The project folder. {_default('.')}", show_default=False
    ),
]
GrowDryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
]


@app.command("add-agent", cls=_LightHelpCommand)
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
        typer.Option(
            metavar="TEXT",
            help=f"The agent's instructions. {_default('a generic specialist prompt')}",
        ),
    ] = None,
    project: ProjectOption = Path("."),
    dry_run: GrowDryRunOption = False,
) -> None:
    """Add a specialist agent (module + test); the entry agent hands off to it."""
    from chatkit_scaffold.grow import add_agent as grow_add_agent

    with _errors_to_exit_codes():
        plan = grow_add_agent(project, name, instructions, dry_run=dry_run)
    _print_changes(Console(), plan, dry_run)


@app.command("add-tool", cls=_LightHelpCommand)
def add_tool(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="Tool name, a lower-case identifier (e.g. lookup_order); the model sees it.",
            show_default=False,
        ),
    ],
    client: Annotated[
        bool,
        typer.Option("--client", help="A client tool: the browser runs it (onClientTool)."),
    ] = False,
    approval: Annotated[
        bool,
        typer.Option("--approval", help="The user approves each call before it runs."),
    ] = False,
    agent: Annotated[
        str | None,
        typer.Option(
            metavar="AGENT",
            help=f"The specialist agent that gets the tool. {_default('the entry agent')}",
            show_default=False,
        ),
    ] = None,
    project: ProjectOption = Path("."),
    dry_run: GrowDryRunOption = False,
) -> None:
    """Add a function tool (module + test); the agent it names picks it up."""
    from chatkit_scaffold.errors import UsageError
    from chatkit_scaffold.grow import add_tool as grow_add_tool

    with _errors_to_exit_codes():
        if client and approval:
            raise UsageError(
                "Give --client or --approval, not both.",
                "A client tool runs in the browser; an approval gates a tool the server runs.",
            )
        kind = "client" if client else "approval" if approval else "server"
        plan = grow_add_tool(project, name, kind, agent, dry_run=dry_run)
    _print_changes(Console(), plan, dry_run)


@app.command("add-widget", cls=_LightHelpCommand)
def add_widget(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="Widget name, a lower-case identifier (e.g. order_status).",
            show_default=False,
        ),
    ],
    project: ProjectOption = Path("."),
    dry_run: GrowDryRunOption = False,
) -> None:
    """Add a widget: a .widget template, a typed builder, an action handler and a test."""
    from chatkit_scaffold.grow import add_widget as grow_add_widget

    with _errors_to_exit_codes():
        plan = grow_add_widget(project, name, dry_run=dry_run)
    _print_changes(Console(), plan, dry_run)


def _grow_command(kind: Kind) -> Callable[..., None]:
    """The ``add-<kind>`` command of a kind with one argument: the value to add."""

    def command(value: str, project: Path = Path("."), dry_run: bool = False) -> None:
        from chatkit_scaffold.grow import add_component

        with _errors_to_exit_codes():
            plan = add_component(project, kind.name, value, dry_run=dry_run)
        _print_changes(Console(), plan, dry_run)

    command.__doc__ = kind.grow_help
    command.__annotations__ = {
        "value": Annotated[
            str,
            typer.Argument(
                metavar=kind.argument,
                help=f"{kind.help}: {', '.join(kind.choices)}.",
                show_default=False,
                autocompletion=_completer(kind.name),
            ),
        ],
        "project": ProjectOption,
        "dry_run": GrowDryRunOption,
        "return": None,
    }
    return command


for _kind in _kinds.values():
    if _kind.grow_command and _kind.cardinality != "named":
        app.command(_kind.grow_command, cls=_LightHelpCommand)(_grow_command(_kind))


@app.command(cls=_LightHelpCommand)
def update(project: ProjectOption = Path("."), dry_run: GrowDryRunOption = False) -> None:
    """Bring the project to this version's templates (three-way merge; your edits are kept)."""
    from chatkit_scaffold.update import CONFLICTS_EXIT_CODE, update_project

    console = Console()
    with _errors_to_exit_codes():
        result = update_project(project, dry_run=dry_run)
    if result.current:
        for note in result.plan.notes:
            console.print(note, soft_wrap=True)
        return
    console.print(
        f"Updating {escape(str(result.plan.root))} from chatkit-scaffold {result.from_version} "
        f"to {result.to_version}.",
        soft_wrap=True,
    )
    # A real update changes many files: the diffs are for the dry run that comes before it.
    _print_changes(console, result.plan, dry_run, show_diffs=dry_run)
    conflicts = result.merge.conflicts
    if not conflicts:
        return
    verb = "would need" if dry_run else "need"
    err = Console(stderr=True)
    err.print(f"[bold red]{len(conflicts)} file(s) {verb} resolving:[/]")
    for item in conflicts:
        where = f"{item.conflicts} conflict(s)" if item.conflicts else "kept as yours (binary)"
        err.print(f"  {escape(item.path)}: {where}", soft_wrap=True)
    err.print(
        "Edit each file: keep what you want between the <<<<<<< yours and >>>>>>> markers and "
        "delete the markers; then run the project's tests.",
        soft_wrap=True,
    )
    raise typer.Exit(CONFLICTS_EXIT_CODE)


def _print_changes(console: Console, plan: Plan, dry_run: bool, *, show_diffs: bool = True) -> None:
    from rich.filesize import decimal
    from rich.table import Table

    from chatkit_scaffold.manifest import MANIFEST_NAME
    from chatkit_scaffold.plan import Action

    for note in plan.notes:
        console.print(f"[yellow]Note:[/] {escape(note)}", soft_wrap=True)
    if not plan.writes:
        console.print("Nothing to do: the project already has everything this command adds.")
        return
    styles = {
        Action.CREATE: "green",
        Action.MODIFY: "yellow",
        Action.DELETE: "red",
        Action.CONFLICT: "bold red",
    }
    table = Table(show_header=True, header_style="bold")
    table.add_column("action")
    table.add_column("file")
    table.add_column("size", justify="right")
    for change in plan.writes:
        style = styles.get(change.action, "magenta")
        table.add_row(
            f"[{style}]{change.action.value}[/]", escape(change.path), decimal(len(change.new))
        )
    console.print(table)
    for change in plan.writes:
        if show_diffs and change.action is not Action.CREATE and change.path != MANIFEST_NAME:
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
