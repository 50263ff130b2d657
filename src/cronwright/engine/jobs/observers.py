"""Who follows a live job: listeners of its updates (``stream_job``, the job log stream) and the
callers waiting for its final record (``run_event/v1/wait``, chained runs)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

Listener = Callable[[str, Any], None]


class JobObservers:
    def __init__(self) -> None:
        self._listeners: dict[str, set[Listener]] = {}
        self._waiters: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}

    def listen(self, job_id: str, listener: Listener) -> None:
        """Call ``listener(kind, payload)`` for every ``update``, ``log`` and the ``complete`` of the job."""
        self._listeners.setdefault(job_id, set()).add(listener)

    def unlisten(self, job_id: str, listener: Listener) -> None:
        self._listeners.get(job_id, set()).discard(listener)

    def notify(self, job_id: str, kind: str, payload: Any) -> None:
        for listener in list(self._listeners.get(job_id, ())):
            listener(kind, payload)

    def wait_for(self, job_id: str) -> asyncio.Future[dict[str, Any]]:
        """A future resolved with the job's final record (cancelled when the job goes elsewhere)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(job_id, []).append(future)
        return future

    def completed(self, job: dict[str, Any]) -> None:
        """The job's final record is stored: resolve the waiters, tell the listeners, forget them."""
        for future in self._waiters.pop(job["id"], []):
            if not future.done():
                future.set_result(job)
        self.notify(job["id"], "complete", job)
        self._listeners.pop(job["id"], None)

    def gone(self, job_id: str) -> None:
        """The job left this conductor without a final record here (adopted elsewhere, or dropped
        from its queue): waiters are cancelled, listeners forgotten."""
        for future in self._waiters.pop(job_id, []):
            if not future.done():
                future.cancel()
        self._listeners.pop(job_id, None)
