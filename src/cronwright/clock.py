"""The clock seam: engine code asks a ``Clock`` for the time instead of reading it directly.

``AdjustableClock`` runs at real speed from a chosen start (``clock_start`` setting) and can be
moved (the test-only ``test_set_clock`` endpoint); listeners hear about every move, so the
scheduler wakes up at once instead of sleeping for minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Current Unix time in seconds (float)."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class AdjustableClock:
    """Real time plus an offset; ``set(now)`` moves it (tests and demos only)."""

    def __init__(self, start: float | None = None) -> None:
        self.offset = (start - time.time()) if start else 0.0
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
        return time.time() + self.offset

    def set(self, now: float) -> None:
        self.offset = now - time.time()
        for listener in list(self._listeners):
            listener()

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)
