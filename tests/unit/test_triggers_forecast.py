"""Forecasting: tables for sparse schedules, horizons and caps, and the property forecast ≡ evaluate minute by minute."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from cronwright.triggers import Fire, Suppressed, ZoneCache, compile_triggers
from tests.unit._triggers_support import LA, E, schedule, trig, utc, walk

DAY = 86400


def _forecast(triggers: list[Any], after: float, count: int, nth: int = 0, **kwargs: Any) -> list[Fire | Suppressed]:
    return compile_triggers(triggers, LA).forecast(after, count, nth, ZoneCache(), **kwargs)


def test_sparse_yearly_schedule() -> None:
    """A Christmas-morning schedule forecasts the next three Decembers 25th 09:00 Los Angeles."""
    items = _forecast([schedule(months=[12], days=[25], hours=[9], minutes=[0])], E, 3)
    la = ZoneInfo(LA)
    assert [datetime.fromtimestamp(i.at, la).strftime("%Y-%m-%d %H:%M %Z") for i in items] == [
        "2025-12-25 09:00 PST",
        "2026-12-25 09:00 PST",
    ]  # the default 400-day horizon holds only two
    items = _forecast([schedule(months=[12], days=[25], hours=[9], minutes=[0])], E, 3, horizon_days=800)
    assert [datetime.fromtimestamp(i.at, la).year for i in items] == [2025, 2026, 2027]


def test_forecast_is_strictly_after() -> None:
    """Minutes up to ``after`` are not forecast (they were ticked); an aligned ``after`` excludes its own minute."""
    assert [i.at for i in _forecast([schedule()], E, 2)] == [E + 60, E + 120]
    assert [i.at for i in _forecast([schedule(), trig("precision", seconds=[0, 30])], E + 10, 3)] == [
        E + 60,
        E + 90,
        E + 120,
    ]


def test_forecast_orders_a_minute_by_time() -> None:
    """Within a minute, items are ordered by (at, trigger index), not trigger by trigger."""
    triggers = [schedule(minutes=[30]), schedule(minutes=[30]), trig("precision", seconds=[0, 30])]
    items = _forecast(triggers, E, 4)
    assert [(i.trigger_index, i.at - E) for i in items] == [(0, 60), (1, 60), (0, 90), (1, 90)]


def test_interval_and_single() -> None:
    """Interval hits and a single shot are found arithmetically and merged in time order."""
    triggers = [trig("interval", start=E - 3600 + 5, duration=7200), trig("single", epoch=E + 600)]
    assert [(i.trigger_index, i.at - E) for i in _forecast(triggers, E, 3)] == [(1, 600), (0, 3605), (0, 10805)]


def test_horizon_and_impossible_schedules() -> None:
    """A schedule that cannot match within the horizon (a past year, 31 February) forecasts nothing."""
    assert _forecast([schedule(years=[2020])], E, 5) == []
    assert _forecast([schedule(months=[2], days=[31])], E, 5) == []
    assert _forecast([schedule(minutes=[0])], E, 5, horizon_days=0) == []
    assert _forecast([schedule()], E, 0) == []


def test_expired_range_stops_forecast_quickly() -> None:
    """Without suppressed entries, an every-minute schedule whose range has ended forecasts nothing."""
    assert _forecast([schedule(), trig("range", end=E - 3600)], E, 5, include_suppressed=False) == []


def test_blackout_is_skipped_and_suppressed_entries_are_capped() -> None:
    """An every-minute schedule behind a 3-day blackout: at most ``count`` suppressed items, then fires after it."""
    triggers = [schedule(), trig("blackout", start=E, end=E + 3 * DAY)]
    items = _forecast(triggers, E, 2)
    assert [(type(i).__name__, i.at - E) for i in items] == [
        ("Suppressed", 60),
        ("Suppressed", 120),
        ("Fire", 3 * DAY + 60),
        ("Fire", 3 * DAY + 120),
    ]
    assert [i.at - E for i in _forecast(triggers, E, 2, include_suppressed=False)] == [3 * DAY + 60, 3 * DAY + 120]


def test_ranges_reopen() -> None:
    """Two disjoint ranges: the forecast jumps from the end of the first to the start of the second."""
    triggers = [
        schedule(minutes=[0]),
        trig("range", start=utc(2026, 1, 1), end=utc(2026, 1, 1, 1)),
        trig("range", start=utc(2026, 3, 1)),
    ]
    got = [i.at for i in _forecast(triggers, E, 3, include_suppressed=False)]
    assert got == [utc(2026, 1, 1), utc(2026, 1, 1, 1), utc(2026, 3, 1)]


def test_nth_threads_the_counter() -> None:
    """With every 3 and a counter of 2, one eligible minute is held back, the next fires, then every third."""
    triggers = [schedule(minutes=[0]), trig("nth", every=3)]
    fires = _forecast(triggers, E, 3, nth=2, include_suppressed=False)
    assert [i.at for i in fires] == [utc(2025, 12, 19, 4), utc(2025, 12, 19, 7), utc(2025, 12, 19, 10)]
    items = _forecast(triggers, E, 10, nth=2)[:5]
    assert [(type(i).__name__, i.at) for i in items] == [
        ("Suppressed", utc(2025, 12, 19, 3)),
        ("Fire", utc(2025, 12, 19, 4)),
        ("Suppressed", utc(2025, 12, 19, 5)),
        ("Suppressed", utc(2025, 12, 19, 6)),
        ("Fire", utc(2025, 12, 19, 7)),
    ]


# --- the property -------------------------------------------------------------------------------

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "Pacific/Chatham",
    "Asia/Kathmandu",
]
ANCHORS = [
    utc(2025, 3, 9, 6),  # New York spring forward
    utc(2025, 11, 2, 5),  # New York fall back
    utc(2025, 3, 30),  # London spring forward
    utc(2025, 10, 4, 15),  # Lord Howe spring forward (30 min)
    utc(2025, 4, 5, 14),  # Lord Howe fall back (30 min)
    utc(2011, 12, 30, 9),  # Apia skips a day
    utc(2025, 4, 5, 13),  # Chatham fall back at 03:45 local
    utc(2025, 9, 27, 13),  # Chatham spring forward at 02:45 local
    utc(2024, 2, 28, 12),  # leap day, month end
    utc(2025, 12, 31, 12),  # year end
]


def small_sets(low: int, high: int) -> st.SearchStrategy[list[int]]:
    """Empty (any) or a few values in ``low..high``."""
    return st.one_of(st.just([]), st.lists(st.integers(low, high), min_size=1, max_size=4, unique=True))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], float, int, int]:
    """Random triggers (launchers and modifiers), ``after``, the window length in days and a start counter."""
    start = draw(st.sampled_from(ANCHORS)) - draw(st.integers(0, 36 * 60)) * 60
    after = start - 60 + draw(st.integers(0, 59))
    days = draw(st.integers(1, 2))
    around = st.integers(start - DAY, start + (days + 1) * DAY)
    triggers: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["schedule", "schedule", "schedule", "interval", "single"]))
        enabled = draw(st.sampled_from([True, True, True, False]))
        if kind == "schedule":
            trigger = {
                "type": "schedule",
                "minutes": draw(small_sets(0, 59).filter(lambda v: len(v) > 0) | small_sets(0, 59)),
                "hours": draw(small_sets(0, 23)),
                "days": draw(
                    st.one_of(st.just([]), st.lists(st.sampled_from([*range(1, 32), *range(-7, 0)]), max_size=3))
                ),
                "weekdays": draw(small_sets(0, 6)),
                "months": draw(small_sets(1, 12)),
                "timezone": draw(st.sampled_from(ZONES)),
            }
            trigger.update(draw(st.sampled_from([{}, {"dst_skipped": "run"}, {"dst_repeated": "once"},
                                                 {"dst_skipped": "run", "dst_repeated": "once"}])))  # fmt: skip
        elif kind == "interval":
            duration = draw(st.sampled_from([7, 30, 60, 90, 173, 3600, 5400, DAY]))
            trigger = {"type": "interval", "start": draw(around), "duration": duration}
        else:
            trigger = {"type": "single", "epoch": draw(around) // 60 * 60}
        triggers.append({**trigger, "enabled": enabled})
    for _ in range(draw(st.integers(0, 2))):
        bounds = sorted([draw(around), draw(around)])
        triggers.append(draw(st.sampled_from([
            trig("range", start=bounds[0], end=bounds[1]),
            trig("range", start=bounds[0]),
            trig("range", end=bounds[1]),
            trig("blackout", start=bounds[0], end=bounds[1]),
        ])))  # fmt: skip
    extras = [
        trig("nth", every=draw(st.integers(2, 4))),
        trig("precision", seconds=draw(st.lists(st.integers(0, 59), min_size=1, max_size=3))),
        trig("delay", duration=draw(st.integers(1, 600))),
        trig("quiet", invisible=True),
        trig("plugin", plugin_id="gate"),
    ]
    triggers.extend(draw(st.lists(st.sampled_from(extras), max_size=2, unique_by=lambda t: t["type"])))
    return triggers, after, days, draw(st.integers(0, 4))


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_forecast_equals_evaluating_every_minute(scenario: tuple[list[dict[str, Any]], float, int, int]) -> None:
    """forecast over a window returns exactly what evaluate produces minute by minute (fires and suppressed)."""
    triggers, after, days, nth = scenario
    first = int(after // 60) * 60 + 60
    last = int((after + days * DAY) // 60) * 60
    expected, _ = walk(triggers, first, last, nth)
    compiled = compile_triggers(triggers, LA)
    zones = ZoneCache()
    assert compiled.forecast(after, 10**6, nth, zones, horizon_days=days) == expected
    fires = [item for item in expected if isinstance(item, Fire)]
    assert compiled.forecast(after, 10**6, nth, zones, horizon_days=days, include_suppressed=False) == fires
    assert compiled.forecast(after, 3, nth, zones, horizon_days=days, include_suppressed=False) == fires[:3]


def test_forecast_uses_only_pure_inputs() -> None:
    """The same arguments give the same forecast (no clock is read)."""
    triggers = [schedule(minutes=[0, 30], timezone="Europe/London"), trig("nth", every=2)]
    first = _forecast(triggers, E, 10)
    assert first == _forecast(triggers, E, 10)
    assert all(item.at > E for item in first)
    assert datetime.fromtimestamp(first[0].at, UTC).minute in (0, 30)
