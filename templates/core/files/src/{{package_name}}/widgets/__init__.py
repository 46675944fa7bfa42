"""Widgets: a `.widget` template (ChatKit's widget file format) and a typed builder per widget.

A `.widget` file holds a Jinja template of the widget's JSON and the JSON schema of its data
(the format https://widgets.chatkit.studio exports). Each module here loads its template once
with `load_template()` and builds widgets from a pydantic model of that data, so a widget can
only be built from valid data. `chatkit-scaffold add-widget NAME` adds a widget, its builder,
its action handler and a test.
"""

from __future__ import annotations

from pathlib import Path

from chatkit.widgets import WidgetTemplate

__all__ = ["load_template"]


def load_template(name: str) -> WidgetTemplate:
    """The template `widgets/<name>.widget` (shipped inside the package, so in images too)."""
    return WidgetTemplate.from_file(str(Path(__file__).with_name(f"{name}.widget")))
