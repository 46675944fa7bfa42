"""Small, dependency-free helpers of the benchmarks: summaries of samples and process readings.

Server figures are read from ``/proc`` (Linux): a process's CPU time (user + system, every
thread, from ``/proc/<pid>/stat``) and its resident memory (``/proc/<pid>/status``).
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Summary:
    """Median, extremes and 95th percentile of a list of samples."""

    median: float
    low: float
    high: float
    p95: float
    count: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (0..1) of ``samples``, interpolated linearly between ranks."""
    if not samples:
        raise ValueError("no samples")
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be within 0..1, got {fraction}")
    ordered = sorted(samples)
    rank = fraction * (len(ordered) - 1)
    below, above = math.floor(rank), math.ceil(rank)
    weight = rank - below
    return ordered[below] * (1 - weight) + ordered[above] * weight


def summarize(samples: Sequence[float]) -> Summary:
    """The summary of a non-empty list of samples."""
    if not samples:
        raise ValueError("no samples")
    return Summary(
        median=statistics.median(samples),
        low=min(samples),
        high=max(samples),
        p95=percentile(samples, 0.95),
        count=len(samples),
    )


def ratio(value: float, baseline: float) -> float | None:
    """``value / baseline``, or None when the baseline is zero (nothing to compare with)."""
    if baseline == 0:
        return None
    return value / baseline


def parse_cpu_ticks(stat_line: str) -> int:
    """User + system clock ticks of a ``/proc/<pid>/stat`` line (all threads of the process).

    The command name (field 2) is in parentheses and may itself hold spaces and parentheses, so
    the fields are counted after its last ``)``: utime and stime are fields 14 and 15.
    """
    after_name = stat_line[stat_line.rindex(")") + 2 :].split()
    # after_name[0] is field 3 (state); field N is after_name[N - 3].
    return int(after_name[14 - 3]) + int(after_name[15 - 3])


def cpu_seconds(pid: int, proc: Path = PROC) -> float:
    """CPU time (user + system, every thread) a running process has used so far, in seconds."""
    line = (proc / str(pid) / "stat").read_text()
    return parse_cpu_ticks(line) / os.sysconf("SC_CLK_TCK")


def parse_status_kib(status_text: str, field: str) -> int:
    """A ``kB`` field (``VmRSS``, ``VmHWM``) of a ``/proc/<pid>/status`` text, in KiB."""
    for line in status_text.splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    raise ValueError(f"{field} is not in the status text")


def rss_kib(pid: int, proc: Path = PROC) -> int:
    """Resident memory of a running process now, in KiB."""
    return parse_status_kib((proc / str(pid) / "status").read_text(), "VmRSS")
