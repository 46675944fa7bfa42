"""Prints the fault-injection figures (`figures.ROWS`) after the run."""

from __future__ import annotations

import pytest

from .figures import ROWS, table


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if ROWS:
        terminalreporter.section("fault-injection figures")
        terminalreporter.write_line(table())
