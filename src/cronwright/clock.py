"""The clock seam: engine code asks a ``Clock`` for the time instead of reading it directly."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Current Unix time in seconds (float)."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()
