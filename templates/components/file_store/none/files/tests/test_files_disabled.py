"""Attachments are off in this project: every attachment request answers 501."""

from __future__ import annotations

from chatkit_helpers import ChatKitClient, assert_error, user_input


def test_attachments_without_a_file_store_are_501s(client: ChatKitClient) -> None:
    create = {"name": "cat.png", "size": 10, "mime_type": "image/png"}
    assert_error(client.post("attachments.create", create), 501, "not_implemented")
    delete = {"attachment_id": "atc_00000000000000000000000000000000"}
    assert_error(client.post("attachments.delete", delete), 501, "not_implemented")
    message = {"input": user_input("See attached", attachments=[delete["attachment_id"]])}
    assert_error(client.post("threads.create", message), 501, "not_implemented")
