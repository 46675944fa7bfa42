"""Attachment ids in ChatKit requests: unknown ones are 404s, too many in a message a 400."""

from __future__ import annotations

from chatkit_helpers import ChatKitClient, assert_error, user_input


def test_unknown_attachments_are_404s(client: ChatKitClient) -> None:
    unknown = "atc_00000000000000000000000000000000"
    assert_error(client.post("attachments.delete", {"attachment_id": unknown}), 404, "not_found")
    message = {"input": user_input("See attached", attachments=[unknown])}
    assert_error(client.post("threads.create", message), 404, "not_found")
    too_many = {"input": user_input("See attached", attachments=[unknown] * 11)}
    assert_error(client.post("threads.create", too_many), 400, "invalid_request")
