"""The three tick-launching trigger kinds — schedule, interval, single — as compiled matchers.

Each launcher answers one question for one UTC minute: does it choose this minute (triggers.md §3
step 5.2), and with which second offsets and DST note? ``match`` returns ``None`` on the common
no-match path without allocating; a plain match returns the shared ``PLAIN``.

Schedule DST behaviour (triggers.md §5) is xyOps' by default: a wall time skipped by spring-forward
never matches and a wall time repeated by fall-back matches twice (both UTC minutes). Per trigger,
``dst_skipped: "run"`` additionally fires once on the transition minute when any skipped wall minute
would have matched (merged with a normal match of that minute: still one fire), and
``dst_repeated: "once"`` drops the second occurrence (``fold=1``) of a repeated wall minute.
"""

from __future__ import annotations

import calendar
import functools
from bisect import bisect_left, bisect_right
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from cronwright.triggers.dst import NOTE_MATCHES, fold_note, gap_note
from cronwright.triggers.zones import ONE_MINUTE, MinuteTable, WallParts

__all__ = [
    "ALL_DAYS",
    "ALL_HOURS",
    "ALL_MINUTES",
    "ALL_MONTHS",
    "ALL_WEEKDAYS",
    "ALL_YEARS",
    "PLAIN",
    "IntervalLauncher",
    "Launcher",
    "Match",
    "NeverLauncher",
    "ScheduleLauncher",
    "ScheduleSets",
    "SingleLauncher",
]

# "Any" is the full set, so that matching is one membership test per part.
ALL_MINUTES = frozenset(range(60))
ALL_HOURS = frozenset(range(24))
ALL_DAYS = frozenset(range(-7, 32)) - {0}
ALL_WEEKDAYS = frozenset(range(7))
ALL_MONTHS = frozenset(range(1, 13))
ALL_YEARS = frozenset(range(1, 10000))


class Match(NamedTuple):
    """A launcher's yes for one minute: its own second offsets (interval hits) and a DST note."""

    offsets: tuple[int, ...] | None
    note: str | None


PLAIN = Match(None, None)


class GapMatches(NamedTuple):
    """The skipped wall minutes a schedule would have matched: the first few, how many, the last."""

    first: list[datetime]
    total: int
    last: datetime


class Launcher:
    """What every launching trigger carries into its fires."""

    __slots__ = ("data", "index", "params", "stype", "tags")

    def __init__(self, index: int, stype: str | None, trigger: dict[str, Any]) -> None:
        self.index = index
        self.stype = stype
        params = trigger.get("params")
        self.params: dict[str, Any] = params if isinstance(params, dict) else {}
        tags = trigger.get("tags")
        self.tags: list[str] = [tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []
        data = trigger.get("data")
        self.data: Any = data if isinstance(data, (dict, list)) else None

    def match(self, minute: int, table: MinuteTable) -> Match | None:
        """Whether this trigger chooses UTC ``minute``; ``table`` holds the minute's wall-clock parts."""
        raise NotImplementedError


class ScheduleSets(NamedTuple):
    """A schedule's six lists as sets ("any" = the full set); hashable, so DST work can be memoised."""

    years: frozenset[int]
    months: frozenset[int]
    days: frozenset[int]  # day of month 1–31 and rday −7…−1
    weekdays: frozenset[int]
    hours: frozenset[int]
    minutes: frozenset[int]

    def date_fits(self, day: date) -> bool:
        """Whether the calendar date ``day`` satisfies years, months, days (or rday) and weekdays."""
        if day.year not in self.years or day.month not in self.months:
            return False
        if (day.isoweekday() % 7) not in self.weekdays:
            return False
        if day.day in self.days:
            return True
        return day.day - calendar.monthrange(day.year, day.month)[1] - 1 in self.days

    def gap_matches(self, before: datetime, after: datetime) -> GapMatches | None:
        """The wall minutes strictly between ``before`` and ``after`` (a DST gap) that these sets match.

        Only the first few matches are listed (enough for a note), with the count and the last one;
        the work is per date and hour of the gap, with bisection over the sorted minutes.
        """
        first, last = before + ONE_MINUTE, after - ONE_MINUTE
        hours, minutes = _sorted_parts(self.hours), _sorted_parts(self.minutes)
        found: list[datetime] = []
        total, latest = 0, first
        day = first.date()
        while day <= last.date():
            if self.date_fits(day):
                low = first.hour * 60 + first.minute if day == first.date() else 0
                high = last.hour * 60 + last.minute if day == last.date() else 1439
                for hour in hours[bisect_left(hours, low // 60) : bisect_right(hours, high // 60)]:
                    lo = bisect_left(minutes, low - hour * 60 if hour == low // 60 else 0)
                    hi = bisect_right(minutes, high - hour * 60 if hour == high // 60 else 59)
                    if hi <= lo:
                        continue
                    total += hi - lo
                    latest = datetime(day.year, day.month, day.day, hour, minutes[hi - 1])
                    for minute in minutes[lo : min(hi, lo + NOTE_MATCHES - len(found))]:
                        found.append(datetime(day.year, day.month, day.day, hour, minute))
            day += timedelta(days=1)
        return GapMatches(found, total, latest) if total else None


@functools.lru_cache(maxsize=4096)
def _sorted_parts(values: frozenset[int]) -> tuple[int, ...]:
    """``values`` sorted, computed once per distinct set."""
    return tuple(sorted(values))


@functools.lru_cache(maxsize=4096)
def _gap_match(zone: str, sets: ScheduleSets, before: datetime, after: datetime) -> Match | None:
    """The ``dst_skipped: "run"`` match on a transition minute, memoised: events sharing a schedule share it."""
    skipped = sets.gap_matches(before, after)
    if skipped is None:
        return None
    return Match(None, gap_note(zone, skipped.first, skipped.total, skipped.last, after))


@functools.lru_cache(maxsize=1024)
def _fold_match(zone: str, minute: int) -> Match:
    """The match of a repeated wall minute's second occurrence, memoised per zone and minute."""
    return Match(None, fold_note(zone, minute))


class ScheduleLauncher(Launcher):
    """A ``schedule`` trigger: every non-empty list must contain the wall-clock part (days and weekdays ANDed)."""

    __slots__ = ("days", "hours", "minutes", "months", "once", "run_gap", "sets", "weekdays", "years", "zone")

    def __init__(self, index: int, trigger: dict[str, Any], zone: str, sets: ScheduleSets) -> None:
        super().__init__(index, None, trigger)
        self.zone = zone
        self.sets = sets
        self.years, self.months, self.days, self.weekdays, self.hours, self.minutes = sets
        self.run_gap = trigger.get("dst_skipped") == "run"
        self.once = trigger.get("dst_repeated") == "once"

    def match(self, minute: int, table: MinuteTable) -> Match | None:
        p: WallParts | None = table[self.zone]
        if p is None:
            return None
        days = self.days
        hit = (
            p.minute in self.minutes
            and p.hour in self.hours
            and (p.day in days or p.rday in days)
            and p.weekday in self.weekdays
            and p.month in self.months
            and p.year in self.years
        )
        if hit and p.fold:
            if self.once:
                hit = False
            else:
                return _fold_match(self.zone, minute)
        if p.gap is not None and self.run_gap:
            gap_match = _gap_match(self.zone, self.sets, *p.gap)
            if gap_match is not None:
                return gap_match
        return PLAIN if hit else None


class IntervalLauncher(Launcher):
    """An ``interval`` trigger: hits at ``start + k·duration`` (triggers.md §4, CRONWRIGHT DECISION).

    A mid-minute ``start`` lands in its own minute at its second; the hits of a minute are this
    trigger's own second offsets (CHOICE: never shared with other triggers or minutes).
    """

    __slots__ = ("duration", "start")

    def __init__(self, index: int, trigger: dict[str, Any], start: int, duration: int) -> None:
        super().__init__(index, "interval", trigger)
        self.start = start
        self.duration = duration

    def match(self, minute: int, table: MinuteTable) -> Match | None:
        start = self.start
        if start >= minute + 60:
            return None
        first = interval_first_hit(start, self.duration, minute)
        if first >= minute + 60:
            return None
        return Match(tuple(range(first - minute, 60, self.duration)), None)


def interval_first_hit(start: int, duration: int, moment: int) -> int:
    """The first hit ``start + k·duration`` (k ≥ 0) at or after ``moment``."""
    if start >= moment:
        return start
    return start - ((start - moment) // duration) * duration


class SingleLauncher(Launcher):
    """A ``single`` trigger: chooses exactly the minute of its (minute-floored) ``epoch``."""

    __slots__ = ("epoch",)

    def __init__(self, index: int, trigger: dict[str, Any], epoch: int) -> None:
        super().__init__(index, "single", trigger)
        self.epoch = epoch

    def match(self, minute: int, table: MinuteTable) -> Match | None:
        return PLAIN if minute == self.epoch else None


class NeverLauncher(Launcher):
    """A launching trigger too malformed to match anything (it still makes the event "launching")."""

    __slots__ = ()

    def match(self, minute: int, table: MinuteTable) -> Match | None:
        return None
