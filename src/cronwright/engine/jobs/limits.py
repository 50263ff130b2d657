"""Runtime limits (`time`, `log`, `mem`, `cpu`) and the daily counters behind `day` limits
(limits-actions.md §2.2). Pure decisions; the engine fires what they return.

- `time`: fires when `now − started > duration` (started = when the job became active).
- `log`: fires when the captured output exceeds `amount` bytes.
- `mem` / `cpu`: when the process tree's current value exceeds `amount` a sustain timer starts
  (`when` on the limit); the limit fires when it stayed above for more than `duration` seconds
  (no `duration`: 0); dropping back under resets the timer.
Every limit fires at most once (`date` is set); all limits of a type apply, but at most one
`time` or `log` limit fires per pass.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cronwright.engine.jobs.rules import is_enabled, limit_amount
from cronwright.textfmt import human_bytes, human_duration

RUNTIME_TYPES = ("time", "log", "mem", "cpu")
#: conditions counted per day for `day` limits
DAY_CONDITIONS = ("start", "complete", "success", "error", "user", "warning", "critical", "abort")


def limit_message(limit: dict[str, Any]) -> str:
    kind = limit.get("type")
    amount = limit_amount(limit) or 0
    duration = limit_amount({"amount": limit.get("duration")}) or 0
    if kind == "time":
        return f"Job elapsed time has exceeded maximum limit of {human_duration(duration)}."
    if kind == "log":
        return f"Job output size has exceeded maximum limit of {human_bytes(amount)}."
    if kind == "mem":
        return f"Job memory usage has exceeded maximum limit of {human_bytes(amount)} for {human_duration(duration)}."
    return f"Job CPU usage has exceeded maximum limit of {amount:g}% for {human_duration(duration)}."


def due_limits(job: dict[str, Any], now: float) -> list[dict[str, Any]]:
    """The runtime limits that fire now (updates the mem/cpu sustain timers on the entries)."""
    fired: list[dict[str, Any]] = []
    time_or_log = False
    started = job.get("started") or now
    for limit in job.get("limits") or []:
        kind = limit.get("type") if isinstance(limit, dict) else None
        if kind not in RUNTIME_TYPES or not is_enabled(limit) or limit.get("date"):
            continue
        if kind == "time":
            duration = limit_amount({"amount": limit.get("duration")})
            if duration and now - started > duration and not time_or_log:
                fired.append(limit)
                time_or_log = True
        elif kind == "log":
            amount = limit_amount(limit)
            if amount and (job.get("log_file_size") or 0) > amount and not time_or_log:
                fired.append(limit)
                time_or_log = True
        else:
            amount = limit_amount(limit)
            current = (job.get(kind) or {}).get("current")
            if not amount or not isinstance(current, (int, float)):
                continue
            if current > amount:
                since = limit.setdefault("when", now)
                duration = limit_amount({"amount": limit.get("duration")}) or 0
                if duration == 0 or now - since > duration:
                    fired.append(limit)
            else:
                limit.pop("when", None)
    return fired


def local_day(now: float, zone: Any) -> str:
    return datetime.fromtimestamp(now, zone).strftime("%Y-%m-%d")


def daily_count(state: dict[str, Any], condition: str, day: str) -> int:
    """Today's count of a condition in an event's state (0 after midnight)."""
    if state.get("stats_day") != day:
        return 0
    return int(state.get(f"job_{condition}") or 0)


def count_conditions(state: dict[str, Any], conditions: list[str], day: str) -> dict[str, Any]:
    """The event state with today's counters of the word conditions increased."""
    updated = dict(state)
    if updated.get("stats_day") != day:
        for key in [k for k in updated if k.startswith("job_")]:
            del updated[key]
        updated["stats_day"] = day
    for condition in conditions:
        if condition in DAY_CONDITIONS:
            updated[f"job_{condition}"] = int(updated.get(f"job_{condition}") or 0) + 1
    return updated
