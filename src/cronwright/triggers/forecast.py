"""Forecasting: the next fires after a moment, found without stepping through every minute.

Each launching trigger yields the UTC minutes in which it *may* match, in ascending order:

* schedule — step local calendar days, keep the dates whose year/month/day/weekday fit, and turn each
  matching hour:minute into UTC the way ``evaluate`` reads the clock: both readings of a repeated
  wall time (``fold`` 0 and 1), and for ``dst_skipped: "run"`` the transition minute after a skipped
  wall time (found by bisection);
* interval — arithmetic on ``start + k·duration``;
* single — its epoch.

The streams are merged and every distinct candidate minute is handed to ``CompiledTriggers.evaluate``,
so ranges, blackouts, the every-nth counter, precision, delay and DST notes behave exactly as in the
minute tick. The candidates only need to be a superset of the matching minutes: a minute in which no
trigger matches leaves the nth counter alone, so skipping it changes nothing. Minutes that ranges or
blackouts forbid are skipped wholesale once no more suppressed entries are wanted.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from cronwright.triggers.launchers import (
    IntervalLauncher,
    Launcher,
    ScheduleLauncher,
    SingleLauncher,
    interval_first_hit,
)
from cronwright.triggers.results import Fire, Suppressed
from cronwright.triggers.zones import ZoneCache, load_zone, wall_minute

if TYPE_CHECKING:
    from cronwright.triggers.compiled import CompiledTriggers

__all__ = ["candidate_minutes", "forecast_fires"]

ONE_DAY = timedelta(days=1)
_DAY_S = 86400
_UTC_EPOCH_NAIVE = datetime(1970, 1, 1)


def forecast_fires(
    compiled: CompiledTriggers,
    after: float,
    count: int,
    nth: int,
    zones: ZoneCache,
    *,
    horizon_days: int = 400,
    include_suppressed: bool = True,
) -> list[Fire | Suppressed]:
    """The fires of the minutes after ``after``, as the minute tick would produce them, up to ``count``.

    Minutes ``M`` with ``after < M ≤ after + horizon_days·86400`` are considered, in order, starting
    from the every-nth counter ``nth`` (the state after the minutes up to ``after`` were ticked);
    every returned item therefore has ``at > after``. Within a minute items are ordered by
    ``(at, trigger_index)``. The list ends with the ``count``-th fire, or at the horizon. With
    ``include_suppressed``, the launches held back by range/blackout/nth are interleaved, at most
    ``count`` of them (the earliest).
    """
    if count <= 0 or horizon_days <= 0 or not compiled.launchers:
        return []
    first = int(after // 60) * 60 + 60
    last = int((after + horizon_days * _DAY_S) // 60) * 60
    out: list[Fire | Suppressed] = []
    fires = held = 0
    skipping = not include_suppressed
    stream = candidate_minutes(compiled.launchers, first, last)
    while (minute := next(stream, None)) is not None:
        if skipping:
            allowed = compiled.window.next_allowed(minute)
            if allowed is None or allowed > last:
                break
            if allowed > minute:
                stream = candidate_minutes(compiled.launchers, allowed, last)
                continue
        result = compiled.evaluate(minute, nth, zones)
        nth = result.nth
        items: list[Fire | Suppressed] = [*result.fires, *result.suppressed]
        items.sort(key=lambda item: (item.at, item.trigger_index))
        for item in items:
            if isinstance(item, Fire):
                out.append(item)
                fires += 1
                if fires >= count:
                    return out
            elif not skipping:
                out.append(item)
                held += 1
                skipping = held >= count
    return out


def candidate_minutes(launchers: Iterable[Launcher], first: int, last: int) -> Iterator[int]:
    """Distinct UTC minutes in ``[first, last]``, ascending, in which some launcher may match."""
    previous = None
    for minute in heapq.merge(*(_launcher_minutes(launcher, first, last) for launcher in launchers)):
        if minute != previous:
            yield minute
            previous = minute


def _launcher_minutes(launcher: Launcher, first: int, last: int) -> Iterator[int]:
    if isinstance(launcher, ScheduleLauncher):
        return _schedule_minutes(launcher, first, last)
    if isinstance(launcher, IntervalLauncher):
        return _interval_minutes(launcher, first, last)
    if isinstance(launcher, SingleLauncher) and first <= launcher.epoch <= last:
        return iter((launcher.epoch,))
    return iter(())


def _interval_minutes(launcher: IntervalLauncher, first: int, last: int) -> Iterator[int]:
    moment = first
    while True:
        minute = interval_first_hit(launcher.start, launcher.duration, moment) // 60 * 60
        if minute > last:
            return
        yield minute
        moment = minute + 60


def _utc_date(epoch: int) -> date:
    return (_UTC_EPOCH_NAIVE + timedelta(seconds=epoch)).date()


def _naive_epoch(day: date) -> int:
    """The epoch a naive midnight of ``day`` would have in UTC (a bound, not a real instant)."""
    return (day - _UTC_EPOCH_NAIVE.date()).days * _DAY_S


def _schedule_minutes(launcher: ScheduleLauncher, first: int, last: int) -> Iterator[int]:
    """Candidate minutes of a schedule, by local calendar day.

    A candidate of local date ``D`` lies within a day of ``D``'s midnight read as UTC (UTC offsets
    stay below 24 hours), so after generating ``D`` every pending candidate earlier than
    ``naive(D + 1) − 1 day`` is final and can be yielded in order.
    """
    tz = load_zone(launcher.zone)
    if tz is None:
        return
    hours, minutes = sorted(launcher.hours), sorted(launcher.minutes)
    try:
        day, stop = _utc_date(first) - ONE_DAY, _utc_date(last) + ONE_DAY
    except OverflowError:
        return
    pending: list[int] = []
    while day <= stop:
        if launcher.sets.date_fits(day):
            for hour in hours:
                for minute in minutes:
                    naive = datetime(day.year, day.month, day.day, hour, minute)
                    for candidate in _instants(naive, tz, launcher.run_gap):
                        if first <= candidate <= last:
                            heapq.heappush(pending, candidate)
        if day == date.max:
            break
        day += ONE_DAY
        bound = _naive_epoch(day) - _DAY_S
        while pending and pending[0] < bound:
            yield heapq.heappop(pending)
    while pending:
        yield heapq.heappop(pending)


def _ceil_minute(seconds: float) -> int:
    return -int(-seconds // 60) * 60


def _instants(naive: datetime, tz: ZoneInfo, run_gap: bool) -> tuple[int, ...]:
    """The UTC minutes whose wall clock may read ``naive``: one, two (fold), or a gap's transition."""
    try:
        early = _ceil_minute(naive.replace(tzinfo=tz, fold=0).timestamp())
        late = _ceil_minute(naive.replace(tzinfo=tz, fold=1).timestamp())
    except (OverflowError, ValueError, OSError):
        return ()
    if early == late:
        return (early,)
    low, high = min(early, late), max(early, late)
    if run_gap and wall_minute(low, tz) != naive and wall_minute(high, tz) != naive:
        transition = _transition_after(naive, tz, low, high)
        if transition is not None:
            return (low, high, transition)
    return (low, high)


def _transition_after(naive: datetime, tz: ZoneInfo, low: int, high: int) -> int | None:
    """The first UTC minute in ``(low, high]`` whose wall clock is past the skipped wall time ``naive``."""
    if wall_minute(high, tz) <= naive or wall_minute(low, tz) > naive:
        return None
    while high - low > 60:
        middle = (low // 60 + high // 60) // 2 * 60
        if wall_minute(middle, tz) > naive:
            high = middle
        else:
            low = middle
    return high if wall_minute(high - 60, tz) < naive else None
