"""Run a server module with cProfile switched on and off by signals (``bench.compare --profile``).

    python -m bench.profiled PROFILE_DIR MODULE [ARGS...]

runs ``python -m MODULE ARGS...`` in this process. ``SIGUSR1`` starts profiling the main
thread (the event loop, where the Python work of a request happens) in CPU time, not wall time
(on a loaded machine a wall clock also counts the time the server waited for a CPU);
``SIGUSR2`` stops it and
writes the statistics to ``PROFILE_DIR/<n>.prof`` (n = 1, 2, ...; written atomically), then
forgets them. While off, it costs nothing.
"""

from __future__ import annotations

import cProfile
import os
import runpy
import signal
import sys
import time
from pathlib import Path
from types import FrameType


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    folder, module = Path(sys.argv[1]), sys.argv[2]
    folder.mkdir(parents=True, exist_ok=True)
    profiler = cProfile.Profile(time.thread_time)
    dumps = 0

    def start(signum: int, frame: FrameType | None) -> None:
        profiler.enable()

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal dumps
        profiler.disable()
        dumps += 1
        partial = folder / f"{dumps}.partial"
        profiler.dump_stats(partial)
        os.replace(partial, folder / f"{dumps}.prof")
        profiler.clear()

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()


def _short(filename: str) -> str:
    """A frame's file relative to its site-packages (or the project's src), when it is in one."""
    for marker in ("site-packages/", "/src/", "/bench/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def top_frames(path: Path, count: int = 20) -> str:
    """The functions with the most own time, then the most inclusive time, as two tables."""
    import pstats

    stats = pstats.Stats(str(path))
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(own for _, _, own, _, _ in raw.values()) or 1.0
    rows = [
        (own, inclusive, calls, f"{name} ({_short(file)}:{line})")
        for (file, line, name), (_, calls, own, inclusive, _) in raw.items()
    ]
    lines = [
        f"{total:.3f} s of profiled CPU time (main thread)",
        "",
        "own %  incl %   calls  function",
    ]
    for own, inclusive, calls, label in sorted(rows, reverse=True)[:count]:
        lines.append(f"{own / total:5.1%} {inclusive / total:6.1%} {calls:7d}  {label}")
    lines += ["", "by inclusive time:", "own %  incl %   calls  function"]
    for own, inclusive, calls, label in sorted(rows, key=lambda r: r[1], reverse=True)[:count]:
        lines.append(f"{own / total:5.1%} {inclusive / total:6.1%} {calls:7d}  {label}")
    return "\n".join(lines)
