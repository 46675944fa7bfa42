"""``update``'s upgrade notes: what a project older than a version must know about it."""

from __future__ import annotations

from chatkit_scaffold.catalog import load_catalog
from chatkit_scaffold.update import upgrade_notes


def test_a_0_1_0_project_is_told_its_database_migrates_on_the_next_start() -> None:
    notes = upgrade_notes("0.1.0")
    assert len(notes) == 1
    assert notes[0].startswith("Since 0.2.0: the store runs on SQLAlchemy with Alembic")
    assert ".stores.migrate" in notes[0]


def test_a_current_project_gets_no_upgrade_note() -> None:
    newest = max(str(entry["version"]) for entry in load_catalog().core.list("upgrade"))
    assert upgrade_notes(newest) == []
    assert upgrade_notes("0.10.0") == []
