"""The interface of the file storage: what the store, the converter and the console need.

The file store component of the project implements it (`files.create_file_storage`); with
file store `none` there is no storage at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from chatkit.types import Attachment

from .context import RequestContext


class FileStorage(Protocol):
    """The file store as the app uses it: bytes for the model, fresh URLs, deletion, origins.

    The store refreshes the URLs of every attachment it loads and deletes the bytes of a
    deleted thread's attachments; the converter reads the bytes it sends to the model; the
    console allows the origins browsers upload to and load previews from.
    """

    @property
    def browser_origins(self) -> tuple[str, ...]:
        """Origins a browser sends uploads to and loads previews from."""
        ...

    @property
    def app_origin(self) -> str | None:
        """This app's origin as its own file URLs name it (PUBLIC_BASE_URL), if it serves any."""
        ...

    async def read_bytes(self, attachment: Attachment, context: RequestContext) -> bytes:
        """The uploaded bytes; raises `NotFoundError` if missing, not uploaded or foreign."""
        ...

    def refresh_urls(self, attachment: Attachment, context: RequestContext) -> Attachment:
        """The attachment with freshly signed URLs for this requester."""
        ...

    async def delete_files(
        self, attachments: Sequence[Attachment], context: RequestContext
    ) -> None:
        """Remove the bytes of attachments whose records are already gone."""
        ...
