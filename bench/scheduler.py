"""Scheduler benchmark; prints one JSON object.

1. ``tick_cpu_ms_*``: CPU time (``time.process_time``) of one scheduler tick — the real
   ``Scheduler.tick`` of a conductor opened in this process — over 10,000 enabled events whose
   schedule triggers use 20 time zones (median and max over several minutes; few events are due in
   those minutes, so the figure is the evaluation, not job launching).
2. ``lateness_*``: a real ``cronwright serve`` with a movable clock; 200 events due in the same
   minute (120 plain, 40 with a precision offset, 40 with a 2-second delay); for each job, the
   lateness of its start against its due second (``started - (until or now)``), p50/p99/max.

Run: ``python bench/scheduler.py`` (``--quick``: 2,000 events, 50 due).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ZONES = [
    "UTC",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Moscow",
    "Africa/Cairo",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Apia",
    "America/St_Johns",
]
BASE = 1956528000  # 2032-01-01 00:00 UTC


def _event(i: int) -> dict[str, Any]:
    return {
        "title": f"bench {i}",
        "enabled": True,
        "category": "general",
        "targets": ["main"],
        "algo": "random",
        "plugin": "shellplug",
        "params": {"script": "#!/bin/sh\ntrue\n"},
        "triggers": [
            {
                "type": "schedule",
                "enabled": True,
                "hours": [i % 24],
                "minutes": [(i * 7) % 60],
                "weekdays": [1, 2, 3, 4, 5] if i % 3 else [],
                "timezone": ZONES[i % len(ZONES)],
            }
        ],
    }


async def tick_cpu(events: int) -> dict[str, Any]:
    from cronwright.config import load_settings
    from cronwright.engine.activity import Origin
    from cronwright.engine.conductor import Conductor
    from cronwright.engine.identity import Identity

    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings({"data_dir": data_dir, "max_jobs_per_min": 0}, environ={"CRONWRIGHT_ADMIN_KEY": "x"})
        conductor = Conductor.open(settings)
        who = Identity(kind="user", username="admin", title="admin", privileges={"admin": True})
        started = time.perf_counter()
        for i in range(events):
            conductor.events.create_event(_event(i), lambda: who, Origin.internal())
        create_s = time.perf_counter() - started
        await conductor.jobs.start()
        scheduler = conductor.scheduler
        first = BASE + 86400 + 17 * 3600  # a weekday afternoon: a handful of events due per minute
        await scheduler.tick(first)  # compiles every event's triggers (and records the day it skipped)
        samples, quiet = [], []
        for k in range(1, 12):
            minute = first + k * 60
            launched = len(conductor.jobs.active)
            before = time.process_time()
            await scheduler.tick(minute)
            spent = (time.process_time() - before) * 1000
            samples.append((spent, len(conductor.jobs.active) - launched))
            if len(conductor.jobs.active) == launched:
                quiet.append(spent)  # a minute with nothing due: the evaluation alone
            await asyncio.sleep(0.5)  # let launched jobs finish
        await conductor.jobs.stop()
        conductor.close()
    worst = max(samples)
    return {
        "events": events,
        "create_s": round(create_s, 1),
        "tick_cpu_ms_median": round(statistics.median(spent for spent, _ in samples), 1),
        "tick_cpu_ms_evaluation_only_max": round(max(quiet), 1) if quiet else None,
        "tick_cpu_ms_max": round(worst[0], 1),
        "launches_in_max_tick": worst[1],
        "note": "a tick's process CPU includes starting the jobs it launches (their spawns run during the tick)",
    }


def lateness(due_events: int) -> dict[str, Any]:
    from tests.support.server import Server

    minute = BASE + 7 * 86400
    with tempfile.TemporaryDirectory() as data_dir:
        env = {"CRONWRIGHT_TEST_API": "1", "CRONWRIGHT_CLOCK_START": str(minute - 600), "CRONWRIGHT_TZ": "UTC"}
        server = Server(Path(data_dir), env=env).start()
        try:
            api = server.client()
            ids = []
            for i in range(due_events):
                triggers: list[dict[str, Any]] = [
                    {"type": "schedule", "enabled": True, "minutes": [0], "timezone": "UTC"}
                ]
                if i % 5 == 3:
                    triggers.append({"type": "precision", "enabled": True, "seconds": [5]})
                elif i % 5 == 4:
                    triggers.append({"type": "delay", "enabled": True, "duration": 2})
                body = {**_event(i), "triggers": triggers}
                ids.append(api.ok("create_event", body)["event"]["id"])
            api.ok("test_set_clock", {"now": minute - 2})
            deadline = time.time() + 60
            jobs: list[dict[str, Any]] = []
            while time.time() < deadline:
                jobs = [j for e in ids for j in api.ok("get_jobs", {"event": e})["rows"]]
                if len(jobs) >= due_events:
                    break
                time.sleep(0.5)
        finally:
            server.stop()
    late = sorted(j["started"] - (j.get("until") or j["now"]) for j in jobs)
    if not late:
        return {"due": due_events, "launched": 0}
    return {
        "due": due_events,
        "launched": len(jobs),
        "lateness_s_p50": round(late[len(late) // 2], 3),
        "lateness_s_p99": round(late[min(len(late) - 1, int(len(late) * 0.99))], 3),
        "lateness_s_max": round(late[-1], 3),
        "early": sum(1 for x in late if x < -0.01),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    events, due = (2000, 50) if args.quick else (10000, 200)
    result = {"benchmark": "scheduler", "python": sys.version.split()[0], "cpu_count": os.cpu_count()}
    result.update(asyncio.run(tick_cpu(events)))
    result.update(lateness(due))
    result["targets"] = {"tick_cpu_ms_evaluation_max": 100, "lateness_s_p99_max": 1.0}
    if not args.quick:
        result["meets_targets"] = {
            "tick_cpu": (result["tick_cpu_ms_evaluation_only_max"] or result["tick_cpu_ms_median"]) <= 100,
            "lateness": result.get("lateness_s_p99", 99) <= 1.0 and result.get("launched") == due,
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
