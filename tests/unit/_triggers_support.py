"""Helpers for the trigger-maths tests: a pure model of the minute tick loop (triggers.md §3 steps 4–6)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cronwright.triggers import Fire, MinuteResult, Suppressed, ZoneCache, compile_triggers

E = 1766111340  # 2025-12-18 18:29 PST (Thursday) = 2025-12-19 02:29 UTC
LA = "America/Los_Angeles"


def schedule(**fields: Any) -> dict[str, Any]:
    """An enabled schedule trigger with the given lists/options."""
    return {"type": "schedule", "enabled": True, **fields}


def trig(kind: str, **fields: Any) -> dict[str, Any]:
    """An enabled trigger of ``kind``."""
    return {"type": kind, "enabled": True, **fields}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    """Epoch seconds of a UTC wall time."""
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp())


def tick(triggers: list[Any], epoch: int, state: dict[str, Any] | None = None) -> tuple[list[Fire], dict[str, Any]]:
    """Tick(epoch) for one enabled event: the fires and the event state afterwards (§3 steps 2–6)."""
    state = dict(state or {})
    compiled = compile_triggers(triggers, LA)
    if not compiled.launching:
        return [], state
    now = epoch // 60 * 60
    cursor = state["cursor"] if compiled.catchup and state.get("cursor") else now - 60
    counter = state.get("nth") or 0
    zones = ZoneCache()
    fires: list[Fire] = []
    while cursor < now:
        cursor += 60
        result = compiled.evaluate(cursor, counter, zones)
        counter = result.nth
        fires.extend(result.fires)
    if compiled.catchup:
        state["cursor"] = cursor
    if counter != (state.get("nth") or 0):
        state["nth"] = counter
    return fires, state


def minute_fires(triggers: list[Any], start: int, end: int, default_tz: str = LA, nth: int = 0) -> list[int]:
    """The ``at`` of every fire from evaluating each minute in ``[start, end)`` in order."""
    compiled = compile_triggers(triggers, default_tz)
    zones = ZoneCache()
    out: list[int] = []
    for minute in range(start, end, 60):
        result: MinuteResult = compiled.evaluate(minute, nth, zones)
        nth = result.nth
        out.extend(fire.at for fire in result.fires)
    return out


def walk(
    triggers: list[Any], start: int, end: int, nth: int = 0, default_tz: str = LA
) -> tuple[list[Fire | Suppressed], int]:
    """Every item ``evaluate`` produces over ``[start, end]`` minute by minute, ordered as ``forecast`` orders them."""
    compiled = compile_triggers(triggers, default_tz)
    zones = ZoneCache()
    items: list[Fire | Suppressed] = []
    for minute in range(start, end + 1, 60):
        result = compiled.evaluate(minute, nth, zones)
        nth = result.nth
        batch: list[Fire | Suppressed] = [*result.fires, *result.suppressed]
        items.extend(sorted(batch, key=lambda item: (item.at, item.trigger_index)))
    return items, nth
