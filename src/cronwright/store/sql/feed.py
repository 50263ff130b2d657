"""The change feed between conductors on one PostgreSQL database (docs/ha.md).

Writers announce each committed change of a cached document with ``pg_notify`` inside their
transaction (PostgreSQL delivers it at commit, never for a rolled-back write): the payload is
``{"k": kind, "id": id, "o": writer}``. ``ChangeFeed`` listens on its own connection in a thread
and hands each payload to the conductor's event loop. Notifications sent while the listener was
disconnected are lost, so after every (re)connection it asks for a catch-up (``on_connect``):
the conductor re-reads what it caches.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from cronwright import jsonutil

log = logging.getLogger("cronwright.feed")

CHANNEL = "cronwright_changes"
#: the largest payload PostgreSQL accepts is 8000 bytes; ours are far smaller (kind, id, writer)
RECONNECT_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 5.0)


def notify_statement() -> str:
    return f"SELECT pg_notify('{CHANNEL}', :payload)"


def payload(kind: str, doc_id: str, origin: str | None) -> str:
    return jsonutil.dumps_str({"k": kind, "id": doc_id, "o": origin})


class ChangeFeed:
    def __init__(
        self,
        dsn: str,
        on_change: Callable[[dict[str, Any]], None],
        on_connect: Callable[[], None],
    ) -> None:
        self._dsn = dsn
        self._on_change = on_change
        self._on_connect = on_connect
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="change-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg  # here: a SQLite conductor never loads the driver (about 10 MB)

        failures = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    if failures:
                        log.info("change feed reconnected")
                    failures = 0
                    self._on_connect()  # catch up on what was announced while not listening
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._deliver(note.payload)
            except psycopg.Error as exc:
                delay = RECONNECT_DELAYS_S[min(failures, len(RECONNECT_DELAYS_S) - 1)]
                failures += 1
                log.warning("change feed lost its connection (%s); reconnecting in %.1f s", _brief(exc), delay)
                self._stop.wait(delay)
            except Exception:
                log.exception("change feed failed; restarting it")
                self._stop.wait(1.0)

    def _deliver(self, raw: str) -> None:
        try:
            change = jsonutil.loads(raw)
        except ValueError:
            return
        if isinstance(change, dict):
            with contextlib.suppress(Exception):
                self._on_change(change)


def _brief(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
