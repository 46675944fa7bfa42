"""The one error type the tool raises for anything a user can act on.

The CLI prints ``message`` and ``hint`` and exits with ``exit_code``; it never shows a traceback
for these. Exit codes: 1 failure while generating, 2 bad input, 4 refused.
"""

from __future__ import annotations


class ScaffoldError(Exception):
    """A failure with a message for the user, an optional hint and the process exit code."""

    default_exit_code = 1

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = self.default_exit_code if exit_code is None else exit_code


class UsageError(ScaffoldError):
    """Bad input: a bad NAME, flag value or combination, or a missing flag (exit 2)."""

    default_exit_code = 2


class RefusedError(ScaffoldError):
    """The tool will not do it: non-empty target, not a project, a user-edited file (exit 4)."""

    default_exit_code = 4
