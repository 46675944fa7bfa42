"""Turn the bench's per-round figures into its table, its targets, its JSON and its plot.

Every figure is one value per round and backend (a batch's median wall time, its server CPU per
request, ...). The table shows the median over rounds with the lowest and highest round; a ratio
to the baseline is computed round by round (both servers measured back to back, under the same
load) and summarized the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import Summary, ratio, summarize

BASELINE = "quickstart"

Rounds = list[dict[str, float]]
"""One metric dict per round, e.g. ``[{"wall": 0.004, "cpu": 0.002}, ...]``."""


@dataclass
class Results:
    """Every per-round figure: ``figures[measure][backend]`` is a list of rounds."""

    backends: list[str]
    figures: dict[str, dict[str, Rounds]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, measure: str, backend: str, values: Mapping[str, float]) -> None:
        self.figures.setdefault(measure, {}).setdefault(backend, []).append(dict(values))

    def summary(self, measure: str, backend: str, metric: str) -> Summary | None:
        rounds = self.figures.get(measure, {}).get(backend, [])
        values = [r[metric] for r in rounds if metric in r]
        return summarize(values) if values else None

    def paired_ratio(
        self, measure: str, backend: str, metric: str, baseline: str = BASELINE
    ) -> Summary | None:
        """``backend / baseline`` per round (rounds measured back to back), summarized."""
        mine = self.figures.get(measure, {}).get(backend, [])
        theirs = self.figures.get(measure, {}).get(baseline, [])
        ratios = [
            value
            for a, b in zip(mine, theirs, strict=False)
            if metric in a and metric in b
            for value in [ratio(a[metric], b[metric])]
            if value is not None
        ]
        return summarize(ratios) if ratios else None

    def growth(self, small: str, large: str, backend: str, metric: str) -> Summary | None:
        """``large / small`` per round for one backend (how a figure grows with size)."""
        rounds_small = self.figures.get(small, {}).get(backend, [])
        rounds_large = self.figures.get(large, {}).get(backend, [])
        ratios = [
            value
            for a, b in zip(rounds_large, rounds_small, strict=False)
            for value in [ratio(a[metric], b[metric])]
            if value is not None
        ]
        return summarize(ratios) if ratios else None


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def cell(summary: Summary | None, unit: str = "ms") -> str:
    """``median (low-high)`` in ms, as x for ratios, or plain numbers."""
    if summary is None:
        return "-"
    if unit == "ms":
        return f"{ms(summary.median)} ({ms(summary.low)}-{ms(summary.high)})"
    if unit == "x":
        return f"{summary.median:.2f}x ({summary.low:.2f}-{summary.high:.2f})"
    return f"{summary.median:.1f} ({summary.low:.1f}-{summary.high:.1f})"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def figure_table(
    results: Results, measures: Sequence[tuple[str, str]], metric: str, unit: str = "ms"
) -> str:
    """One row per measure: each backend's figure, then each backend's ratio to the baseline."""
    others = [b for b in results.backends if b != BASELINE]
    header = ["", *results.backends, *(f"{b} / {BASELINE}" for b in others)]
    rows = []
    for measure, label in measures:
        if measure not in results.figures:
            continue
        row = [label]
        row += [cell(results.summary(measure, b, metric), unit) for b in results.backends]
        row += [cell(results.paired_ratio(measure, b, metric), "x") for b in others]
        rows.append(row)
    return markdown_table(header, rows)


@dataclass(frozen=True)
class Goal:
    """A target of issue 12: ``value <= limit`` (or ``<``) for one figure."""

    label: str
    value: float | None
    limit: float
    strict: bool = False
    unit: str = "x"

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value < self.limit if self.strict else self.value <= self.limit

    def line(self) -> str:
        if self.value is None:
            return f"- {self.label}: not measured"
        shown, limit = (_shown(v, self.unit) for v in (self.value, self.limit))
        verdict = "met" if self.met else "MISSED"
        return f"- {self.label}: {shown} ({'<' if self.strict else '<='} {limit}) {verdict}"


def _shown(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value * 1000:.1f} ms"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:g}"


def to_json(results: Results, extra: Mapping[str, Any]) -> str:
    """Every figure (per round), their summaries and ratios, and ``extra`` (config, machine)."""
    summaries: dict[str, Any] = {}
    for measure, by_backend in results.figures.items():
        summaries[measure] = {}
        for backend, rounds in by_backend.items():
            metrics = sorted({key for r in rounds for key in r})
            summaries[measure][backend] = {
                metric: {
                    "summary": _as_dict(results.summary(measure, backend, metric)),
                    "ratio_to_baseline": _as_dict(results.paired_ratio(measure, backend, metric))
                    if backend != BASELINE
                    else None,
                }
                for metric in metrics
            }
    document = {
        **extra,
        "backends": results.backends,
        "baseline": BASELINE,
        "rounds": results.figures,
        "summaries": summaries,
        "notes": results.notes,
    }
    return json.dumps(document, indent=2, sort_keys=False)


def _as_dict(summary: Summary | None) -> dict[str, float] | None:
    return summary.as_dict() if summary is not None else None


def plot_items_list(results: Results, sizes: Sequence[int], path: Path) -> None:
    """``items.list`` wall time and server CPU against thread size, one line per backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for axis, metric, title in (
        (axes[0], "wall", "items.list wall time per request"),
        (axes[1], "cpu", "items.list server CPU per request"),
    ):
        for backend in results.backends:
            points = [
                (size, results.summary(f"items.list@{size}", backend, metric)) for size in sizes
            ]
            shown = [(size, s) for size, s in points if s is not None]
            if not shown:
                continue
            xs = [size for size, _ in shown]
            medians = [s.median * 1000 for _, s in shown]
            below = [(s.median - s.low) * 1000 for _, s in shown]
            above = [(s.high - s.median) * 1000 for _, s in shown]
            axis.errorbar(xs, medians, yerr=[below, above], marker="o", capsize=3, label=backend)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("items in the thread")
        axis.set_ylabel("ms (median, min-max over rounds)")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
