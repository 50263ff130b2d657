"""DST tables: gaps and folds in New York, London, Lord Howe (30-minute shift) and Apia (a skipped day).

Each row runs ``evaluate`` over every minute of a window around one transition, with the default
behaviour (xyOps: a skipped wall time never matches, a repeated one matches twice) and with the
per-schedule options ``dst_skipped: "run"`` and ``dst_repeated: "once"``; ``forecast`` over the same
window must agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from cronwright.triggers import Fire, ZoneCache, compile_triggers
from tests.unit._triggers_support import LA, schedule, utc, walk

NY, LON, LHI, APIA = "America/New_York", "Europe/London", "Australia/Lord_Howe", "Pacific/Apia"
NY_GAP_NOTE = "02:30 does not exist on 2025-03-09 in America/New_York (clocks moved forward); fired at 03:00"
NY_FOLD_NOTE = (
    "01:30 occurs twice on 2025-11-02 in America/New_York (clocks moved back); this is the second run, at 01:30 EST"
)
APIA_GAP_NOTE = "09:00 does not exist on 2011-12-30 in Pacific/Apia (clocks moved forward); fired at 2011-12-31 00:00"

# (name, zone, schedule fields, options, window start/end (UTC, inclusive), expected fires as (UTC epoch, note))
CASES: list[tuple[str, str, dict[str, Any], dict[str, str], int, int, list[tuple[int, str | None]]]] = [
    # New York 2025-03-09: 02:00 EST → 03:00 EDT at 07:00 UTC; 02:00–02:59 do not exist.
    ("NY gap default", NY, {"hours": [2], "minutes": [30]}, {}, utc(2025, 3, 8), utc(2025, 3, 11),
     [(utc(2025, 3, 8, 7, 30), None), (utc(2025, 3, 10, 6, 30), None)]),
    ("NY gap once", NY, {"hours": [2], "minutes": [30]}, {"dst_repeated": "once"}, utc(2025, 3, 8), utc(2025, 3, 11),
     [(utc(2025, 3, 8, 7, 30), None), (utc(2025, 3, 10, 6, 30), None)]),
    ("NY gap run", NY, {"hours": [2], "minutes": [30]}, {"dst_skipped": "run"}, utc(2025, 3, 8), utc(2025, 3, 11),
     [(utc(2025, 3, 8, 7, 30), None), (utc(2025, 3, 9, 7, 0), NY_GAP_NOTE), (utc(2025, 3, 10, 6, 30), None)]),
    ("NY gap run skip explicit", NY, {"hours": [2], "minutes": [30]}, {"dst_skipped": "skip"}, utc(2025, 3, 9, 5), utc(2025, 3, 9, 9),
     []),
    ("NY gap run whole hour fires once", NY, {"hours": [2]}, {"dst_skipped": "run"}, utc(2025, 3, 9, 5), utc(2025, 3, 9, 9),
     [(utc(2025, 3, 9, 7, 0),
       "02:00, 02:01, 02:02 and 57 more do not exist on 2025-03-09 in America/New_York (clocks moved forward); fired at 03:00")]),
    ("NY gap run merged with 03:00", NY, {"hours": [2, 3], "minutes": [0]}, {"dst_skipped": "run"}, utc(2025, 3, 9, 5), utc(2025, 3, 9, 9),
     [(utc(2025, 3, 9, 7, 0), "02:00 does not exist on 2025-03-09 in America/New_York (clocks moved forward); fired at 03:00")]),
    ("NY gap run other hour untouched", NY, {"hours": [3], "minutes": [0]}, {"dst_skipped": "run"}, utc(2025, 3, 9, 5), utc(2025, 3, 9, 9),
     [(utc(2025, 3, 9, 7, 0), None)]),
    # New York 2025-11-02: 02:00 EDT → 01:00 EST at 06:00 UTC; 01:00–01:59 happen twice.
    ("NY fold default", NY, {"hours": [1], "minutes": [30]}, {}, utc(2025, 11, 2), utc(2025, 11, 3),
     [(utc(2025, 11, 2, 5, 30), None), (utc(2025, 11, 2, 6, 30), NY_FOLD_NOTE)]),
    ("NY fold once", NY, {"hours": [1], "minutes": [30]}, {"dst_repeated": "once"}, utc(2025, 11, 2), utc(2025, 11, 3),
     [(utc(2025, 11, 2, 5, 30), None)]),
    ("NY fold run", NY, {"hours": [1], "minutes": [30]}, {"dst_skipped": "run"}, utc(2025, 11, 2), utc(2025, 11, 3),
     [(utc(2025, 11, 2, 5, 30), None), (utc(2025, 11, 2, 6, 30), NY_FOLD_NOTE)]),
    ("NY fold once keeps unrepeated", NY, {"hours": [2], "minutes": [30]}, {"dst_repeated": "once"}, utc(2025, 11, 2), utc(2025, 11, 3),
     [(utc(2025, 11, 2, 7, 30), None)]),
    # London 2025-03-30: 01:00 GMT → 02:00 BST at 01:00 UTC; 2025-10-26: 02:00 BST → 01:00 GMT at 01:00 UTC.
    ("London gap default", LON, {"hours": [1], "minutes": [30]}, {}, utc(2025, 3, 30), utc(2025, 3, 30, 23, 59),
     []),
    ("London gap run", LON, {"hours": [1], "minutes": [30]}, {"dst_skipped": "run"}, utc(2025, 3, 30), utc(2025, 3, 30, 23, 59),
     [(utc(2025, 3, 30, 1, 0), "01:30 does not exist on 2025-03-30 in Europe/London (clocks moved forward); fired at 02:00")]),
    ("London fold default", LON, {"hours": [1], "minutes": [30]}, {}, utc(2025, 10, 25, 12), utc(2025, 10, 26, 12),
     [(utc(2025, 10, 26, 0, 30), None),
      (utc(2025, 10, 26, 1, 30),
       "01:30 occurs twice on 2025-10-26 in Europe/London (clocks moved back); this is the second run, at 01:30 GMT")]),
    ("London fold once", LON, {"hours": [1], "minutes": [30]}, {"dst_repeated": "once"}, utc(2025, 10, 25, 12), utc(2025, 10, 26, 12),
     [(utc(2025, 10, 26, 0, 30), None)]),
    # Lord Howe 2025-04-06: 02:00 (+11) → 01:30 (+10:30) at 15:00 UTC (04-05); 01:30–01:59 happen twice.
    ("Lord Howe fold default", LHI, {"hours": [1], "minutes": [45]}, {}, utc(2025, 4, 5, 6), utc(2025, 4, 6, 6),
     [(utc(2025, 4, 5, 14, 45), None),
      (utc(2025, 4, 5, 15, 15),
       "01:45 occurs twice on 2025-04-06 in Australia/Lord_Howe (clocks moved back); this is the second run, at 01:45 +1030")]),
    ("Lord Howe fold once", LHI, {"hours": [1], "minutes": [45]}, {"dst_repeated": "once"}, utc(2025, 4, 5, 6), utc(2025, 4, 6, 6),
     [(utc(2025, 4, 5, 14, 45), None)]),
    ("Lord Howe 01:15 is not repeated", LHI, {"hours": [1], "minutes": [15]}, {}, utc(2025, 4, 5, 6), utc(2025, 4, 6, 6),
     [(utc(2025, 4, 5, 14, 15), None)]),
    # Lord Howe 2025-10-05: 02:00 (+10:30) → 02:30 (+11) at 15:30 UTC (10-04); 02:00–02:29 do not exist.
    ("Lord Howe gap default", LHI, {"hours": [2], "minutes": [15]}, {}, utc(2025, 10, 4, 6), utc(2025, 10, 5, 6),
     []),
    ("Lord Howe gap run", LHI, {"hours": [2], "minutes": [15]}, {"dst_skipped": "run"}, utc(2025, 10, 4, 6), utc(2025, 10, 5, 6),
     [(utc(2025, 10, 4, 15, 30),
       "02:15 does not exist on 2025-10-05 in Australia/Lord_Howe (clocks moved forward); fired at 02:30")]),
    ("Lord Howe 02:45 exists", LHI, {"hours": [2], "minutes": [45]}, {"dst_skipped": "run"}, utc(2025, 10, 4, 6), utc(2025, 10, 5, 6),
     [(utc(2025, 10, 4, 15, 45), None)]),
    # Apia: 2011-12-29 23:59 (−10) → 2011-12-31 00:00 (+14) at 10:00 UTC; all of 2011-12-30 does not exist.
    ("Apia day 30 default", APIA, {"days": [30], "hours": [9], "minutes": [0]}, {}, utc(2011, 12, 28), utc(2012, 1, 2),
     []),
    ("Apia day 30 run", APIA, {"days": [30], "hours": [9], "minutes": [0]}, {"dst_skipped": "run"}, utc(2011, 12, 28), utc(2012, 1, 2),
     [(utc(2011, 12, 30, 10, 0), APIA_GAP_NOTE)]),
    ("Apia Friday noon run", APIA, {"weekdays": [5], "hours": [12], "minutes": [0]}, {"dst_skipped": "run"}, utc(2011, 12, 29), utc(2011, 12, 31),
     [(utc(2011, 12, 30, 10, 0),
       "12:00 does not exist on 2011-12-30 in Pacific/Apia (clocks moved forward); fired at 2011-12-31 00:00")]),
    ("Apia daily noon default", APIA, {"hours": [12], "minutes": [0]}, {}, utc(2011, 12, 29, 12), utc(2011, 12, 31, 12),
     [(utc(2011, 12, 29, 22, 0), None), (utc(2011, 12, 30, 22, 0), None)]),
    ("Apia daily noon run", APIA, {"hours": [12], "minutes": [0]}, {"dst_skipped": "run"}, utc(2011, 12, 29, 12), utc(2011, 12, 31, 12),
     [(utc(2011, 12, 29, 22, 0), None),
      (utc(2011, 12, 30, 10, 0),
       "12:00 does not exist on 2011-12-30 in Pacific/Apia (clocks moved forward); fired at 2011-12-31 00:00"),
      (utc(2011, 12, 30, 22, 0), None)]),
    ("Apia hourly run lists the skipped day", APIA, {"minutes": [0]}, {"dst_skipped": "run"}, utc(2011, 12, 30, 9, 59), utc(2011, 12, 30, 10, 0),
     [(utc(2011, 12, 30, 10, 0),
       "00:00, 01:00, 02:00 and 21 more do not exist on 2011-12-30 in Pacific/Apia (clocks moved forward); "
       "fired at 2011-12-31 00:00")]),
    ("Apia rday -2 run", APIA, {"days": [-2], "hours": [0], "minutes": [0]}, {"dst_skipped": "run"}, utc(2011, 12, 28), utc(2012, 1, 2),
     [(utc(2011, 12, 30, 10, 0),
       "00:00 does not exist on 2011-12-30 in Pacific/Apia (clocks moved forward); fired at 2011-12-31 00:00")]),
]  # fmt: skip


def _fires(zone: str, fields: dict[str, Any], options: dict[str, str], start: int, end: int) -> list[Fire]:
    items, _ = walk([schedule(timezone=zone, **fields, **options)], start, end)
    return [item for item in items if isinstance(item, Fire)]


@pytest.mark.parametrize(
    ("zone", "fields", "options", "start", "end", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_dst_transition(
    zone: str,
    fields: dict[str, Any],
    options: dict[str, str],
    start: int,
    end: int,
    expected: list[tuple[int, str | None]],
) -> None:
    """Evaluating every minute across the transition fires exactly at the listed UTC minutes, with these notes."""
    fires = _fires(zone, fields, options, start, end)
    assert [(fire.at, fire.dst) for fire in fires] == expected
    assert len({fire.key for fire in fires}) == len(fires)


@pytest.mark.parametrize(
    ("zone", "fields", "options", "start", "end", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_dst_transition_forecast(
    zone: str,
    fields: dict[str, Any],
    options: dict[str, str],
    start: int,
    end: int,
    expected: list[tuple[int, str | None]],
) -> None:
    """``forecast`` over the same window returns the same fires as the minute-by-minute walk."""
    compiled = compile_triggers([schedule(timezone=zone, **fields, **options)], LA)
    days = (end - start) // 86400 + 1
    items = compiled.forecast(start - 60, 1000, 0, ZoneCache(), horizon_days=days)
    assert [(item.at, item.dst) for item in items if isinstance(item, Fire) and item.at <= end] == expected


def test_wall_parts_at_a_gap() -> None:
    """The transition minute after the New York gap knows the skipped span; its parts are 03:00 EDT."""
    parts = ZoneCache().parts(NY, utc(2025, 3, 9, 7, 0))
    assert (parts.year, parts.month, parts.day, parts.hour, parts.minute) == (2025, 3, 9, 3, 0)
    assert (parts.weekday, parts.rday, parts.fold) == (0, -23, False)
    assert parts.gap == (datetime(2025, 3, 9, 1, 59), datetime(2025, 3, 9, 3, 0))


def test_wall_parts_in_a_fold() -> None:
    """Both readings of 01:30 New York on 2025-11-02 have equal parts; only the second has ``fold``."""
    zones = ZoneCache()
    first, second = zones.parts(NY, utc(2025, 11, 2, 5, 30)), zones.parts(NY, utc(2025, 11, 2, 6, 30))
    assert (first.hour, first.minute, first.fold, first.gap) == (1, 30, False, None)
    assert (second.hour, second.minute, second.fold, second.gap) == (1, 30, True, None)


def test_wall_parts_apia_skip() -> None:
    """Apia's transition minute reads 2011-12-31 00:00 (Saturday, last day) after 2011-12-29 23:59."""
    parts = ZoneCache().parts(APIA, utc(2011, 12, 30, 10, 0))
    assert (parts.year, parts.month, parts.day, parts.weekday, parts.rday) == (2011, 12, 31, 6, -1)
    assert parts.gap == (datetime(2011, 12, 29, 23, 59), datetime(2011, 12, 31, 0, 0))


def test_zone_cache_reuses_parts_and_rejects_unknown_zones() -> None:
    """The cache computes a (zone, minute) once and raises ValueError for a zone it cannot load."""
    zones = ZoneCache()
    assert zones.parts("UTC", 60) is zones.parts("UTC", 60)
    with pytest.raises(ValueError, match="Mars/Base"):
        zones.parts("Mars/Base", 60)


def test_zone_cache_stays_bounded() -> None:
    """A long-lived cache forgets old minutes instead of growing without bound."""
    zones = ZoneCache(max_minutes=4)
    for minute in range(0, 60 * 10, 60):
        zones.parts("UTC", minute)
    assert len(zones._tables) <= 4
