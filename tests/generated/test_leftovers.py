"""The leftover check finds what it must (so an empty result means something)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .leftovers import template_leftovers

pytestmark = pytest.mark.generated


def test_leftovers_are_found(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ok.py").write_text('x = {"a": {"b": 1}}\n')
    (tmp_path / "src" / "tag.py").write_text("{% if auth %}\n")
    (tmp_path / "src" / "var.py").write_text("name = '{{ package_name }}'\n")
    (tmp_path / "README.md").write_text("Made with Copier.\n")
    (tmp_path / "settings.py.jinja").write_text("")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "ignored.py").write_text("{{ tool output }}\n")
    assert template_leftovers(tmp_path) == [
        "README.md:1: Made with Copier.",
        "settings.py.jinja: template name",
        "src/tag.py:1: {% if auth %}",
        "src/var.py:1: name = '{{ package_name }}'",
    ]
