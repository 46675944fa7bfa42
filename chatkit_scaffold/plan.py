"""What a command will write, and the two all-or-nothing ways of writing it.

A ``Plan`` lists every file a command touches. ``apply_new_project`` stages a whole new project
and renames it into place, so a failure leaves no partial folder.
``apply_changes`` edits an existing project and restores every touched file if anything fails.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import os
import secrets
import shutil
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from chatkit_scaffold.errors import RefusedError, ScaffoldError, UsageError


class Action(StrEnum):
    """What happens to one file."""

    CREATE = "create"
    MODIFY = "modify"
    UNCHANGED = "unchanged"
    #: The file is removed (``new`` is empty).
    DELETE = "delete"
    #: Written like MODIFY, with conflict markers the user must resolve.
    CONFLICT = "conflict"


@dataclass(frozen=True)
class FileChange:
    """One file of a plan: its path relative to the project root and its new content."""

    path: str
    action: Action
    new: bytes
    old: bytes | None = None
    executable: bool = False

    def diff(self) -> str:
        """A unified diff from the current content to the new one (empty when unchanged)."""
        if self.action is Action.UNCHANGED:
            return ""
        old = (self.old or b"").decode(errors="replace").splitlines(keepends=True)
        new = self.new.decode(errors="replace").splitlines(keepends=True)
        before = f"a/{self.path}" if self.old is not None else "/dev/null"
        after = "/dev/null" if self.action is Action.DELETE else f"b/{self.path}"
        return "".join(difflib.unified_diff(old, new, before, after))


@dataclass(frozen=True)
class Plan:
    """Every file a command writes (or would write, with ``--dry-run``) under ``root``."""

    root: Path
    changes: tuple[FileChange, ...]
    notes: tuple[str, ...] = ()

    @property
    def writes(self) -> tuple[FileChange, ...]:
        """The changes that write something."""
        return tuple(change for change in self.changes if change.action is not Action.UNCHANGED)

    @property
    def total_bytes(self) -> int:
        """Size of everything written."""
        return sum(len(change.new) for change in self.writes)


def ensure_empty_target(target: Path) -> None:
    """Refuse a target that exists and is not an empty folder, or that cannot be inspected."""
    try:
        empty_folder = target.is_dir() and not any(target.iterdir())
        occupied = not empty_folder and (target.exists() or target.is_symlink())
    except OSError as exc:
        raise path_error(target, exc) from None
    if occupied:
        kind = "folder is not empty" if target.is_dir() else "path is not a folder"
        raise RefusedError(
            f"Refusing to write into {target}: the {kind}.",
            "Choose another NAME or --output-dir, or move the existing folder away.",
        )


def path_error(path: Path, exc: OSError) -> ScaffoldError:
    """A ``ScaffoldError`` for an ``OSError`` met on a user-given path (never a traceback)."""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENAMETOOLONG:
        return UsageError(
            f"Cannot use {path}: {reason}.",
            "Use a shorter NAME or --output-dir (each folder name at most 255 bytes).",
        )
    return ScaffoldError(
        f"Cannot use {exc.filename or path}: {reason}.",
        "Check that the folder exists, that you may read and write it, and that it is not on "
        "a read-only filesystem.",
    )


def apply_new_project(plan: Plan) -> None:
    """Write a new project so that a failure leaves nothing behind.

    A missing target is staged in a sibling folder that is renamed into place. An existing empty
    target (``-o .`` included) is kept, so a shell inside it stays valid: the project is staged
    in a hidden folder inside it and its entries are renamed up. On failure everything written
    is removed and the target is as it was.
    """
    target = plan.root
    ensure_empty_target(target)
    existing = target.is_dir()
    staging = (
        target / f".chatkit-scaffold.{secrets.token_hex(4)}.partial"
        if existing
        else target.parent / f".{target.name}.{secrets.token_hex(4)}.partial"
    )
    created_parents: list[Path] = []
    moved: list[Path] = []
    try:
        if not existing:
            created_parents = _make_parents(target.parent)
        staging.mkdir()
        for change in plan.changes:
            _write(staging / change.path, change.new, change.executable)
        if existing:
            for entry in sorted(staging.iterdir()):
                entry.rename(target / entry.name)
                moved.append(target / entry.name)
            staging.rmdir()
        else:
            staging.rename(target)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        for entry in moved:
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink(missing_ok=True)
        _remove_empty(created_parents)
        if isinstance(exc, OSError):
            raise ScaffoldError(
                f"Could not write the project to {target}: {exc}",
                "Nothing was written. Check the folder's permissions and free space.",
            ) from exc
        raise


def apply_changes(plan: Plan) -> None:
    """Write a plan's changes into an existing project; on any failure restore every file.

    A deleted file's folder is removed too when it is left empty.
    """
    backups: list[tuple[Path, bytes | None, bool]] = []
    created_dirs: list[Path] = []
    emptied: list[Path] = []
    try:
        for change in plan.writes:
            path = plan.root / change.path
            if change.action is Action.DELETE:
                if path.exists():
                    backups.append((path, path.read_bytes(), os.access(path, os.X_OK)))
                    path.unlink()
                    emptied.append(path.parent)
                continue
            created_dirs.extend(_make_parents(path.parent))
            old = path.read_bytes() if path.exists() else None
            backups.append((path, old, old is not None and os.access(path, os.X_OK)))
            _write(path, change.new, change.executable)
    except BaseException as exc:
        for path, old, executable in reversed(backups):
            if old is None:
                with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                    path.unlink()
            else:
                _write(path, old, executable)
        _remove_empty(created_dirs)
        if isinstance(exc, OSError):
            raise ScaffoldError(
                f"Could not update {plan.root}: {exc}",
                "Every file was restored to what it was before the command.",
            ) from exc
        raise
    for folder in emptied:
        _remove_empty_up_to(folder, plan.root)


def _write(path: Path, content: bytes, executable: bool) -> None:
    """Write a file atomically (temporary file + rename), keeping an existing file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        temporary.write_bytes(content)
        if mode is not None:
            temporary.chmod(mode)
        elif executable:
            temporary.chmod(temporary.stat().st_mode | 0o111)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the ones created, outermost first."""
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    missing.reverse()
    for path in missing:
        path.mkdir()
    return missing


def _remove_empty_up_to(folder: Path, root: Path) -> None:
    """Remove ``folder`` and its parents below ``root`` while they are empty."""
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _remove_empty(folders: list[Path]) -> None:
    """Remove folders this module created (innermost first) if they are still empty."""
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            continue
