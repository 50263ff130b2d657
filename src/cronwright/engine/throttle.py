"""Request limits in sliding windows: one mechanism (``SlidingWindow``) behind the failed-login
limits (``LoginThrottle``) and the magic-link limits (``HitLimiter``).

Failed-login limits: per user name (case-folded) and per client IP. A login (or a password check
of ``update``) first asks ``LoginThrottle.begin``: when the recent failures plus the checks still
running for the same user name or IP reach the limit, it is refused with ``rate`` (429) before
any password is hashed. Counting running checks keeps a burst of parallel guesses inside the
limit too. ``end`` records the outcome: a failure counts for both keys; a success clears the user
name's failures (never the IP's, so one valid account cannot launder guesses at others).

State is in memory, per process: a restart forgets it, and conductors sharing a database count
separately. The number of tracked keys is bounded (``max_keys``): past it, expired keys are
dropped, then the oldest.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass

from cronwright.clock import Clock
from cronwright.errors import RateLimited

#: longest user name kept as a key (longer names cannot exist, but still cost a check)
_MAX_KEY_NAME = 256


@dataclass(frozen=True)
class LoginLimits:
    per_user: int = 5
    per_ip: int = 20
    window_s: float = 300.0


class SlidingWindow:
    """The times of recent events per key, kept for ``window_s``; at most ``max_keys`` keys (past
    that, keys whose events all expired go first, then the least recently used)."""

    def __init__(self, window_s: float, *, max_keys: int = 100_000) -> None:
        self.window_s = window_s
        self._max_keys = max_keys
        self._times: dict[str, deque[float]] = {}

    def recent(self, key: str, now: float) -> deque[float]:
        """The key's event times within the window, oldest first."""
        times = self._times.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._times[key]
        return times

    def record(self, key: str, now: float, keep: int) -> None:
        """Add an event; only the last ``keep`` times of a key are kept (all a limit needs)."""
        times = self._times.pop(key, None)  # re-inserted last: the dict stays least recent first
        if times is None:
            times = deque(maxlen=max(1, keep))
            if len(self._times) >= self._max_keys:
                self._prune(now)
        times.append(now)
        self._times[key] = times

    def clear(self, key: str) -> None:
        self._times.pop(key, None)

    def wait_s(self, key: str, limit: int, now: float, pending: int = 0) -> float:
        """0 when one more event fits under ``limit`` (counting ``pending`` ones not yet recorded),
        else the seconds until enough recorded events have left the window."""
        recent = self.recent(key, now)
        excess = len(recent) + pending - limit
        if excess < 0:
            return 0.0
        if excess >= len(recent):
            return 1.0
        return max(1.0, float(math.ceil(recent[excess] + self.window_s - now)))

    def _prune(self, now: float) -> None:
        cutoff = now - self.window_s
        for key in [k for k, times in self._times.items() if not times or times[-1] <= cutoff]:
            del self._times[key]
        while len(self._times) >= self._max_keys:
            del self._times[next(iter(self._times))]


class HitLimiter:
    """At most ``limit`` hits per key in any ``window_s`` (``limit <= 0``: no limit)."""

    def __init__(self, limit: int, window_s: float = 60.0, *, max_keys: int = 100_000) -> None:
        self.limit = limit
        self._window = SlidingWindow(window_s, max_keys=max_keys)

    def hit(self, key: str, now: float) -> float:
        """Count a hit: 0 when allowed, else the seconds to wait (the refused hit is not counted)."""
        if self.limit <= 0:
            return 0.0
        wait = self._window.wait_s(key, self.limit, now)
        if not wait:
            self._window.record(key, now, keep=self.limit)
        return wait


class LoginThrottle:
    def __init__(self, limits: LoginLimits, clock: Clock, max_keys: int = 100_000) -> None:
        self._limits = limits
        self._clock = clock
        self._failures = SlidingWindow(limits.window_s, max_keys=max_keys)
        self._running: Counter[str] = Counter()

    def begin(self, username: str, ip: str) -> tuple[str, ...]:
        """Admit one password check for ``username`` from ``ip`` or raise ``rate``; returns the
        keys to pass to ``end``."""
        now = self._clock.now()
        checks = [("user:" + username.casefold()[:_MAX_KEY_NAME], self._limits.per_user)]
        if ip:
            checks.append(("ip:" + ip, self._limits.per_ip))
        keys = tuple(key for key, limit in checks if limit > 0)
        for key, limit in checks:
            if limit > 0:
                self._admit(key, limit, now)
        for key in keys:
            self._running[key] += 1
        return keys

    def end(self, keys: tuple[str, ...], ok: bool | None) -> None:
        """Record the outcome of an admitted check: True success, False failure, None neither
        (the check could not run)."""
        now = self._clock.now()
        for key in keys:
            self._running[key] -= 1
            if self._running[key] <= 0:
                del self._running[key]
            if ok is False:
                limit = self._limits.per_user if key.startswith("user:") else self._limits.per_ip
                self._failures.record(key, now, keep=limit)
            elif ok and key.startswith("user:"):
                self._failures.clear(key)

    def _admit(self, key: str, limit: int, now: float) -> None:
        wait_s = self._failures.wait_s(key, limit, now, pending=self._running[key])
        if wait_s:
            seconds = int(wait_s)
            unit = "second" if seconds == 1 else "seconds"
            raise RateLimited("rate", f"Too many failed login attempts; try again in {seconds} {unit}.")
