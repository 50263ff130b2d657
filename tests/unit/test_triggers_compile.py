"""Compiling odd trigger lists, the modifiers (range, blackout, delay, precision, quiet, plugin) and the DST option validation."""

from __future__ import annotations

from typing import Any

import pytest

from cronwright.engine.validation import validate_triggers
from cronwright.triggers import ZoneCache, compile_triggers
from tests.unit._triggers_support import LA, E, schedule, trig
from tests.unit._validation_data import api_message, world


def _fires(triggers: list[Any], minute: int = E, default_tz: str = LA) -> list[tuple[int, int, Any, Any]]:
    """(trigger_index, at − E, until − E or None, stype) of Tick-less evaluate(minute)."""
    result = compile_triggers(triggers, default_tz).evaluate(minute, 0, ZoneCache())
    return [(f.trigger_index, f.at - E, None if f.until is None else f.until - E, f.stype) for f in result.fires]


@pytest.mark.parametrize(
    "triggers",
    [
        None,
        "x",
        5,
        [5, None, "s", [], {}, {"type": 3, "enabled": True}, {"type": "bogus", "enabled": True}],
        [{"type": ["schedule"], "enabled": True}, {"type": {"a": 1}, "enabled": True}, {"type": "", "enabled": True}],
    ],
    ids=["none", "string", "number", "junk entries", "unhashable types"],
)
def test_compile_never_raises(triggers: Any) -> None:
    """compile_triggers accepts anything and yields a non-launching, silent result for junk."""
    compiled = compile_triggers(triggers, LA)
    assert (compiled.launching, compiled.catchup, compiled.startup) == (False, False, None)
    assert compiled.evaluate(E, 0, ZoneCache()).fires == []
    assert compiled.forecast(E, 5, 0, ZoneCache()) == []


@pytest.mark.parametrize(
    "trigger",
    [
        schedule(hours="18"),
        schedule(minutes=[29.5]),
        schedule(minutes=[True]),
        schedule(timezone="Mars/Base"),
        schedule(timezone=5),
        trig("interval", start="x", duration=30),
        trig("interval", start=E, duration=0),
        trig("interval", start=E, duration=1.5),
        trig("single", epoch="soon"),
    ],
    ids=["hours string", "fractional minute", "bool minute", "unknown zone", "zone number",
         "interval bad start", "interval zero duration", "interval fractional duration", "single bad epoch"],
)  # fmt: skip
def test_malformed_launchers_never_match_but_count_as_launching(trigger: dict[str, Any]) -> None:
    """A malformed enabled launching trigger keeps the event "launching" (§3 step 2) but never fires."""
    compiled = compile_triggers([trigger], LA)
    assert compiled.launching is True
    assert all(not compiled.evaluate(E + 60 * i, 0, ZoneCache()).fires for i in range(3))


def test_unknown_default_zone_never_matches() -> None:
    """A schedule without its own zone under an unusable default zone never fires (and never raises)."""
    assert _fires([schedule(minutes=[29])], default_tz="Nowhere/Land") == []
    assert _fires([schedule(hours=[2], minutes=[29], timezone="UTC")], default_tz="Nowhere/Land") == [
        (0, 0, None, None)
    ]


def test_lenient_values() -> None:
    """Integral floats match; an empty timezone means the default zone; mixed junk members are dropped."""
    assert _fires([schedule(minutes=[29.0], hours=[18.0])]) == [(0, 0, None, None)]
    assert _fires([schedule(minutes=[29], hours=[18], timezone="")]) == [(0, 0, None, None)]
    assert _fires([schedule(minutes=["29", 29])]) == [(0, 0, None, None)]
    assert _fires([schedule(minutes=None, hours=[])]) == [(0, 0, None, None)]


@pytest.mark.parametrize(
    ("enabled", "fires"),
    [(True, 1), (1, 1), ("yes", 1), ([], 1), (False, 0), (0, 0), ("", 0), (None, 0)],
)
def test_enabled_uses_js_truthiness(enabled: Any, fires: int) -> None:
    """``enabled`` is read with JS truthiness (an empty array is truthy, 0 and "" are not)."""
    assert len(_fires([{"type": "schedule", "enabled": enabled, "minutes": [29]}])) == fires


def test_interval_mid_minute_start() -> None:
    """CRONWRIGHT DECISION (§4): start = T+30, duration 20 hits T+30 and T+50, then T+70, T+90, T+110."""
    start = E + 30
    triggers = [trig("interval", start=start, duration=20)]
    assert _fires(triggers) == [(0, 30, 30, "interval"), (0, 50, 50, "interval")]
    assert _fires(triggers, E + 60) == [(0, 70, 70, "interval"), (0, 90, 90, "interval"), (0, 110, 110, "interval")]
    assert _fires(triggers, E - 60) == []


def test_interval_long_duration_lands_in_its_minute_only() -> None:
    """A daily interval started mid-minute fires once a day at that second."""
    triggers = [trig("interval", start=E - 86400 + 17, duration=86400)]
    assert _fires(triggers) == [(0, 17, 17, "interval")]
    assert _fires(triggers, E + 60) == []


def test_interval_hits_stay_with_their_trigger() -> None:
    """CHOICE (§3 step 5.2): interval hits are that trigger's offsets; a schedule in the same minute gets none."""
    triggers = [trig("interval", start=E + 20, duration=30), schedule(minutes=[29])]
    assert _fires(triggers) == [(0, 20, 20, "interval"), (0, 50, 50, "interval"), (1, 0, None, None)]


def test_precision_applies_to_schedule_but_not_interval() -> None:
    """With precision present (invalid beside interval, but tolerated) the interval keeps its own hits."""
    triggers = [trig("interval", start=E, duration=45), schedule(minutes=[29]), trig("precision", seconds=[10])]
    assert _fires(triggers) == [(0, 0, 0, "interval"), (0, 45, 45, "interval"), (1, 10, 10, None)]


def test_precision_wins_over_delay() -> None:
    """Documented: precision and delay together (rejected at save) → per-offset fires with until = at."""
    triggers = [schedule(minutes=[29]), trig("delay", duration=300), trig("precision", seconds=[5])]
    assert _fires(triggers) == [(0, 5, 5, None)]


def test_interval_ignores_delay() -> None:
    """Interval hits get until = at even when a (save-time invalid) delay is present."""
    assert _fires([trig("interval", start=E, duration=60), trig("delay", duration=30)]) == [(0, 0, 0, "interval")]


def test_delay_applies_to_single_and_fractional() -> None:
    """Delay sets until = minute + duration for every chosen trigger; fractional durations stay fractional."""
    assert _fires([trig("single", epoch=E), trig("delay", duration=1.5)]) == [(0, 0, 1.5, "single")]


def test_precision_seconds_sorted_and_deduplicated() -> None:
    """Precision offsets are sorted and deduplicated; out-of-range and junk members are dropped."""
    triggers = [schedule(minutes=[29]), trig("precision", seconds=[30, 0, 30, 75, "x", 15.0])]
    assert _fires(triggers) == [(0, 0, 0, None), (0, 15, 15, None), (0, 30, 30, None)]


def test_first_modifier_of_each_kind_wins() -> None:
    """Only the first enabled delay counts (a disabled one is skipped); later duplicates are ignored."""
    triggers = [
        schedule(minutes=[29]),
        {"type": "delay", "enabled": False, "duration": 5},
        trig("delay", duration=10),
        trig("delay", duration=20),
    ]
    assert _fires(triggers) == [(0, 0, 10, None)]


def test_plugin_gate_defers_without_offsets() -> None:
    """§3 step 5.7: with a scheduler-plugin trigger each chosen trigger gives one fire at the minute, carrying the gate."""
    gate = trig("plugin", plugin_id="schedplug", params={"mode": "x"})
    compiled = compile_triggers([schedule(minutes=[29]), trig("precision", seconds=[0, 30]), gate], LA)
    (fire,) = compiled.evaluate(E, 0, ZoneCache()).fires
    assert (fire.at, fire.until, fire.plugin_gate) == (E, None, gate)
    delayed = compile_triggers([schedule(minutes=[29]), trig("delay", duration=30), gate], LA)
    assert [f.until for f in delayed.evaluate(E, 0, ZoneCache()).fires] == [E + 30]


def test_startup_trigger_is_exposed() -> None:
    """The first enabled startup trigger is handed to the caller as is."""
    startup = trig("startup", params={"a": 1})
    assert compile_triggers([{"type": "startup", "enabled": False}, startup], LA).startup is startup


def test_data_and_tags() -> None:
    """Array data is passed through (the caller files it under items); tags keep only strings; odd data is None."""
    compiled = compile_triggers(
        [schedule(minutes=[29], data=[1, 2], tags=["a", 5]), schedule(minutes=[29], data="x")], LA
    )
    first, second = compiled.evaluate(E, 0, ZoneCache()).fires
    assert (first.data, first.tags, second.data, second.params) == ([1, 2], ["a"], None, {})


@pytest.mark.parametrize(
    ("ranges", "fires"),
    [
        ([{"start": E}], 1),
        ([{"start": E + 60}], 0),
        ([{"end": E}], 1),
        ([{"end": E - 60}], 0),
        ([{}], 0),
        ([{"start": "x", "end": None}], 0),
        ([{"start": E + 60}, {"end": E}], 1),
        ([{"start": E + 59, "end": E + 59}], 1),  # floored to E
    ],
    ids=["start only", "start later", "end only", "end before", "neither", "junk", "any of two", "floored"],
)
def test_ranges(ranges: list[dict[str, Any]], fires: int) -> None:
    """§3 step 5.4: inclusive, minute-floored ranges; with several, one containing the minute suffices."""
    triggers = [schedule(minutes=[29]), *(trig("range", **r) for r in ranges)]
    assert len(_fires(triggers)) == fires


def test_blackout_reports_its_span_and_ignores_malformed() -> None:
    """§3 step 5.5: a blackout suppresses with its UTC span; one missing an end is ignored."""
    compiled = compile_triggers(
        [schedule(minutes=[29]), trig("blackout", start=E - 600, end=E + 600), trig("blackout", start=E)], LA
    )
    result = compiled.evaluate(E, 0, ZoneCache())
    assert result.fires == []
    assert [(s.reason, s.detail) for s in result.suppressed] == [
        ("blackout", "inside blackout 2025-12-19 02:19 – 2025-12-19 02:39 UTC")
    ]
    assert len(_fires([schedule(minutes=[29]), trig("blackout", start=E)])) == 1


def test_range_suppression_comes_first_and_keeps_nth() -> None:
    """Range is checked before blackout, and a suppressed minute does not touch the nth counter."""
    compiled = compile_triggers(
        [schedule(minutes=[29]), trig("range", end=E - 60), trig("blackout", start=E, end=E), trig("nth", every=2)], LA
    )
    result = compiled.evaluate(E, 1, ZoneCache())
    assert [(s.reason, s.detail, s.at) for s in result.suppressed] == [("range", "outside every range", E)]
    assert result.nth == 1


def test_suppressed_entries_mirror_each_launch() -> None:
    """A held-back minute reports one Suppressed per launch it would have made (per precision offset)."""
    compiled = compile_triggers(
        [schedule(minutes=[29]), trig("precision", seconds=[0, 30]), trig("blackout", start=E, end=E)], LA
    )
    assert [s.at - E for s in compiled.evaluate(E, 0, ZoneCache()).suppressed] == [0, 30]


def test_nth_counts_eligible_minutes_not_triggers() -> None:
    """§3 step 5.6: two triggers matching in one minute decrement the counter once and both launch."""
    compiled = compile_triggers([schedule(minutes=[29]), schedule(minutes=[29]), trig("nth", every=2)], LA)
    result = compiled.evaluate(E, 0, ZoneCache())
    assert (len(result.fires), result.nth) == (2, 2)
    assert compiled.evaluate(E + 60, 2, ZoneCache()).nth == 2  # no match: counter untouched


def test_invalid_nth_is_ignored() -> None:
    """An nth trigger with every < 2 or junk is ignored: no counting, every match fires."""
    result = compile_triggers([schedule(minutes=[29]), trig("nth", every=1)], LA).evaluate(E, 5, ZoneCache())
    assert (len(result.fires), result.nth) == (1, 5)


def test_unaligned_minute_is_floored_and_idle_results_are_shared() -> None:
    """evaluate floors its minute argument; repeated no-match minutes return the same read-only result."""
    compiled = compile_triggers([schedule(minutes=[29])], LA)
    assert [f.at for f in compiled.evaluate(E + 59, 0, ZoneCache()).fires] == [E]
    zones = ZoneCache()
    idle = compiled.evaluate(E + 60, 4, zones)
    assert idle is compiled.evaluate(E + 120, 4, zones)
    assert (idle.fires, idle.suppressed, idle.nth) == ([], [], 4)
    assert compiled.evaluate(E + 180, 7, zones).nth == 7


# --- validation of the DST options (engine/validation/triggers.py) --------------------------------


@pytest.mark.parametrize(
    "options",
    [{}, {"dst_skipped": "skip"}, {"dst_skipped": "run"}, {"dst_repeated": "twice"}, {"dst_repeated": "once"},
     {"dst_skipped": "run", "dst_repeated": "once"}, {"dst_skipped": None}],
)  # fmt: skip
def test_dst_options_valid(options: dict[str, Any]) -> None:
    """Schedule triggers accept dst_skipped ∈ {skip, run} and dst_repeated ∈ {twice, once} (null = default)."""
    validate_triggers([schedule(minutes=[0], **options)], fields=[], lookup=world())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dst_skipped": "twice"}, "Malformed trigger entry #1: Invalid dst_skipped (use skip or run)"),
        ({"dst_skipped": True}, "Malformed trigger entry #1: Invalid dst_skipped (use skip or run)"),
        ({"dst_repeated": "run"}, "Malformed trigger entry #1: Invalid dst_repeated (use twice or once)"),
        ({"dst_repeated": ["once"]}, "Malformed trigger entry #1: Invalid dst_repeated (use twice or once)"),
    ],
)
def test_dst_options_invalid(options: dict[str, Any], message: str) -> None:
    """Other values of the DST options are rejected with a message naming the allowed ones."""
    assert api_message(lambda: validate_triggers([schedule(**options)], fields=[], lookup=world())) == message


def test_dst_option_error_names_the_entry() -> None:
    """The message carries the 1-based index of the offending trigger."""
    triggers = [trig("manual"), schedule(dst_repeated="thrice")]
    message = api_message(lambda: validate_triggers(triggers, fields=[], lookup=world()))
    assert message == "Malformed trigger entry #2: Invalid dst_repeated (use twice or once)"
