"""The Docker image tests' figures (build times, image sizes), printed at the end of the run.

Whichever process builds an image records its figures in a folder of pytest's cache; the process
that prints the terminal summary (the xdist controller, or the only process) prints those recorded
since the run started. ``tests/conftest.py`` imports the two hooks.
"""

from __future__ import annotations

import json
import time

import pytest

_FOLDER = "chatkit-scaffold-oci-figures"
_run_started = time.time()


def record_figure(config: pytest.Config, name: str, text: str, *, keep: bool = False) -> None:
    """Record ``text`` (one line) under ``name`` for this run's summary.

    With ``keep``, a figure already recorded under ``name`` during this run stays.
    """
    cache = getattr(config, "cache", None)
    if cache is None:  # the cache plugin is off: nothing to print at the end
        return
    path = cache.mkdir(_FOLDER) / f"{name}.json"
    if keep and path.exists() and json.loads(path.read_text())["at"] >= _run_started:
        return
    path.write_text(json.dumps({"at": time.time(), "text": text}))


def pytest_configure(config: pytest.Config) -> None:
    global _run_started
    _run_started = time.time()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    cache = getattr(config, "cache", None)
    if cache is None:
        return
    lines = []
    for path in sorted(cache.mkdir(_FOLDER).glob("*.json")):
        entry = json.loads(path.read_text())
        if entry["at"] >= _run_started:
            lines.append(f"{path.stem}: {entry['text']}")
    if lines:
        terminalreporter.write_sep("-", "Docker images")
        for line in lines:
            terminalreporter.write_line(line)
