"""Benchmark of the pure trigger maths (``cronwright.triggers``); prints one JSON object.

Builds ``--events`` (default 10,000) events whose triggers mimic a real installation: schedule
triggers in 20 mixed IANA zones (hourly, daily, weekday-only, every-N-minutes, last-day-of-month,
some with ``dst_skipped``/``dst_repeated``), plus a share of interval, single, range, blackout,
precision, delay and nth triggers. Then measures, with ``time.process_time`` (CPU seconds):

- ``compile_ms``: ``compile_triggers`` for every event;
- ``evaluate_ms_median`` / ``_min`` / ``_max``: ``evaluate`` of one minute for every event, sharing
  one fresh ``ZoneCache`` per minute (so the per-zone datetime work is included), over
  ``--minutes`` minutes spread across a year (one of them the 2025-03-09 New York DST transition);
- ``fires_per_minute_median``: how many ``Fire`` objects a minute produced;
- ``evaluate_ms_all_fire``: the worst case, the same number of every-minute schedules (all fire,
  default zone mixed as above) evaluated for a minute in the New York fall-back fold;
- ``forecast_ms_median``: ``forecast(count=10)`` for 200 of the events.

Run: ``python bench/trigger_eval.py`` (``--events 20000``, ``--minutes 31``).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from typing import Any

from cronwright.triggers import CompiledTriggers, ZoneCache, compile_triggers

ZONES = [
    "UTC",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "America/Santiago",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Moscow",
    "Africa/Cairo",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Kathmandu",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Apia",
]
TARGET_EVALUATE_MS = 100.0
NY_SPRING_FORWARD_0300 = 1741503600  # 2025-03-09 03:00 EDT, the minute after the gap
NY_FALL_BACK_0130_EST = 1762065000  # 2025-11-02 01:30 EST, the second 01:30 of the day
START_2025 = 1735689600


def make_triggers(rng: random.Random) -> list[dict[str, Any]]:
    """One event's triggers, drawn from a mix that resembles real schedules."""
    zone = rng.choice(ZONES)
    shape = rng.random()
    schedule: dict[str, Any] = {"type": "schedule", "enabled": True, "timezone": zone}
    if shape < 0.35:
        schedule["minutes"] = [rng.randrange(60)]
    elif shape < 0.65:
        schedule.update(hours=[rng.randrange(24)], minutes=[rng.randrange(60)])
    elif shape < 0.80:
        schedule.update(weekdays=[1, 2, 3, 4, 5], hours=sorted(rng.sample(range(24), 3)), minutes=[0, 30])
    elif shape < 0.90:
        schedule["minutes"] = list(range(0, 60, rng.choice([5, 10, 15])))
    else:
        schedule.update(days=[-1], hours=[23], minutes=[55])
    if rng.random() < 0.2:
        schedule["dst_skipped"] = "run"
    if rng.random() < 0.2:
        schedule["dst_repeated"] = "once"
    triggers: list[dict[str, Any]] = [schedule, {"type": "manual", "enabled": True}]
    extra = rng.random()
    if extra < 0.05:
        triggers.append(
            {"type": "interval", "enabled": True, "start": START_2025 + rng.randrange(3600), "duration": 90}
        )
    elif extra < 0.10:
        triggers.append({"type": "single", "enabled": True, "epoch": START_2025 + rng.randrange(10**7) // 60 * 60})
    elif extra < 0.15:
        triggers.append({"type": "range", "enabled": True, "start": START_2025, "end": START_2025 + 200 * 86400})
    elif extra < 0.20:
        triggers.append({"type": "blackout", "enabled": True, "start": START_2025, "end": START_2025 + 30 * 86400})
    elif extra < 0.25:
        triggers.append({"type": "precision", "enabled": True, "seconds": [0, 30]})
    elif extra < 0.30:
        triggers.append({"type": "delay", "enabled": True, "duration": 45})
    elif extra < 0.35:
        triggers.append({"type": "nth", "enabled": True, "every": 3})
    if rng.random() < 0.1:
        triggers.append({"type": "catchup", "enabled": True})
    return triggers


def measure_minute(compiled: list[CompiledTriggers], minute: int) -> tuple[float, int]:
    """CPU milliseconds to evaluate ``minute`` for every event (fresh zone cache), and the fire count."""
    zones = ZoneCache()
    fires = 0
    started = time.process_time()
    for event in compiled:
        fires += len(event.evaluate(minute, 0, zones).fires)
    return (time.process_time() - started) * 1000, fires


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--minutes", type=int, default=15)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    events = [make_triggers(rng) for _ in range(args.events)]

    started = time.process_time()
    compiled = [compile_triggers(triggers, "America/Los_Angeles") for triggers in events]
    compile_ms = (time.process_time() - started) * 1000

    minutes = [NY_SPRING_FORWARD_0300] + [
        START_2025 + rng.randrange(365 * 1440) * 60 for _ in range(max(0, args.minutes - 1))
    ]
    measure_minute(compiled, minutes[-1] + 60)  # warm-up (imports, zone files)
    samples = [measure_minute(compiled, minute) for minute in minutes]
    times = [ms for ms, _ in samples]

    everyone = [
        compile_triggers([{"type": "schedule", "enabled": True, "timezone": ZONES[i % len(ZONES)]}], "UTC")
        for i in range(args.events)
    ]
    measure_minute(everyone, NY_FALL_BACK_0130_EST - 60)
    all_fire_ms, all_fires = measure_minute(everyone, NY_FALL_BACK_0130_EST)

    zones = ZoneCache()
    forecast_times = []
    for event in compiled[:200]:
        started = time.process_time()
        event.forecast(START_2025, 10, 0, zones)
        forecast_times.append((time.process_time() - started) * 1000)

    median = statistics.median(times)
    result = {
        "events": args.events,
        "zones": len(ZONES),
        "minutes_measured": len(minutes),
        "compile_ms": round(compile_ms, 1),
        "compile_us_per_event": round(compile_ms * 1000 / max(1, args.events), 2),
        "evaluate_ms_median": round(median, 2),
        "evaluate_ms_min": round(min(times), 2),
        "evaluate_ms_max": round(max(times), 2),
        "evaluate_ms_dst_transition_minute": round(times[0], 2),
        "fires_per_minute_median": statistics.median(fires for _, fires in samples),
        "evaluate_ms_all_fire": round(all_fire_ms, 2),
        "all_fire_fires": all_fires,
        "forecast_ms_median": round(statistics.median(forecast_times), 3),
        "forecast_ms_max": round(max(forecast_times), 3),
        "target_evaluate_ms": TARGET_EVALUATE_MS,
        "meets_target": median <= TARGET_EVALUATE_MS,
        "python": sys.version.split()[0],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
