"""A TCP proxy on 127.0.0.1 in front of the test PostgreSQL, to take the database away.

`go_down()` cuts every open connection and stops listening, as a database host that
crashes or drops off the network does: the next connection attempt is refused.
`come_back()` listens again on the same port. The PostgreSQL cluster itself keeps
running, so other tests and other engineers' databases are untouched.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Iterator


class TcpProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.connections_made = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.come_back()

    def come_back(self) -> None:
        """Listen (again, on the same port) and forward each connection to `target`."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,))
        self._thread.daemon = True
        self._thread.start()

    def go_down(self) -> None:
        """Refuse new connections and cut the open ones mid-stream."""
        listener, self._listener = self._listener, None
        if self._thread is not None:
            self._thread.join()  # it sees the change within one select() timeout
        if listener is not None:
            listener.close()
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            if self._listener is not listener:  # go_down() was called
                return
            readable, _, _ = select.select([listener], [], [], 0.05)
            if not readable:
                continue
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self._lock:
                self._open.update((client, server))
                self.connections_made += 1
            for source, sink in ((client, server), (server, client)):
                threading.Thread(
                    target=self._pipe, args=(source, sink), daemon=True
                ).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.difference_update((source, sink))
            _close(source)
            _close(sink)


@contextlib.contextmanager
def database_behind_proxy(connection) -> Iterator[TcpProxy]:
    """Send a PostgreSQL connection's traffic through a TcpProxy while in the block.

    The connection reconnects through the proxy at its next query, and goes straight
    to the server again afterwards.
    """
    settings_dict = connection.settings_dict
    direct = settings_dict["HOST"], settings_dict["PORT"]
    proxy = TcpProxy((direct[0] or "127.0.0.1", int(direct[1] or 5432)))
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", proxy.port
    try:
        yield proxy
    finally:
        connection.close()
        settings_dict["HOST"], settings_dict["PORT"] = direct
        proxy.go_down()


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the other side
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
