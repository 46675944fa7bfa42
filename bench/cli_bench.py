"""Time the tool's commands and report their peak memory.

Runs each command several times in fresh processes (as a user would) and prints the median and
the worst wall time, and the largest peak resident set size:

- `chatkit-scaffold --help` (must stay fast: copier is imported lazily);
- `chatkit-scaffold new NAME --yes --dry-run` (renders, writes nothing);
- `chatkit-scaffold new NAME --yes` (renders and writes a project);
- `chatkit-scaffold add-agent NAME` in a fresh project (renders twice and plans a change).

Usage (from the repository root, after `uv sync`):

    uv run python bench/cli_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TOOL = [sys.executable, "-m", "chatkit_scaffold"]


def run_once(args: list[str], cwd: Path) -> tuple[float, int]:
    """Run the tool once; return wall seconds and the largest child peak RSS so far, in KiB."""
    start = time.perf_counter()
    subprocess.run([*TOOL, *args], cwd=cwd, check=True, capture_output=True, env=_env())
    elapsed = time.perf_counter() - start
    return elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    return env


def measure(
    label: str, runs: int, prepare: Callable[[Path], list[str]], results: list[str]
) -> None:
    times: list[float] = []
    peak = 0
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as scratch:
            cwd = Path(scratch)
            args = prepare(cwd)
            elapsed, rss = run_once(args, cwd)
            times.append(elapsed)
            peak = max(peak, rss)
    results.append(
        f"{label:<38} median {statistics.median(times):6.3f} s   "
        f"max {max(times):6.3f} s   peak RSS {peak / 1024:6.1f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs

    def new_project(cwd: Path) -> list[str]:
        subprocess.run([*TOOL, "new", "app", "--yes"], cwd=cwd, check=True, capture_output=True)
        return ["add-agent", "billing", "--project", str(cwd / "app")]

    results: list[str] = []
    measure("chatkit-scaffold --help", runs, lambda _: ["--help"], results)
    dry_run = ["new", "app", "--yes", "--dry-run"]
    measure("new NAME --yes --dry-run", runs, lambda _: dry_run, results)
    measure("new NAME --yes", runs, lambda _: ["new", "app", "--yes"], results)
    measure("add-agent NAME (fresh project)", runs, new_project, results)
    print(f"chatkit-scaffold CLI, {runs} runs each, Python {sys.version.split()[0]}")
    for line in results:
        print(line)


if __name__ == "__main__":
    main()
