"""A loopback TCP proxy that can take its upstream away: the database "unavailable" switch.

While it forwards, every connection is piped to the upstream. `cut()` closes the connections in
flight (as a database restart or `pg_terminate_backend` would) and from then on accepts new
connections but never answers them (as a firewall that drops packets would), so a client waits
for its own connect time-out. `restore()` closes those held connections and forwards again.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress
from types import TracebackType
from typing import Self


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `upstream` until `cut()`, again after `restore()`."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._forwarding = True
        self._open: set[socket.socket] = set()  # both ends of every piped or held connection
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    def cut(self) -> None:
        with self._lock:
            self._forwarding = False
            self._close_all()

    def restore(self) -> None:
        """Forward again (nothing to do while forwarding)."""
        with self._lock:
            if not self._forwarding:
                self._forwarding = True
                self._close_all()

    def _close_all(self) -> None:
        for sock in self._open:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._open.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed
            with self._lock:
                self._open.add(client)
                if not self._forwarding:
                    continue  # held silent until restore()
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                with self._lock:
                    self._open.discard(client)
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._open.add(server)
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def __enter__(self) -> Self:
        self._accepting.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        self._accepting.join(timeout=5)
        with self._lock:
            self._close_all()
