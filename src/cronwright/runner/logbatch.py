"""Batched delivery of job log output: at most one ``on_log`` call per ``flush_s``.

Output is appended as it arrives (stdout lines and stderr chunks, in order); the first byte after
a delivery arms a timer, and ``flush`` delivers whatever is pending at once (before a result).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class LogBatcher:
    """Collects log bytes and hands them to ``deliver`` in batches."""

    def __init__(self, deliver: Callable[[bytes], None], flush_s: float) -> None:
        self._deliver = deliver
        self._flush_s = max(0.0, flush_s)
        self._pending = bytearray()
        self._timer: asyncio.TimerHandle | None = None
        self.total_bytes = 0

    def append(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._pending += chunk
        self.total_bytes += len(chunk)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._flush_s, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending:
            chunk = bytes(self._pending)
            self._pending.clear()
            self._deliver(chunk)

    def discard(self) -> None:
        """Drop pending output and stop the timer (the run's result was already delivered)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending.clear()
