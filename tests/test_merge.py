"""``merge``: every rule of update's three-way merge, as pure functions (no project, no CLI)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from chatkit_scaffold.errors import ScaffoldError
from chatkit_scaffold.manifest import sha256
from chatkit_scaffold.merge import (
    FileMerge,
    Labels,
    Outcome,
    merge_file,
    merge_project,
    merge_text,
    read_ours,
    requirement_name,
)
from chatkit_scaffold.plan import Action, FileChange, Plan, apply_changes

LABELS = Labels.versions("0.1.0", "0.2.0")

BASE = b"".join(f"line {number}\n".encode() for number in range(1, 11))


def replace_line(text: bytes, number: int, new: str) -> bytes:
    lines = text.splitlines(keepends=True)
    lines[number - 1] = new.encode() + b"\n"
    return b"".join(lines)


def merge(
    base: bytes | None,
    theirs: bytes | None,
    ours: bytes | None,
    *,
    path: str = "src/app/module.py",
    recorded: str | None = None,
    executable: bool = False,
) -> FileMerge:
    return merge_file(
        path,
        base=base,
        theirs=theirs,
        ours=ours,
        recorded=recorded,
        labels=LABELS,
        executable=executable,
    )


# --- Files on both sides -------------------------------------------------------------------------


def test_a_pristine_file_is_replaced_by_the_new_render() -> None:
    theirs = replace_line(BASE, 3, "line three")
    result = merge_file(
        "a.py", base=BASE, theirs=theirs, ours=BASE, recorded=sha256(BASE), labels=LABELS
    )
    assert result.outcome is Outcome.REPLACED
    assert result.content == theirs
    change = result.change()
    assert change == FileChange("a.py", Action.MODIFY, theirs, BASE)
    assert "-line 3\n+line three\n" in result.diff()


def test_a_file_recorded_as_written_is_pristine_even_when_the_base_render_differs() -> None:
    """0.1.0's add-store wrote a merged pyproject.toml and recorded its hash: not a user edit."""
    written = BASE + b"appended by add-store\n"
    theirs = replace_line(BASE, 1, "new first line")
    result = merge_file(
        "a.py", base=BASE, theirs=theirs, ours=written, recorded=sha256(written), labels=LABELS
    )
    assert result.outcome is Outcome.REPLACED
    assert result.content == theirs


def test_a_file_equal_to_the_base_is_pristine_whatever_the_record() -> None:
    theirs = replace_line(BASE, 1, "new")
    result = merge_file(
        "a.py", base=BASE, theirs=theirs, ours=BASE, recorded="0" * 64, labels=LABELS
    )
    assert result.outcome is Outcome.REPLACED


def test_an_edited_file_the_template_did_not_change_is_left_alone() -> None:
    ours = replace_line(BASE, 5, "my line")
    result = merge_file("a.py", base=BASE, theirs=BASE, ours=ours, recorded=None, labels=LABELS)
    assert result.outcome is Outcome.UNCHANGED
    assert result.content == ours
    assert not result.writes
    assert result.change() is None
    assert result.diff() == ""


def test_a_file_that_already_has_the_new_content_is_unchanged() -> None:
    theirs = replace_line(BASE, 5, "new")
    result = merge_file("a.py", base=BASE, theirs=theirs, ours=theirs, recorded=None, labels=LABELS)
    assert result.outcome is Outcome.UNCHANGED
    assert result.change() is None


def test_edits_where_the_template_did_not_change_are_kept_with_the_templates_changes() -> None:
    theirs = replace_line(BASE, 2, "template's line 2")
    ours = replace_line(BASE, 9, "my line 9") + b"my extra line\n"
    result = merge_file("a.py", base=BASE, theirs=theirs, ours=ours, recorded=None, labels=LABELS)
    assert result.outcome is Outcome.MERGED
    assert result.content == replace_line(ours, 2, "template's line 2")
    assert result.conflicts == 0
    assert result.change() == FileChange("a.py", Action.MODIFY, result.content, ours)


def test_the_same_change_on_both_sides_is_taken_once() -> None:
    theirs = replace_line(BASE, 2, "same fix")
    ours = replace_line(replace_line(BASE, 2, "same fix"), 8, "mine")
    result = merge_file("a.py", base=BASE, theirs=theirs, ours=ours, recorded=None, labels=LABELS)
    assert result.outcome is Outcome.UNCHANGED
    assert result.content == ours


def test_overlapping_changes_get_git_style_markers_with_the_base() -> None:
    theirs = replace_line(BASE, 4, "template's line 4")
    ours = replace_line(BASE, 4, "my line 4")
    result = merge_file("a.py", base=BASE, theirs=theirs, ours=ours, recorded=None, labels=LABELS)
    assert result.outcome is Outcome.CONFLICT
    assert result.conflicts == 1
    assert result.content == (
        b"line 1\nline 2\nline 3\n"
        b"<<<<<<< yours\nmy line 4\n"
        b"||||||| chatkit-scaffold 0.1.0\nline 4\n"
        b"=======\ntemplate's line 4\n"
        b">>>>>>> chatkit-scaffold 0.2.0\n"
        b"line 5\nline 6\nline 7\nline 8\nline 9\nline 10\n"
    )
    assert result.notes == ("a.py: 1 conflict(s) between your edits and chatkit-scaffold 0.2.0.",)
    change = result.change()
    assert change is not None and change.action is Action.CONFLICT
    assert change.new == result.content and change.old == ours


def test_conflicts_are_counted_and_clean_hunks_still_merge() -> None:
    theirs = replace_line(replace_line(replace_line(BASE, 1, "T1"), 5, "T5"), 9, "T9")
    ours = replace_line(replace_line(BASE, 1, "O1"), 9, "O9")
    result = merge_file("a.py", base=BASE, theirs=theirs, ours=ours, recorded=None, labels=LABELS)
    assert result.outcome is Outcome.CONFLICT
    assert result.conflicts == 2
    assert result.content is not None
    text = result.content.decode()
    assert text.count("<<<<<<< yours\n") == 2
    assert "\nT5\n" in text


# --- Files on one side ---------------------------------------------------------------------------


def test_a_new_template_file_is_created_with_its_mode() -> None:
    result = merge(None, b"#!/bin/sh\n", None, path="scripts/run.sh", executable=True)
    assert result.outcome is Outcome.CREATED
    assert result.change() == FileChange(
        "scripts/run.sh", Action.CREATE, b"#!/bin/sh\n", None, True
    )


def test_a_file_no_longer_generated_is_deleted_when_pristine() -> None:
    result = merge(BASE, None, BASE, recorded=sha256(BASE))
    assert result.outcome is Outcome.DELETED
    assert result.content is None
    change = result.change()
    assert change is not None and change.action is Action.DELETE and change.old == BASE
    assert change.diff().startswith("--- a/src/app/module.py\n+++ /dev/null\n")
    assert result.diff().startswith("--- a/src/app/module.py\n+++ /dev/null\n")


def test_a_file_no_longer_generated_is_kept_with_a_note_when_edited() -> None:
    ours = replace_line(BASE, 2, "mine")
    result = merge(BASE, None, ours, recorded=sha256(BASE))
    assert result.outcome is Outcome.KEPT_EDITED
    assert result.content == ours
    assert result.change() is None
    assert result.notes == (
        "src/app/module.py: chatkit-scaffold 0.2.0 no longer generates it; it was kept because "
        "you edited it.",
    )


def test_a_file_no_longer_generated_and_already_gone_is_unchanged() -> None:
    result = merge(BASE, None, None)
    assert result.outcome is Outcome.UNCHANGED
    assert result.change() is None


def test_a_file_the_user_deleted_stays_deleted() -> None:
    assert merge(BASE, BASE, None).outcome is Outcome.UNCHANGED
    theirs = replace_line(BASE, 3, "changed")
    result = merge(BASE, theirs, None)
    assert result.outcome is Outcome.KEPT_DELETED
    assert result.change() is None
    (note,) = result.notes
    assert "you deleted it" in note and "+changed\n" in note


def test_a_file_added_on_both_sides_identically_is_unchanged() -> None:
    result = merge(None, b"same\n", b"same\n")
    assert result.outcome is Outcome.UNCHANGED
    assert result.change() is None


def test_a_file_added_on_both_sides_differently_is_a_conflict_around_the_differences() -> None:
    theirs = b"import x\n\n\ndef f():\n    return 1\n"
    ours = b"import x\n\n\ndef f():\n    return 2\n"
    result = merge(None, theirs, ours)
    assert result.outcome is Outcome.CONFLICT
    assert result.conflicts == 1
    assert result.content == (
        b"import x\n\n\ndef f():\n"
        b"<<<<<<< yours\n    return 2\n=======\n    return 1\n>>>>>>> chatkit-scaffold 0.2.0\n"
    )
    assert "adds this file and yours differs" in result.notes[0]


# --- Line endings, last lines, binary files ------------------------------------------------------


def test_crlf_files_keep_crlf_through_a_clean_merge() -> None:
    theirs = replace_line(BASE, 2, "template")
    ours = replace_line(BASE, 9, "mine").replace(b"\n", b"\r\n")
    result = merge(BASE, theirs, ours)
    assert result.outcome is Outcome.MERGED
    assert result.content == replace_line(replace_line(BASE, 2, "template"), 9, "mine").replace(
        b"\n", b"\r\n"
    )


def test_a_crlf_copy_of_the_base_is_pristine_and_gets_the_new_render_in_crlf() -> None:
    theirs = replace_line(BASE, 2, "template")
    result = merge(BASE, theirs, BASE.replace(b"\n", b"\r\n"), recorded=sha256(BASE))
    assert result.outcome is Outcome.REPLACED
    assert result.content == theirs.replace(b"\n", b"\r\n")


def test_crlf_conflict_markers_end_in_crlf() -> None:
    theirs = replace_line(BASE, 2, "template")
    ours = replace_line(BASE, 2, "mine").replace(b"\n", b"\r\n")
    result = merge(BASE, theirs, ours)
    assert result.outcome is Outcome.CONFLICT
    assert result.content is not None
    assert result.content.count(b"\n") == result.content.count(b"\r\n")
    assert (
        b"<<<<<<< yours\r\nmine\r\n||||||| chatkit-scaffold 0.1.0\r\nline 2\r\n" in result.content
    )


def test_a_missing_final_newline_merges_cleanly() -> None:
    base = b"first\nmiddle\nlast"
    theirs = b"FIRST\nmiddle\nlast"
    ours = b"first\nmiddle\nlast\nmore"
    result = merge(base, theirs, ours)
    assert result.outcome is Outcome.MERGED
    assert result.content == b"FIRST\nmiddle\nlast\nmore"


def test_markers_start_on_their_own_line_when_the_last_line_has_no_newline() -> None:
    base = b"first\nlast"
    result = merge(base, b"first\ntheirs", b"first\nours")
    assert result.outcome is Outcome.CONFLICT
    assert result.content == (
        b"first\n<<<<<<< yours\nours\n||||||| chatkit-scaffold 0.1.0\nlast\n"
        b"=======\ntheirs\n>>>>>>> chatkit-scaffold 0.2.0\n"
    )


def test_the_diff_says_when_a_file_has_no_final_newline() -> None:
    result = merge(b"a\nb", b"a\nB", b"a\nb", recorded=sha256(b"a\nb"))
    assert result.diff().endswith(
        "-b\n\\ No newline at end of file\n+B\n\\ No newline at end of file\n"
    )


@pytest.mark.parametrize(
    ("base", "theirs", "ours"),
    [
        (b"\x89PNG\0\x01", b"\x89PNG\0\x02", b"\x89PNG\0\x03"),
        ("café\n".encode("latin-1"), "cafés\n".encode("latin-1"), "Café\n".encode("latin-1")),
        (b"text\n", b"text, changed\n", b"\xff\xfe binary now\n"),
    ],
    ids=["binary", "latin-1", "ours-binary"],
)
def test_binary_or_undecodable_files_never_get_markers(
    base: bytes, theirs: bytes, ours: bytes
) -> None:
    result = merge(base, theirs, ours, path="assets/logo.png")
    assert result.outcome is Outcome.CONFLICT
    assert result.content == ours
    assert result.conflicts == 0
    assert result.change() is None
    assert "your file was kept" in result.notes[0]


def test_a_pristine_binary_file_is_replaced() -> None:
    base, theirs = b"\0old", b"\0new"
    result = merge(base, theirs, base, recorded=sha256(base))
    assert result.outcome is Outcome.REPLACED
    assert result.content == theirs


def test_a_binary_file_added_on_both_sides_keeps_ours() -> None:
    result = merge(None, b"\0theirs", b"\0ours")
    assert result.outcome is Outcome.CONFLICT
    assert result.content == b"\0ours"


# --- pyproject.toml ------------------------------------------------------------------------------

PYPROJECT_BASE = """\
[project]
name = "my-app"
version = "0.1.0"
dependencies = [
    "fastapi>=0.115",
    "openai-agents>=0.24,<0.25",
    "aiosqlite>=0.22",
    "tzdata>=2024.1",
]

[dependency-groups]
dev = [
    "pytest>=8",
    "ruff>=0.6",
]

[tool.ruff]
line-length = 100
"""

#: The template's next version: a new dependency, a bumped one, a removed one, a changed setting.
PYPROJECT_THEIRS = """\
[project]
name = "my-app"
version = "0.1.0"
dependencies = [
    "fastapi>=0.115",
    "openai-agents>=0.25,<0.26",
    "aiosqlite>=0.22",
    "sqlalchemy[asyncio]>=2.0",
]

[dependency-groups]
dev = [
    "pytest>=8",
    "ruff>=0.6",
    "mypy>=1.11",
]

[tool.ruff]
line-length = 110
"""

#: The user's: dependencies reordered, a comment, an extra dependency, a description.
PYPROJECT_OURS = """\
[project]
name = "my-app"
version = "0.1.0"
description = "Our support bot"
dependencies = [
    # web
    "fastapi>=0.115",
    "httpx>=0.27",  # we call the CRM
    "tzdata>=2024.1",
    "aiosqlite>=0.22",
    "openai-agents>=0.24,<0.25",
]

[dependency-groups]
dev = [
    "pytest>=8",
    "ruff>=0.6",
]

[tool.ruff]
line-length = 100
"""


def merge_pyproject(base: str, theirs: str, ours: str) -> FileMerge:
    return merge_file(
        "pyproject.toml",
        base=base.encode(),
        theirs=theirs.encode(),
        ours=ours.encode(),
        recorded=sha256(base.encode()),
        labels=LABELS,
    )


def test_pyproject_dependencies_merge_structurally_keeping_order_comments_and_extras() -> None:
    result = merge_pyproject(PYPROJECT_BASE, PYPROJECT_THEIRS, PYPROJECT_OURS)
    assert result.outcome is Outcome.MERGED, result.content
    assert result.notes == ()
    assert result.content is not None
    assert (
        result.content.decode()
        == """\
[project]
name = "my-app"
version = "0.1.0"
description = "Our support bot"
dependencies = [
    # web
    "fastapi>=0.115",
    "httpx>=0.27",  # we call the CRM
    "aiosqlite>=0.22",
    "openai-agents>=0.25,<0.26",
    "sqlalchemy[asyncio]>=2.0",
]

[dependency-groups]
dev = [
    "pytest>=8",
    "ruff>=0.6",
    "mypy>=1.11",
]

[tool.ruff]
line-length = 110
"""
    )


def test_a_requirement_the_user_changed_is_kept_with_a_note() -> None:
    ours = PYPROJECT_OURS.replace('"openai-agents>=0.24,<0.25"', '"openai-agents==0.24.3"')
    ours = ours.replace('"tzdata>=2024.1"', '"tzdata>=2025.1"')
    result = merge_pyproject(PYPROJECT_BASE, PYPROJECT_THEIRS, ours)
    assert result.outcome is Outcome.MERGED
    assert result.content is not None
    dependencies = tomllib.loads(result.content.decode())["project"]["dependencies"]
    assert "openai-agents==0.24.3" in dependencies
    assert "tzdata>=2025.1" in dependencies
    assert "sqlalchemy[asyncio]>=2.0" in dependencies
    assert result.notes == (
        "pyproject.toml: [project] dependencies keeps your 'openai-agents==0.24.3'; the template "
        "now asks for 'openai-agents>=0.25,<0.26' (it had 'openai-agents>=0.24,<0.25').",
        "pyproject.toml: [project] dependencies keeps your 'tzdata>=2025.1'; the template no "
        "longer needs it.",
    )


def test_a_pyproject_change_outside_the_dependencies_can_conflict() -> None:
    ours = PYPROJECT_OURS.replace("line-length = 100", "line-length = 120")
    result = merge_pyproject(PYPROJECT_BASE, PYPROJECT_THEIRS, ours)
    assert result.outcome is Outcome.CONFLICT
    assert result.conflicts == 1
    assert result.content is not None
    text = result.content.decode()
    assert "<<<<<<< yours\nline-length = 120\n||||||| chatkit-scaffold 0.1.0\n" in text
    assert '    "sqlalchemy[asyncio]>=2.0",\n' in text
    assert text.count("<<<<<<<") == 1


def test_a_pyproject_without_the_dependency_list_gets_a_note() -> None:
    ours = PYPROJECT_OURS.replace("[dependency-groups]\ndev = [", "[dependency-groups]\ntest = [")
    result = merge_pyproject(PYPROJECT_BASE, PYPROJECT_THEIRS, ours)
    assert any("[dependency-groups] dev is missing" in note for note in result.notes)
    assert any('"mypy>=1.11",' in note for note in result.notes)


def test_a_pyproject_that_does_not_parse_merges_line_by_line() -> None:
    ours = PYPROJECT_OURS.replace('description = "Our support bot"', "description = ")
    result = merge_pyproject(PYPROJECT_BASE, PYPROJECT_THEIRS, ours)
    assert result.notes[-1].startswith("pyproject.toml does not parse")
    assert result.content is not None
    assert b"line-length = 110" in result.content


def test_a_crlf_pyproject_merges_structurally_and_stays_crlf() -> None:
    ours = PYPROJECT_OURS.replace("\n", "\r\n")
    result = merge_pyproject(PYPROJECT_BASE, PYPROJECT_THEIRS, ours)
    assert result.outcome is Outcome.MERGED, result.content
    assert result.content is not None
    assert result.content.count(b"\n") == result.content.count(b"\r\n")
    merged = tomllib.loads(result.content.decode())
    assert "sqlalchemy[asyncio]>=2.0" in merged["project"]["dependencies"]
    assert merged["tool"]["ruff"]["line-length"] == 110


def test_a_pristine_pyproject_is_replaced() -> None:
    result = merge_pyproject(PYPROJECT_BASE, PYPROJECT_THEIRS, PYPROJECT_BASE)
    assert result.outcome is Outcome.REPLACED
    assert result.content == PYPROJECT_THEIRS.encode()


def test_requirement_names_are_normalized() -> None:
    assert requirement_name("Psycopg_Binary[pool]>=3") == "psycopg-binary"
    assert requirement_name("  zope.interface ; python_version>'3'") == "zope-interface"


# --- Whole projects ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    content: bytes
    executable: bool = False


def test_merge_project_covers_every_path_and_records_the_new_render() -> None:
    base = {
        "kept.py": Rendered(BASE),
        "gone.py": Rendered(BASE),
        "edited.py": Rendered(BASE),
        "conflict.py": Rendered(BASE),
    }
    theirs = {
        "kept.py": Rendered(BASE),
        "edited.py": Rendered(replace_line(BASE, 1, "T")),
        "conflict.py": Rendered(replace_line(BASE, 1, "T")),
        "new.sh": Rendered(b"#!/bin/sh\n", executable=True),
    }
    ours = {
        "kept.py": BASE,
        "gone.py": BASE,
        "edited.py": replace_line(BASE, 10, "O"),
        "conflict.py": replace_line(BASE, 1, "O"),
        "mine.py": b"not generated\n",
    }
    recorded = {path: sha256(item.content) for path, item in base.items()}
    result = merge_project(base, theirs, ours, recorded, LABELS)
    assert [item.path for item in result.files] == [
        "conflict.py",
        "edited.py",
        "gone.py",
        "kept.py",
        "new.sh",
    ]
    assert result.by_outcome() == {
        Outcome.CONFLICT: ["conflict.py"],
        Outcome.MERGED: ["edited.py"],
        Outcome.DELETED: ["gone.py"],
        Outcome.UNCHANGED: ["kept.py"],
        Outcome.CREATED: ["new.sh"],
    }
    assert [item.path for item in result.conflicts] == ["conflict.py"]
    assert result.hashes == {path: sha256(item.content) for path, item in sorted(theirs.items())}
    assert [(change.path, change.action) for change in result.changes()] == [
        ("conflict.py", Action.CONFLICT),
        ("edited.py", Action.MODIFY),
        ("gone.py", Action.DELETE),
        ("new.sh", Action.CREATE),
    ]
    assert len(result.notes) == 1


def test_applying_the_merge_then_merging_again_changes_nothing(tmp_path: Path) -> None:
    base = {
        "src/app/a.py": Rendered(BASE),
        "src/old/b.py": Rendered(BASE),
        "pyproject.toml": Rendered(PYPROJECT_BASE.encode()),
    }
    theirs = {
        "src/app/a.py": Rendered(replace_line(BASE, 1, "T")),
        "src/app/c.sh": Rendered(b"#!/bin/sh\necho hi\n", executable=True),
        "pyproject.toml": Rendered(PYPROJECT_THEIRS.encode()),
    }
    files = {
        "src/app/a.py": replace_line(BASE, 10, "O"),
        "src/old/b.py": BASE,
        "pyproject.toml": PYPROJECT_OURS.encode(),
    }
    for path, content in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(content)
    recorded = {path: sha256(item.content) for path, item in base.items()}
    ours = read_ours(tmp_path, [*base, *theirs])
    assert sorted(ours) == sorted(files)
    first = merge_project(base, theirs, ours, recorded, LABELS)
    assert not first.conflicts
    apply_changes(Plan(root=tmp_path, changes=first.changes()))

    assert not (tmp_path / "src" / "old").exists()
    assert (tmp_path / "src/app/c.sh").stat().st_mode & 0o111
    assert (tmp_path / "src/app/a.py").read_bytes() == replace_line(
        replace_line(BASE, 1, "T"), 10, "O"
    )
    again = merge_project(theirs, theirs, read_ours(tmp_path, theirs), first.hashes, LABELS)
    assert {item.outcome for item in again.files} == {Outcome.UNCHANGED}
    assert again.changes() == ()


def test_a_failed_apply_restores_deleted_files(tmp_path: Path) -> None:
    (tmp_path / "gone.py").write_bytes(b"old\n")
    (tmp_path / "gone.py").chmod(0o755)
    (tmp_path / "blocker").write_text("a file where a folder must go")
    plan = Plan(
        root=tmp_path,
        changes=(
            FileChange("gone.py", Action.DELETE, b"", b"old\n"),
            FileChange("blocker/new.py", Action.CREATE, b"new\n"),
        ),
    )
    with pytest.raises(ScaffoldError, match="Could not update"):
        apply_changes(plan)
    assert (tmp_path / "gone.py").read_bytes() == b"old\n"
    assert (tmp_path / "gone.py").stat().st_mode & 0o111


def test_merge_text_returns_the_conflict_count() -> None:
    merged, conflicts = merge_text("a\nb\n", "a\nB\n", "a\nb2\n", LABELS)
    assert conflicts == 1
    assert merged.startswith("a\n<<<<<<< yours\nB\n")


# --- The example in docs/update.md ---------------------------------------------------------------

MAIN_BASE = """\
    app = FastAPI(title="my-app", lifespan=lifespan)
    app.add_exception_handler(ApiError, handle_api_error)
    app.add_middleware(SettingsCORSMiddleware)
    app.include_router(router)
    return app
"""


def test_the_conflict_shown_in_the_docs() -> None:
    """docs/update.md pastes this output: keep them in step."""
    theirs = MAIN_BASE.replace("lifespan=lifespan)", "version=__version__, lifespan=lifespan)")
    ours = MAIN_BASE.replace('title="my-app"', 'title="Support bot"').replace(
        "    return app\n", "    app.include_router(reports_router)\n    return app\n"
    )
    result = merge_file(
        "src/my_app/main.py",
        base=MAIN_BASE.encode(),
        theirs=theirs.encode(),
        ours=ours.encode(),
        recorded=sha256(MAIN_BASE.encode()),
        labels=LABELS,
    )
    assert result.outcome is Outcome.CONFLICT
    assert result.content is not None
    documented = (Path(__file__).parent.parent / "docs" / "update.md").read_text()
    assert result.content.decode() in documented
    assert result.notes[0] in documented
