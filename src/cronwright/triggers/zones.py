"""Wall-clock parts of UTC minutes per IANA zone, computed once per (zone, minute).

A ``ZoneCache`` is shared by every event evaluated in one tick: the datetime work (UTC minute →
local wall clock, last day of month, DST fold and gap detection) happens once per zone and minute,
and schedule matching then only does set look-ups on the cached ``WallParts``.

DST vocabulary used throughout the package:

* **gap** (spring-forward): wall-clock minutes that no UTC minute maps to. ``WallParts.gap`` is set
  on the *transition minute* — the first UTC minute after the gap — as ``(before, after)``: the wall
  minutes of the previous UTC minute and of this one; the skipped minutes lie strictly between.
* **fold** (fall-back): wall-clock minutes that two UTC minutes map to. ``WallParts.fold`` is true
  on the second occurrence (Python's ``fold=1``).
"""

from __future__ import annotations

import calendar
import functools
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["MinuteTable", "WallParts", "ZoneCache", "load_zone", "wall_minute"]

ONE_MINUTE = timedelta(minutes=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class WallParts:
    """The wall-clock reading of one UTC minute in one zone (triggers.md §3 step 5.1)."""

    year: int
    month: int  # 1–12
    day: int
    weekday: int  # 0 = Sunday
    hour: int  # 0–23
    minute: int
    rday: int  # day − last_day_of_month − 1: −1 on the last day of the month
    fold: bool  # second occurrence of a repeated wall minute (fall-back)
    gap: tuple[datetime, datetime] | None  # (wall minute before, this wall minute) when minutes were skipped


@functools.lru_cache(maxsize=1024)
def load_zone(name: str) -> zoneinfo.ZoneInfo | None:
    """The ``ZoneInfo`` called ``name``, or ``None`` when the name is not a usable IANA zone."""
    if not isinstance(name, str) or not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def local_time(minute: int, tz: zoneinfo.ZoneInfo) -> datetime:
    """The aware local time of the UTC instant ``minute`` (``fold`` set on a repeated wall time)."""
    return (_EPOCH + timedelta(seconds=minute)).astimezone(tz)


def wall_minute(minute: int, tz: zoneinfo.ZoneInfo) -> datetime:
    """The naive wall-clock minute (seconds dropped) that UTC ``minute`` shows in ``tz``."""
    return local_time(minute, tz).replace(tzinfo=None, second=0, microsecond=0, fold=0)


def compute_parts(zone: str, minute: int) -> WallParts | None:
    """The ``WallParts`` of ``minute`` in ``zone``; ``None`` for an unknown zone or an unrepresentable date."""
    tz = load_zone(zone)
    if tz is None:
        return None
    try:
        local = local_time(minute, tz)
        before = wall_minute(minute - 60, tz)
    except (OverflowError, ValueError, OSError):
        return None
    wall = local.replace(tzinfo=None, second=0, microsecond=0, fold=0)
    last_day = calendar.monthrange(wall.year, wall.month)[1]
    return WallParts(
        year=wall.year,
        month=wall.month,
        day=wall.day,
        weekday=(wall.weekday() + 1) % 7,
        hour=wall.hour,
        minute=wall.minute,
        rday=wall.day - last_day - 1,
        fold=bool(local.fold),
        gap=(before, wall) if wall - before > ONE_MINUTE else None,
    )


class MinuteTable(dict[str, WallParts | None]):
    """Zone name → ``WallParts`` for one UTC minute, filled on first look-up of each zone."""

    __slots__ = ("minute",)

    def __init__(self, minute: int) -> None:
        super().__init__()
        self.minute = minute

    def __missing__(self, zone: str) -> WallParts | None:
        parts = compute_parts(zone, self.minute)
        self[zone] = parts
        return parts


class ZoneCache:
    """Wall-clock parts of a UTC minute per zone, computed once per (zone, minute).

    Share one instance across all events of a tick (and across the minutes of a catch-up loop).
    The cache holds at most ``max_minutes`` minutes and starts afresh when that is exceeded, so a
    long-lived instance stays small. Not thread-safe (use one per thread).
    """

    def __init__(self, max_minutes: int = 2048) -> None:
        self._tables: dict[int, MinuteTable] = {}
        self._max_minutes = max(1, max_minutes)

    def table(self, minute: int) -> MinuteTable:
        """The zone → parts table of UTC ``minute`` (a multiple of 60)."""
        table = self._tables.get(minute)
        if table is None:
            if len(self._tables) >= self._max_minutes:
                self._tables.clear()
            table = self._tables[minute] = MinuteTable(minute)
        return table

    def parts(self, zone: str, minute: int) -> WallParts:
        """The wall-clock parts of UTC ``minute`` in ``zone``; ``ValueError`` for an unknown zone."""
        parts = self.table(minute)[zone]
        if parts is None:
            raise ValueError(f"unknown time zone or date out of range: {zone!r} at {minute}")
        return parts
