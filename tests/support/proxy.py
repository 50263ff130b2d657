"""A TCP proxy on 127.0.0.1 for tests that cut a link (tests/agents, tests/ha): every connection to
``port`` is forwarded to ``target``; ``cut()`` resets the open ones and refuses new ones until
``restore()``; ``target`` may change in between."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading


def reset(sock: socket.socket) -> None:
    """Close with a TCP reset (no orderly FIN): what a broken link looks like to both ends."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class LinkProxy:
    """Forwards every TCP connection on 127.0.0.1:``port`` to ``target``; ``cut()`` resets the
    open ones and refuses (resets) new ones until ``restore()``."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.target: tuple[str, int] | None = None
        self.accepted = 0  # connections forwarded
        self.refused = 0  # connections reset while cut
        self._lock = threading.Lock()
        self._refusing = False
        self._open: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refusing = self._refusing or self.target is None or self._closed
                if refusing:
                    self.refused += 1
            if refusing:
                reset(client)
                continue
            try:
                assert self.target is not None
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                reset(client)
                continue
            with self._lock:
                self.accepted += 1
                self._open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            self._drop(source, sink)

    def _drop(self, *socks: socket.socket) -> None:
        with self._lock:
            mine = [s for s in socks if s in self._open]
            self._open.difference_update(mine)
        for sock in mine:
            reset(sock)

    def cut(self) -> None:
        with self._lock:
            self._refusing = True
            socks = list(self._open)
        self._drop(*socks)

    def restore(self) -> None:
        with self._lock:
            self._refusing = False

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._listener.close()
        self.cut()
