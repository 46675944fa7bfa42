"""The three-way merge behind ``update``: what each file of a project becomes, never losing an edit.

For every path, three versions meet: the *base* (what the recorded version generated, rendered
again from its frozen templates), *theirs* (what the installed version generates for the same
answers and components) and *ours* (the file on disk). ``merge_project`` decides per file:

- ``unchanged``: nothing to do (the template did not change the file, or the disk already has
  the new content, or the file is gone from every side);
- ``created``: new in the template and absent on disk;
- ``replaced``: pristine (its sha256 is the manifest's record, or it equals the base), so it
  becomes the new render;
- ``merged``: edited by the user where the template did not change it; both changes are kept;
- ``conflict``: both changed the same lines; the file gets git-style markers
  (``<<<<<<< yours`` / ``||||||| chatkit-scaffold OLD`` / ``=======`` /
  ``>>>>>>> chatkit-scaffold NEW``). A file the template adds that the user had already created
  with other content is an add/add conflict: markers around the lines that differ. A binary or
  non-UTF-8 file never gets markers: the user's file is kept and reported;
- ``deleted``: no longer generated and pristine;
- ``kept-edited``: no longer generated but edited, so kept, with a note;
- ``kept-deleted``: deleted by the user while the template changed it: not re-created, with a
  note showing the template's change.

``pyproject.toml`` first gets its dependency lists merged structurally (tomlkit, keyed by the
normalized requirement name: additions appended, version changes applied where the user kept the
old requirement, removals applied where the user kept it as generated; the user's order, comments
and extra requirements stay), then the rest of the file merges three ways as text.

A file whose lines all end in CRLF keeps CRLF: the base and the new render are converted before
merging. Everything here is pure: the caller reads the disk and writes the result (``changes()``
gives ``plan.FileChange`` objects for ``plan.apply_changes``).
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from merge3 import ExtendedMergeRegion, Merge3

from chatkit_scaffold.manifest import sha256
from chatkit_scaffold.plan import Action, FileChange

#: The file whose dependency lists merge structurally.
PYPROJECT = "pyproject.toml"

#: Where a pyproject.toml lists dependencies: (table, key) pairs merged structurally.
DEPENDENCY_ARRAYS = (("project", "dependencies"), ("dependency-groups", "dev"))


class FileLike(Protocol):
    """A rendered file: ``render.RenderedFile`` and ``releases.ReleaseFile`` fit."""

    @property
    def content(self) -> bytes: ...

    @property
    def executable(self) -> bool: ...


class Outcome(StrEnum):
    """What ``update`` does to one file."""

    UNCHANGED = "unchanged"
    CREATED = "created"
    REPLACED = "replaced"
    MERGED = "merged"
    CONFLICT = "conflict"
    DELETED = "deleted"
    KEPT_EDITED = "kept-edited"
    KEPT_DELETED = "kept-deleted"


@dataclass(frozen=True)
class Labels:
    """The names on conflict markers."""

    ours: str = "yours"
    base: str = "chatkit-scaffold (before)"
    theirs: str = "chatkit-scaffold (after)"

    @classmethod
    def versions(cls, before: str, after: str) -> Labels:
        """Labels naming the recorded version and the installed one."""
        return cls(base=f"chatkit-scaffold {before}", theirs=f"chatkit-scaffold {after}")


@dataclass(frozen=True)
class FileMerge:
    """The outcome for one file.

    ``content`` is what the file holds after the update (``None``: absent), ``current`` what it
    holds now. ``conflicts`` counts the marked regions (0 for a binary conflict, where the user's
    file is kept). ``notes`` explain anything the user should know.
    """

    path: str
    outcome: Outcome
    content: bytes | None
    current: bytes | None
    executable: bool = False
    conflicts: int = 0
    notes: tuple[str, ...] = ()

    @property
    def writes(self) -> bool:
        """Whether the file on disk changes."""
        return self.content != self.current

    def diff(self) -> str:
        """A unified diff from the file on disk to its new content (empty when it stays)."""
        if not self.writes:
            return ""
        return unified_diff(self.path, self.current, self.content)

    def change(self) -> FileChange | None:
        """The ``plan.FileChange`` that writes this outcome, or ``None`` when nothing changes."""
        if not self.writes:
            return None
        if self.content is None:
            return FileChange(self.path, Action.DELETE, b"", self.current)
        if self.current is None:
            return FileChange(self.path, Action.CREATE, self.content, executable=self.executable)
        action = Action.CONFLICT if self.outcome is Outcome.CONFLICT else Action.MODIFY
        return FileChange(self.path, action, self.content, self.current, self.executable)


@dataclass(frozen=True)
class UpdateMerge:
    """Every file's outcome, sorted by path, and the manifest record that goes with it."""

    files: tuple[FileMerge, ...]
    #: The manifest's new ``files``: the sha256 of everything the new version generates.
    hashes: dict[str, str] = field(default_factory=dict)

    @property
    def conflicts(self) -> tuple[FileMerge, ...]:
        """The files the user must resolve (marked, or kept because binary)."""
        return tuple(item for item in self.files if item.outcome is Outcome.CONFLICT)

    @property
    def notes(self) -> tuple[str, ...]:
        """Every note, file by file."""
        return tuple(note for item in self.files for note in item.notes)

    def changes(self) -> tuple[FileChange, ...]:
        """The writes, as ``plan.FileChange`` objects (the manifest is the caller's)."""
        return tuple(change for item in self.files if (change := item.change()) is not None)

    def by_outcome(self) -> dict[Outcome, list[str]]:
        """Paths per outcome, for a summary."""
        summary: dict[Outcome, list[str]] = {}
        for item in self.files:
            summary.setdefault(item.outcome, []).append(item.path)
        return summary


def read_ours(root: Path, paths: Iterable[str]) -> dict[str, bytes]:
    """The project's files among ``paths`` (missing ones are left out)."""
    found: dict[str, bytes] = {}
    for path in paths:
        file = root / path
        if file.is_file():
            found[path] = file.read_bytes()
    return found


def merge_project(
    base: Mapping[str, FileLike],
    theirs: Mapping[str, FileLike],
    ours: Mapping[str, bytes],
    recorded: Mapping[str, str],
    labels: Labels,
) -> UpdateMerge:
    """Merge every file that the base or the new render has.

    ``ours`` holds the project's files (at least those among the base's and theirs' paths),
    ``recorded`` the manifest's sha256 per path. Files only the user has are not looked at.
    """
    results = []
    for path in sorted(set(base) | set(theirs)):
        before, after = base.get(path), theirs.get(path)
        results.append(
            merge_file(
                path,
                base=before.content if before is not None else None,
                theirs=after.content if after is not None else None,
                ours=ours.get(path),
                recorded=recorded.get(path),
                labels=labels,
                executable=after.executable if after is not None else False,
            )
        )
    hashes = {path: sha256(rendered.content) for path, rendered in sorted(theirs.items())}
    return UpdateMerge(files=tuple(results), hashes=hashes)


def merge_file(
    path: str,
    *,
    base: bytes | None,
    theirs: bytes | None,
    ours: bytes | None,
    recorded: str | None,
    labels: Labels,
    executable: bool = False,
) -> FileMerge:
    """The outcome for one file (see the module's docstring for the rules)."""

    def result(
        outcome: Outcome, content: bytes | None, *notes: str, conflicts: int = 0
    ) -> FileMerge:
        return FileMerge(path, outcome, content, ours, executable, conflicts, notes)

    if ours is None:
        if theirs is None or theirs == base:
            return result(Outcome.UNCHANGED, None)
        if base is None:
            return result(Outcome.CREATED, theirs)
        return result(
            Outcome.KEPT_DELETED,
            None,
            f"{path}: you deleted it, and {labels.theirs} changes it; it was not re-created. "
            f"The change:\n{unified_diff(path, base, theirs)}",
        )
    pristine = base is not None and (sha256(ours) == recorded or _same_text(ours, base))
    if theirs is None:
        if base is None:
            return result(Outcome.UNCHANGED, ours)
        if pristine:
            return result(Outcome.DELETED, None)
        return result(
            Outcome.KEPT_EDITED,
            ours,
            f"{path}: {labels.theirs} no longer generates it; it was kept because you edited it.",
        )
    if ours == theirs or (base is not None and base == theirs):
        return result(Outcome.UNCHANGED, ours)
    if pristine:
        return result(Outcome.REPLACED, _in_newlines_of(theirs, ours))
    texts = _decode(base or b"", theirs, ours)
    if texts is None:
        what = "changes it too" if base is not None else "adds it with other content"
        return result(
            Outcome.CONFLICT,
            ours,
            f"{path}: you changed it and {labels.theirs} {what}; it is binary or not UTF-8, so "
            "your file was kept. Apply the template's change yourself.",
        )
    base_text, theirs_text, ours_text = texts
    if _is_crlf(ours_text):
        base_text, theirs_text = _to_crlf(base_text), _to_crlf(theirs_text)
    if base is None:
        merged, conflicts = merge_text(base_text, ours_text, theirs_text, labels, two_way=True)
        return result(
            Outcome.CONFLICT,
            merged.encode(),
            f"{path}: {labels.theirs} adds this file and yours differs; both are kept between "
            "conflict markers.",
            conflicts=conflicts,
        )
    notes: list[str] = []
    if path == PYPROJECT:
        base_text, ours_text, theirs_text = merge_dependencies(
            base_text, ours_text, theirs_text, notes
        )
    merged, conflicts = merge_text(base_text, ours_text, theirs_text, labels)
    content = merged.encode()
    if conflicts:
        notes.insert(0, f"{path}: {conflicts} conflict(s) between your edits and {labels.theirs}.")
        return result(Outcome.CONFLICT, content, *notes, conflicts=conflicts)
    if content == ours:
        return result(Outcome.UNCHANGED, ours, *notes)
    return result(Outcome.MERGED, content, *notes)


def merge_text(
    base: str, ours: str, theirs: str, labels: Labels, *, two_way: bool = False
) -> tuple[str, int]:
    """Merge three texts line by line; return the result and the number of conflicts.

    A file whose lines all end in CRLF keeps CRLF: the base and theirs are converted first (when
    they are plain LF). ``two_way`` (no base: the file was added on both sides) narrows each
    conflict to the lines that differ and shows no base section.
    """
    newline = "\r\n" if _is_crlf(ours) else "\n"
    if newline == "\r\n":
        base, theirs = _to_crlf(base), _to_crlf(theirs)
    merger = Merge3(
        base.splitlines(keepends=True),
        ours.splitlines(keepends=True),
        theirs.splitlines(keepends=True),
        sequence_matcher=_Matcher,
    )
    regions: Iterator[ExtendedMergeRegion] = merger.merge_regions()
    if two_way:
        regions = merger.reprocess_merge_regions(merger.merge_regions())
    out: list[str] = []
    conflicts = 0
    for region in regions:
        match region:
            case ("unchanged", start, end):
                out.extend(merger.base[start:end])
            case ("a" | "same", start, end):
                out.extend(merger.a[start:end])
            case ("b", start, end):
                out.extend(merger.b[start:end])
            case ("conflict", base_start, base_end, ours_start, ours_end, theirs_start, theirs_end):
                conflicts += 1
                _terminate(out, newline)
                out.append(f"<<<<<<< {labels.ours}{newline}")
                out.extend(_terminated(merger.a[ours_start:ours_end], newline))
                if not two_way and base_start is not None and base_end is not None:
                    out.append(f"||||||| {labels.base}{newline}")
                    out.extend(_terminated(merger.base[base_start:base_end], newline))
                out.append(f"======={newline}")
                out.extend(_terminated(merger.b[theirs_start:theirs_end], newline))
                out.append(f">>>>>>> {labels.theirs}{newline}")
    return "".join(out), conflicts


def merge_dependencies(base: str, ours: str, theirs: str, notes: list[str]) -> tuple[str, str, str]:
    """Merge pyproject.toml's dependency lists structurally; return the texts to merge as lines.

    Our lists get theirs' changes since the base (by normalized requirement name): a new
    requirement is appended, a changed one replaced where ours still has the base's, a removed
    one removed where ours still has the base's; a requirement the user changed stays, with a
    note. Then the base's and theirs' lists are replaced by ours, so the line merge that follows
    sees no change there and merges the rest of the file. A file that does not parse is returned
    as it is (plain line merge), with a note.
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError
    from tomlkit.items import Array

    try:
        documents = [tomlkit.parse(text) for text in (base, ours, theirs)]
    except TOMLKitError as exc:
        notes.append(f"{PYPROJECT} does not parse ({exc}); it was merged line by line.")
        return base, ours, theirs
    base_doc, ours_doc, theirs_doc = documents
    for table, key in DEPENDENCY_ARRAYS:
        wanted = _requirements(_lookup(theirs_doc, table, key))
        previous = _requirements(_lookup(base_doc, table, key))
        present = _lookup(ours_doc, table, key)
        if wanted == previous:
            continue
        if not isinstance(present, Array):
            notes.append(
                f"{PYPROJECT}: [{table}] {key} is missing or not a list, so its changes were "
                f"not applied. The new list:\n" + "\n".join(f'    "{r}",' for r in wanted.values())
            )
            continue
        _apply_requirement_changes(present, previous, wanted, f"[{table}] {key}", notes)
    merged_ours = tomlkit.dumps(ours_doc)
    for table, key in DEPENDENCY_ARRAYS:
        present = _lookup(ours_doc, table, key)
        for document in (base_doc, theirs_doc):
            section = document.get(table)
            if isinstance(present, Array) and isinstance(section, dict) and key in section:
                section[key] = copy.deepcopy(present)
    return tomlkit.dumps(base_doc), merged_ours, tomlkit.dumps(theirs_doc)


def requirement_name(requirement: str) -> str:
    """A requirement's project name, normalized (PEP 503): ``Foo_Bar[x]>=1`` gives ``foo-bar``."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else requirement


def unified_diff(path: str, before: bytes | None, after: bytes | None) -> str:
    """A unified diff between two versions of a file (``None``: absent)."""
    old = (before or b"").decode(errors="replace").splitlines(keepends=True)
    new = (after or b"").decode(errors="replace").splitlines(keepends=True)
    lines = difflib.unified_diff(
        old,
        new,
        f"a/{path}" if before is not None else "/dev/null",
        f"b/{path}" if after is not None else "/dev/null",
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def _apply_requirement_changes(
    present: object, previous: dict[str, str], wanted: dict[str, str], where: str, notes: list[str]
) -> None:
    from tomlkit.items import Array

    assert isinstance(present, Array)
    ours = {requirement_name(str(item)): (index, str(item)) for index, item in enumerate(present)}
    removals: list[int] = []
    for name, requirement in wanted.items():
        old = previous.get(name)
        if name not in ours:
            if old is None:
                present.append(requirement)
            continue
        index, mine = ours[name]
        if mine == requirement or old == requirement:
            continue
        if mine == old:
            present[index] = requirement
        else:
            notes.append(
                f"{PYPROJECT}: {where} keeps your '{mine}'; the template now asks for "
                f"'{requirement}' (it had '{old}')."
            )
    for name, old in previous.items():
        if name in wanted or name not in ours:
            continue
        index, mine = ours[name]
        if mine == old:
            removals.append(index)
        else:
            notes.append(
                f"{PYPROJECT}: {where} keeps your '{mine}'; the template no longer needs it."
            )
    for index in sorted(removals, reverse=True):
        del present[index]


def _requirements(listed: object) -> dict[str, str]:
    from tomlkit.items import Array

    if not isinstance(listed, Array | list):
        return {}
    return {requirement_name(str(item)): str(item) for item in listed if isinstance(item, str)}


def _lookup(document: Mapping[str, object], table: str, key: str) -> object:
    section = document.get(table)
    return section.get(key) if isinstance(section, Mapping) else None


class _Matcher:
    """``difflib.SequenceMatcher`` without the junk heuristic (blank lines are real lines)."""

    def __init__(
        self,
        isjunk: Callable[[str], bool] | None = None,
        a: Sequence[str] = "",
        b: Sequence[str] = "",
        autojunk: bool = False,
    ) -> None:
        self._matcher = difflib.SequenceMatcher(isjunk, a, b, autojunk=False)

    def get_matching_blocks(self) -> list[tuple[int, int, int]]:
        """Matching blocks ``(i, j, n)``, the last one ``(len(a), len(b), 0)``."""
        return [(block.a, block.b, block.size) for block in self._matcher.get_matching_blocks()]


def _decode(*contents: bytes) -> tuple[str, ...] | None:
    """The contents as text, or ``None`` when one is binary (a NUL byte) or not UTF-8."""
    texts = []
    for content in contents:
        if b"\0" in content:
            return None
        try:
            texts.append(content.decode("utf-8"))
        except UnicodeDecodeError:
            return None
    return tuple(texts)


def _is_crlf(text: str) -> bool:
    """Whether every line break of ``text`` is CRLF (and there is one)."""
    return "\r\n" in text and text.count("\n") == text.count("\r\n")


def _to_crlf(text: str) -> str:
    """LF line breaks as CRLF (a text that already has CR is left alone)."""
    return text if "\r" in text else text.replace("\n", "\r\n")


def _same_text(ours: bytes, base: bytes) -> bool:
    """Whether ``ours`` is ``base``, possibly with its line breaks converted to CRLF."""
    if ours == base:
        return True
    return b"\r" not in base and ours == base.replace(b"\n", b"\r\n")


def _in_newlines_of(theirs: bytes, ours: bytes) -> bytes:
    """``theirs`` with CRLF line breaks when ``ours`` uses CRLF throughout."""
    if b"\r\n" in ours and ours.count(b"\n") == ours.count(b"\r\n") and b"\r" not in theirs:
        return theirs.replace(b"\n", b"\r\n")
    return theirs


def _terminate(lines: list[str], newline: str) -> None:
    """End the last line with a line break, so a marker starts a line of its own."""
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline


def _terminated(lines: Iterable[str], newline: str) -> Iterator[str]:
    items = list(lines)
    for index, line in enumerate(items):
        last = index == len(items) - 1
        yield line + newline if last and not line.endswith(("\n", "\r")) else line
