"""Widgets, actions, client tools and approvals of generated servers, over real HTTP.

The fake provider calls the tool a message asks for (``call_marker``), so these runs go through
the real provider adapters, the real store and real server processes: an approval is given to a
restarted server (and to another process on the same database), widget actions update what is
stored, and a client tool's output continues the answer. On SQLite and PostgreSQL, and with a
Chat Completions provider.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import call_marker, reply_for, tool_reply

from .apps import App, running_fake
from .chatkit_http import done_items, item_text, post_json, post_stream, user_input
from .databases import fresh_database

pytestmark = pytest.mark.e2e

REJECTED = "The user rejected this tool call, so it did not run."


@pytest.fixture(
    params=[("openai", "sqlite"), ("openai", "postgres"), ("gemini", "sqlite")],
    ids=lambda param: "-".join(param),
)
def app(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[App]:
    provider, database = request.param
    answers = {"provider": provider, "database": database}
    with running_fake(answers, tmp_path, tmp_path_factory) as app:
        if database == "sqlite":
            yield app
            return
        with fresh_database(app.project) as database_url:
            app.env["DATABASE_URL"] = database_url
            yield app


def create(url: str, text: str) -> tuple[str, list[dict[str, Any]]]:
    events = post_stream(url, {"type": "threads.create", "params": {"input": user_input(text)}})
    assert not [event for event in events if event["type"] == "error"], events
    return events[0]["thread"]["id"], events


def buttons(widget: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each button of a widget tree, by label."""
    found: dict[str, dict[str, Any]] = {}
    nodes = [widget]
    while nodes:
        node = nodes.pop()
        if node.get("type") == "Button":
            found[node["label"]] = node
        children = node.get("children") or []
        nodes.extend(children if isinstance(children, list) else [children])
    return found


def click(
    url: str, thread_id: str, widget: dict[str, Any], label: str
) -> list[dict[str, Any]] | dict[str, Any]:
    """Send the action of a widget's button as the ChatKit client does."""
    action = buttons(widget["widget"])[label]["onClickAction"]
    params = {"thread_id": thread_id, "item_id": widget["id"], "action": action}
    if action.get("streaming") is False:
        return post_json(url, {"type": "threads.sync_custom_action", "params": params})
    return post_stream(url, {"type": "threads.custom_action", "params": params})


def texts(events: list[dict[str, Any]]) -> list[str]:
    return [item_text(item) for item in done_items(events, "assistant_message")]


def items(url: str, thread_id: str) -> list[dict[str, Any]]:
    body = {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}}
    page: list[dict[str, Any]] = post_json(url, body)["data"]
    return page


def test_approvals_are_answered_after_a_restart_by_any_process(app: App) -> None:
    with app.server() as server:
        kept, events = create(server.url, f"Note it {call_marker('save_note', {'text': 'milk'})}")
        (kept_widget,) = done_items(events, "widget")
        dropped, events = create(server.url, f"And {call_marker('save_note', {'text': 'car'})}")
        (dropped_widget,) = done_items(events, "widget")
        assert texts(events) == []
        assert set(buttons(dropped_widget["widget"])) == {"Approve", "Reject"}

    # Restarted, as two processes on the same database: each takes one of the answers.
    with app.server() as first, app.server() as second:
        events = click(first.url, kept, kept_widget, "Approve")
        assert isinstance(events, list)
        assert texts(events) == [tool_reply("Saved note 1: milk")]
        (approved,) = [e["item"] for e in events if e["type"] == "thread.item.replaced"]
        assert buttons(approved["widget"]) == {}

        events = click(second.url, dropped, dropped_widget, "Reject")
        assert isinstance(events, list)
        assert texts(events) == [tool_reply(REJECTED)]

        again = click(second.url, kept, kept_widget, "Approve")
        assert isinstance(again, list)
        assert again[-1]["type"] == "error"
        assert [item["type"] for item in items(second.url, kept)] == [
            "user_message",
            "widget",
            "assistant_message",
        ]


def test_widget_actions_update_the_stored_widget(app: App) -> None:
    with app.server() as server:
        ask = f"Time? {call_marker('current_time', {'timezone': 'Asia/Tokyo'})}"
        thread_id, events = create(server.url, ask)
        (widget,) = done_items(events, "widget")
        assert [e["name"] for e in events if e["type"] == "client_effect"] == ["time_shown"]
        (answer,) = texts(events)
        assert answer.startswith(tool_reply("20"))  # the tool's ISO time reached the model

        refreshed = click(server.url, thread_id, widget, "Refresh")
        assert isinstance(refreshed, dict)
        assert refreshed["updated_item"]["id"] == widget["id"]

        events = click(server.url, thread_id, widget, "Compare with my time")
        assert isinstance(events, list)
        (replaced,) = [e["item"] for e in events if e["type"] == "thread.item.replaced"]
        (answer,) = texts(events)
        assert answer.startswith(reply_for("Hidden context for the agent"))
        assert "Compare with my time" in answer

    with app.server() as server:
        stored = items(server.url, thread_id)
    assert [item["type"] for item in stored] == [
        "user_message",
        "widget",
        "assistant_message",
        "assistant_message",
    ]
    assert buttons(stored[1]["widget"])["Compare with my time"]["disabled"] is True
    assert replaced["id"] == stored[1]["id"]


def test_a_client_tool_round_trip(app: App) -> None:
    with app.server() as server:
        thread_id, events = create(server.url, f"Where am I? {call_marker('get_browser_timezone')}")
        (call,) = done_items(events, "client_tool_call")
        assert (call["name"], call["status"]) == ("get_browser_timezone", "pending")
        assert call["id"] != "__fake_id__"

        events = post_stream(
            server.url,
            {
                "type": "threads.add_client_tool_output",
                "params": {"thread_id": thread_id, "result": {"timezone": "Europe/Paris"}},
            },
        )

        assert texts(events) == [tool_reply(json.dumps({"timezone": "Europe/Paris"}))]
        stored = items(server.url, thread_id)
    assert [(item["type"], item.get("status")) for item in stored] == [
        ("user_message", None),
        ("client_tool_call", "completed"),
        ("assistant_message", None),
    ]
