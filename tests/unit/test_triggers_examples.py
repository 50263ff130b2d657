"""The worked examples of triggers.md §10 and conformance cases H 119–145, as pure calls.

"Tick(E)" is modelled by ``tick`` (tests/unit/_triggers_support.py): the caller's loop of §3 steps
4–6 around ``CompiledTriggers.evaluate``. Cases about the event/category/plugin switches and the
global scheduler switch (§10 row 20, H 141, H 144) are decided by the scheduler loop before the
maths is called; here only their trigger-level part (H 142: nothing launching) is pinned.
"""

from __future__ import annotations

from typing import Any

import pytest

from cronwright.triggers import Fire, ZoneCache, compile_triggers
from tests.unit._triggers_support import LA, E, schedule, tick, trig


def _summary(fires: list[Fire]) -> list[tuple[int, int | float | None, str | None]]:
    """(now − E, until − E or None, stype) per fire, in launch order."""
    return [(f.at - E, None if f.until is None else f.until - E, f.stype) for f in fires]


TICK_E = [
    ("§10.1 / H119 minutes:[29]", [schedule(minutes=[29])], [(0, None, None)]),
    ("§10.2 / H120 minutes:[28]", [schedule(minutes=[28])], []),
    ("§10.3 / H120 minutes:[]", [schedule(minutes=[])], [(0, None, None)]),
    ("§10.4 / H121 weekday 4", [schedule(weekdays=[4], hours=[18], minutes=[29])], [(0, None, None)]),
    ("§10.4 / H121 weekday 3", [schedule(weekdays=[3], hours=[18], minutes=[29])], []),
    ("H121 hours:[18]", [schedule(hours=[18], minutes=[29])], [(0, None, None)]),
    ("§10.5 / H122 every list", [schedule(years=[2025], months=[12], days=[18], weekdays=[4], hours=[18], minutes=[29])], [(0, None, None)]),
    ("§10.6 / H123 New York 21h", [schedule(hours=[21], minutes=[29], timezone="America/New_York")], [(0, None, None)]),
    ("§10.6 / H123 New York 18h", [schedule(hours=[18], minutes=[29], timezone="America/New_York")], []),
    ("§10.7 / H127 interval E-90/90", [trig("interval", start=E - 90, duration=90)], [(0, 0, "interval")]),
    ("§10.8 / H128 interval E/30", [trig("interval", start=E, duration=30)], [(0, 0, "interval"), (30, 30, "interval")]),
    ("H129 interval in the future", [trig("interval", start=E + 60, duration=30)], []),
    ("§10.9 / H130 single E", [trig("single", epoch=E)], [(0, None, "single")]),
    ("H130 single E-60 without catch-up", [trig("single", epoch=E - 60)], []),
    ("§10.13 / H135 range inclusive end", [schedule(minutes=[29]), trig("range", start=E - 60, end=E)], [(0, None, None)]),
    ("§10.14 / H135 range later", [schedule(minutes=[29]), trig("range", start=E + 1800, end=E + 3600)], []),
    ("H135 range end before", [schedule(minutes=[29]), trig("range", end=E - 60)], []),
    ("§10.15 / H136 blackout now", [schedule(minutes=[29]), trig("blackout", start=E - 60, end=E)], []),
    ("§10.15 / H136 blackout later", [schedule(minutes=[29]), trig("blackout", start=E + 1800, end=E + 3600)], [(0, None, None)]),
    ("§10.16 / H137 delay 30", [schedule(minutes=[29]), trig("delay", duration=30)], [(0, 30, None)]),
    ("§10.17 / H138 precision", [schedule(minutes=[29]), trig("precision", seconds=[0, 15, 30, 45])], [(0, 0, None), (15, 15, None), (30, 30, None), (45, 45, None)]),
    ("§10.19 / H140 two schedules", [schedule(minutes=[29]), schedule(minutes=[29])], [(0, None, None), (0, None, None)]),
    ("H142 only a disabled schedule", [{"type": "schedule", "enabled": False, "minutes": [29]}], []),
]  # fmt: skip


@pytest.mark.parametrize(("triggers", "expected"), [(t, e) for _, t, e in TICK_E], ids=[n for n, _, _ in TICK_E])
def test_tick_at_e(triggers: list[Any], expected: list[tuple[int, Any, Any]]) -> None:
    """Tick(E) launches exactly the listed jobs (now, until, stype) for each worked example."""
    fires, _ = tick(triggers, E)
    assert _summary(fires) == expected


def test_plain_schedule_fire_fields() -> None:
    """H119: a schedule fire has now == E, no stype, no until, and the key "index:at"."""
    (fire,), _ = tick([{"type": "manual", "enabled": True}, schedule(minutes=[29])], E)
    assert (fire.trigger_index, fire.minute, fire.at, fire.stype, fire.until) == (1, E, E, None, None)
    assert fire.key == f"1:{E}"
    assert (fire.invisible, fire.ephemeral, fire.plugin_gate, fire.dst, fire.data) == (False, False, None, None, None)


def test_two_matching_schedules_have_distinct_keys() -> None:
    """H140: two matching triggers give two fires whose keys differ by trigger index."""
    fires, _ = tick([schedule(minutes=[29]), schedule(minutes=[29])], E)
    assert [f.key for f in fires] == [f"0:{E}", f"1:{E}"]


@pytest.mark.parametrize(
    ("triggers", "cursor", "expected_now"),
    [
        ([schedule(minutes=[27, 28, 29])], E - 1800, [E - 120, E - 60, E]),  # §10.10 / H131
        ([trig("single", epoch=E - 120)], E - 180, [E - 120]),  # §10.11 / H132
        ([trig("interval", start=E - 270, duration=90)], E - 240, [E - 180, E - 90, E]),  # §10.12 / H133
    ],
    ids=["H131 schedule", "H132 single", "H133 interval"],
)
def test_catch_up_replays_missed_minutes(triggers: list[Any], cursor: int, expected_now: list[int]) -> None:
    """§10.10–12 / H131–133: with catch-up, minutes cursor+60 … E are replayed and the cursor ends at E."""
    fires, state = tick([*triggers, trig("catchup")], E, {"cursor": cursor})
    assert [f.at for f in fires] == expected_now
    assert state["cursor"] == E


def test_catch_up_without_cursor_evaluates_only_now() -> None:
    """H134: catch-up with no stored cursor evaluates only minute E and then stores cursor E."""
    fires, state = tick([schedule(minutes=[27, 28, 29]), trig("catchup")], E, {})
    assert [f.at for f in fires] == [E]
    assert state == {"cursor": E}


def test_catchup_flag_and_launching() -> None:
    """§3 step 2: ``launching`` needs an enabled schedule/single/interval; ``catchup`` reflects an enabled catchup."""
    assert compile_triggers([trig("catchup"), trig("manual")], LA).launching is False
    compiled = compile_triggers([trig("catchup"), schedule()], LA)
    assert (compiled.launching, compiled.catchup) == (True, True)
    assert compile_triggers([{"type": "catchup", "enabled": False}, schedule()], LA).catchup is False


def test_every_nth_sequence() -> None:
    """§10.18 / H139: nth every 3 from no state: E runs (3), E+60 skip (2), E+120 skip (1), E+180 runs (3)."""
    triggers = [schedule(minutes=[]), trig("nth", every=3)]
    state: dict[str, Any] = {}
    seen = []
    for epoch in (E, E + 60, E + 120, E + 180):
        fires, state = tick(triggers, epoch, state)
        seen.append((len(fires), state["nth"]))
    assert seen == [(1, 3), (0, 2), (0, 1), (1, 3)]


def test_nth_suppression_is_reported() -> None:
    """A minute held back by nth yields a Suppressed per launch with the countdown in its detail."""
    compiled = compile_triggers([schedule(), trig("nth", every=3)], LA)
    result = compiled.evaluate(E, 3, ZoneCache())
    assert result.fires == []
    assert [(s.trigger_index, s.at, s.reason, s.detail) for s in result.suppressed] == [
        (0, E, "nth", "every 3rd eligible minute (2 to go)")
    ]
    assert result.nth == 2


def test_trigger_params_tags_and_data() -> None:
    """H143: the fire carries the trigger's params, tags and data for the caller to merge."""
    triggers = [schedule(minutes=[29], params={"p": "t"}, tags=["flag"], data={"k": 1})]
    (fire,), _ = tick(triggers, E)
    assert (fire.params, fire.tags, fire.data) == ({"p": "t"}, ["flag"], {"k": 1})


def test_quiet_flags() -> None:
    """H145: an enabled quiet trigger marks every fire invisible/ephemeral as configured."""
    (fire,), _ = tick([schedule(minutes=[29]), trig("quiet", invisible=True, ephemeral=True)], E)
    assert (fire.invisible, fire.ephemeral) == (True, True)
    (fire,), _ = tick([schedule(minutes=[29]), trig("quiet", invisible=True)], E)
    assert (fire.invisible, fire.ephemeral) == (True, False)


@pytest.mark.parametrize(
    ("epoch", "count"),
    [(1709250900, 1), (1709164500, 0)],
    ids=["2024-02-29 last day", "2024-02-28 not last"],
)
def test_last_day_of_month(epoch: int, count: int) -> None:
    """§10 zone case / H124: days:[-1] matches 2024-02-29 23:55 UTC but not 2024-02-28."""
    fires, _ = tick([schedule(days=[-1], hours=[23], minutes=[55], timezone="UTC")], epoch)
    assert len(fires) == count


def test_new_york_spring_forward_day_has_no_launch() -> None:
    """§10 zone case / H126: 02:30 New York on 2025-03-09 does not exist, so no tick that day launches."""
    triggers = [schedule(hours=[2], minutes=[30], timezone="America/New_York")]
    day_start = 1741496400  # 2025-03-09 00:00 EST
    launched = [epoch for epoch in range(day_start, day_start + 23 * 3600, 60) if tick(triggers, epoch)[0]]
    assert launched == []
    assert tick(triggers, 1741501800)[0] == [] and tick(triggers, 1741505400)[0] == []


def test_new_york_fall_back_launches_twice() -> None:
    """§10 zone case / H125: 01:30 New York on 2025-11-02 launches at 01:30 EDT and again at 01:30 EST."""
    triggers = [schedule(hours=[1], minutes=[30], timezone="America/New_York")]
    assert [f.at for f in tick(triggers, 1762061400)[0]] == [1762061400]
    assert [f.at for f in tick(triggers, 1762065000)[0]] == [1762065000]
