"""The figures of a fault-injection run, printed as a table at the end of the session."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Row:
    """One scenario: what was sent, how it ended, what was lost, the server's memory."""

    scenario: str
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    rss_before_mib: float | None = None
    rss_after_mib: float | None = None
    seconds: float = 0.0


ROWS: list[Row] = []


def table() -> str:
    """The rows as a Markdown table."""
    lines = [
        "| scenario | requests | errors by kind | messages lost | RSS before -> after (MiB) | s |",
        "|---|---|---|---|---|---|",
    ]
    for row in ROWS:
        errors = ", ".join(f"{kind}: {count}" for kind, count in sorted(row.errors.items()))
        memory = (
            f"{row.rss_before_mib:.0f} -> {row.rss_after_mib:.0f}"
            if row.rss_before_mib is not None and row.rss_after_mib is not None
            else "-"
        )
        lines.append(
            f"| {row.scenario} | {row.requests} | {errors or 'none'} | {row.lost} | {memory} "
            f"| {row.seconds:.1f} |"
        )
    return "\n".join(lines)
