"""Time the tool's commands as a user runs them: fresh processes, side by side, round by round.

    uv run python bench/cli_bench.py [--rounds 11] [--before REF] [--out bench/results]

The tool is installed from this checkout as a wheel into a fresh virtual environment with its
bytecode compiled (what ``pip install`` / ``uv tool install`` give a user: runtime dependencies
only). With ``--before REF`` a second environment holds the tool at git ref REF, and every
command runs for both in the same rounds, so the before/after ratios are measured under the same
load. Each round runs every command once, in a rotating order; the table shows the median
over rounds with the fastest and slowest round, for wall time and CPU time (user + system of
the process and its children).

Commands: ``python -c pass`` and ``python -c "import typer"`` (the floor of any Typer CLI),
``chatkit-scaffold --help``, ``add-agent`` of an agent the project has (a no-op),
``new NAME --yes`` next to ``bench/raw_render.py`` (the same template files rendered with a
plain ``jinja2.Environment`` and written, nothing else: the baseline of ``new``), and
``add-agent`` / ``add-store postgres`` on a fresh copy of a generated project.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stats import Summary, summarize

REPO = Path(__file__).resolve().parent.parent
TIMEOUT_S = 300

#: Targets of issue 12 (wall seconds, median).
HELP_TARGET_S = 0.25
NOOP_TARGET_S = 0.30
NEW_TARGET_RATIO = 1.10


@dataclass
class Tool:
    """One installed version of the tool: its environment and the projects it generated."""

    label: str
    venv: Path
    work: Path

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    @property
    def command(self) -> list[str]:
        return [str(self.venv / "bin" / "chatkit-scaffold")]


@dataclass
class Measure:
    """A command, how to prepare its folder (untimed), and its figures per round."""

    name: str
    prepare: Callable[[Path], list[str]]
    env: dict[str, str] = field(default_factory=dict)
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONHOME")
    }
    env.update({"NO_COLOR": "1", "COLUMNS": "100"})
    env.update(extra or {})
    return env


def install(source: Path, venv: Path) -> None:
    """A fresh environment with the tool at ``source`` installed as a wheel, bytecode compiled."""
    env = clean_env()
    subprocess.run(["uv", "venv", "--quiet", str(venv)], check=True, env=env)
    subprocess.run(
        [
            "uv",
            "pip",
            "install",
            "--quiet",
            "--compile-bytecode",
            "--python",
            str(venv),
            str(source),
        ],
        check=True,
        env=env,
    )


def export(ref: str, target: Path) -> Path:
    """The tree of git ``ref`` in ``target`` (no worktree bookkeeping)."""
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", ref], cwd=REPO, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def run_timed(command: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (the process and its children) of one run; it must exit 0."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        list(command), cwd=cwd, env=env, capture_output=True, timeout=TIMEOUT_S, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(command)}` exited {completed.returncode}:\n"
            f"{completed.stdout.decode()[-2000:]}{completed.stderr.decode()[-2000:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def new_answers(tool: Tool) -> tuple[str, str]:
    """The answers and components of ``new app --yes`` as the tool resolves them (JSON)."""
    script = (
        "import json\n"
        "from chatkit_scaffold.options import ProjectOptions\n"
        "options = ProjectOptions.parse({'name': 'app'})\n"
        "print(json.dumps(options.answers()))\n"
        "print(json.dumps([c.model_dump() for c in options.components()]))\n"
    )
    output = subprocess.run(
        [tool.python, "-c", script], check=True, capture_output=True, text=True, env=clean_env()
    ).stdout.splitlines()
    return output[0], output[1]


def measures_for(tool: Tool) -> list[Measure]:
    """Every command of one installed tool, with its untimed preparation."""
    noop = tool.work / "noop"
    subprocess.run(
        [*tool.command, "new", "app", "-y", "--agent", "billing", "-o", str(noop)],
        check=True,
        capture_output=True,
        env=clean_env(),
    )
    pristine = tool.work / "pristine"
    subprocess.run(
        [*tool.command, "new", "app", "-y", "-o", str(pristine)],
        check=True,
        capture_output=True,
        env=clean_env(),
    )
    answers, components = new_answers(tool)
    # Run as a script from a folder of its own, so that `chatkit_scaffold` is the installed one.
    raw = tool.work / "raw_render.py"
    shutil.copy(REPO / "bench" / "raw_render.py", raw)

    def fresh_copy(scratch: Path) -> Path:
        copy = scratch / "app"
        shutil.copytree(pristine, copy)
        return copy

    label = tool.label
    return [
        Measure(f"{label}: --help", lambda _: [*tool.command, "--help"]),
        Measure(
            f"{label}: add-agent (exists, no-op)",
            lambda _: [*tool.command, "add-agent", "billing", "--project", str(noop)],
        ),
        Measure(
            f"{label}: new NAME --yes",
            lambda scratch: [*tool.command, "new", "app", "-y", "-o", str(scratch / "app")],
        ),
        Measure(
            f"{label}: raw Jinja2 render of the same files",
            lambda scratch: [tool.python, str(raw), answers, components, str(scratch / "app")],
        ),
        Measure(
            f"{label}: add-agent NAME",
            lambda scratch: [
                *tool.command,
                "add-agent",
                "support",
                "--project",
                str(fresh_copy(scratch)),
            ],
        ),
        Measure(
            f"{label}: add-store postgres",
            lambda scratch: [
                *tool.command,
                "add-store",
                "postgres",
                "--project",
                str(fresh_copy(scratch)),
            ],
        ),
    ]


def reference_measures(tool: Tool) -> list[Measure]:
    return [
        Measure("python -c pass", lambda _: [tool.python, "-c", "pass"]),
        Measure('python -c "import typer"', lambda _: [tool.python, "-c", "import typer"]),
    ]


def run_rounds(measures: list[Measure], rounds: int) -> None:
    for round_index in range(rounds):
        shift = round_index % len(measures)
        for measure in [*measures[shift:], *measures[:shift]]:
            with tempfile.TemporaryDirectory(prefix="cli-bench-") as scratch:
                command = measure.prepare(Path(scratch))
                wall, cpu = run_timed(command, Path(scratch), clean_env(measure.env))
            measure.walls.append(wall)
            measure.cpus.append(cpu)
        print(f"round {round_index + 1}/{rounds}", file=sys.stderr, flush=True)


def paired(a: Measure, b: Measure, cpu: bool = False) -> Summary:
    """``a / b`` round by round."""
    xs, ys = (a.cpus, b.cpus) if cpu else (a.walls, b.walls)
    return summarize([x / y for x, y in zip(xs, ys, strict=True)])


def seconds(summary: Summary) -> str:
    return f"{summary.median:.3f} ({summary.low:.3f}-{summary.high:.3f})"


def times(summary: Summary) -> str:
    return f"{summary.median:.2f}x ({summary.low:.2f}-{summary.high:.2f})"


def report(measures: list[Measure], tools: list[str], rounds: int) -> tuple[str, dict[str, object]]:
    by_name = {m.name: m for m in measures}
    lines = [
        f"chatkit-scaffold CLI, {rounds} rounds, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
        "",
        "| command | wall s, median (min-max) | CPU s, median (min-max) |",
        "|---|---|---|",
    ]
    for measure in measures:
        lines.append(
            f"| {measure.name} | {seconds(summarize(measure.walls))} "
            f"| {seconds(summarize(measure.cpus))} |"
        )
    ratios: dict[str, object] = {}
    lines += ["", "| ratio, round by round | wall | CPU |", "|---|---|---|"]
    for label in tools:
        new, raw = (
            by_name[f"{label}: new NAME --yes"],
            by_name[f"{label}: raw Jinja2 render of the same files"],
        )
        name = f"{label}: new / raw Jinja2 render"
        lines.append(f"| {name} | {times(paired(new, raw))} | {times(paired(new, raw, True))} |")
        ratios[name] = paired(new, raw).as_dict()
    if len(tools) == 2:
        before, after = tools
        for suffix in (
            "--help",
            "add-agent (exists, no-op)",
            "new NAME --yes",
            "add-agent NAME",
            "add-store postgres",
        ):
            a, b = by_name[f"{after}: {suffix}"], by_name[f"{before}: {suffix}"]
            name = f"{suffix}: {after} / {before}"
            lines.append(f"| {name} | {times(paired(a, b))} | {times(paired(a, b, True))} |")
            ratios[name] = paired(a, b).as_dict()
    after = tools[-1]
    help_wall = summarize(by_name[f"{after}: --help"].walls).median
    noop_wall = summarize(by_name[f"{after}: add-agent (exists, no-op)"].walls).median
    new_ratio = paired(
        by_name[f"{after}: new NAME --yes"],
        by_name[f"{after}: raw Jinja2 render of the same files"],
    ).median
    targets = [
        ("--help wall median", help_wall, HELP_TARGET_S, "s"),
        ("no-op add-agent wall median", noop_wall, NOOP_TARGET_S, "s"),
        ("new / raw Jinja2 render, wall", new_ratio, NEW_TARGET_RATIO, "x"),
    ]
    lines += ["", "Targets:"]
    for label, value, limit, unit in targets:
        verdict = "met" if value <= limit else "MISSED"
        lines.append(f"- {label}: {value:.3f}{unit} (<= {limit}{unit}) {verdict}")
    document: dict[str, object] = {
        "rounds": rounds,
        "load_after": os.getloadavg(),
        "python": platform.python_version(),
        "measures": {
            m.name: {
                "wall": summarize(m.walls).as_dict(),
                "cpu": summarize(m.cpus).as_dict(),
                "walls": m.walls,
                "cpus": m.cpus,
            }
            for m in measures
        },
        "ratios": ratios,
        "targets": [
            {"label": label, "value": value, "limit": limit, "met": value <= limit}
            for label, value, limit, _ in targets
        ],
    }
    return "\n".join(lines), document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--before", metavar="REF", help="also time the tool at this git ref")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cli-bench-setup-") as setup:
        root = Path(setup)
        tools: list[Tool] = []
        if args.before:
            source = export(args.before, root / "before-src")
            tools.append(Tool(f"before ({args.before})", root / "before-venv", root / "before"))
            install(source, tools[-1].venv)
        tools.append(Tool("after" if args.before else "tool", root / "venv", root / "tool"))
        install(REPO, tools[-1].venv)
        measures = reference_measures(tools[-1])
        for tool in tools:
            tool.work.mkdir()
            measures += measures_for(tool)
        run_rounds(measures, args.rounds)
    text, document = report(measures, [tool.label for tool in tools], args.rounds)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cli.md").write_text(text + "\n")
    (args.out / "cli.json").write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
