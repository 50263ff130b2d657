"""Applying limits to live jobs: the runtime limits that fire (``limits.due_limits`` decides
which) and the daily counters behind ``day`` limits, kept in the event's state row and counted in
one transaction with the row locked (so every conductor counts into the same row)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cronwright.engine.jobs.limits import count_conditions, daily_count, limit_message, local_day
from cronwright.engine.jobs.rules import is_enabled

if TYPE_CHECKING:
    from cronwright.clock import Clock
    from cronwright.engine.catalog import Catalog
    from cronwright.engine.jobs.engine import JobEngine
    from cronwright.store.base import Store


def has_day_limit(job: dict[str, Any]) -> bool:
    return any(is_enabled(limit) and limit.get("type") == "day" for limit in job.get("limits") or [])


class DayCounters:
    def __init__(self, store: Store, catalog: Catalog, clock: Clock, zone: Callable[[], Any]) -> None:
        self._store = store
        self._catalog = catalog
        self._clock = clock
        self._zone = zone

    def count(self, job: dict[str, Any], conditions: list[str]) -> None:
        """Count conditions for ``day`` limits (only for jobs that carry one); raises ``StoreError``."""
        if not has_day_limit(job) or job.get("event") not in self._catalog["events"]:
            return
        day = local_day(self._clock.now(), self._zone())

        def count(w: Any) -> None:  # read and written in one transaction, the row locked
            w.set_event_state(job["event"], count_conditions(w.event_state_for_update(job["event"]), conditions, day))

        self._store.transact(count)

    def today(self, event_id: str, condition: str) -> int:
        """How often ``condition`` happened today (the zone's day) for the event."""
        return daily_count(self._store.get_event_state(event_id), condition, local_day(self._clock.now(), self._zone()))


class LimitWatch:
    """Fires the runtime limits of a running job: noted on the job, tags added, notifications
    sent (``users``, ``email``, ``web_hook``), and the job aborted when the limit says so."""

    def __init__(self, engine: JobEngine) -> None:
        self._engine = engine

    def fire(self, job: dict[str, Any], limit: dict[str, Any], now: float) -> None:
        engine = self._engine
        msg = limit_message(limit)
        limit.update(
            date=now, code=0, details="", msg=msg, elapsed_ms=round((now - (job.get("started") or now)) * 1000)
        )
        engine.launcher.note(job, msg)
        tags = [t for t in limit.get("tags") or [] if isinstance(t, str)]
        if tags:
            job["tags"] = list(dict.fromkeys([*(job.get("tags") or []), *tags]))
        engine.records.mark_dirty(job["id"])
        engine.observers.notify(job["id"], "update", {"limits": job.get("limits"), "tags": job.get("tags")})
        text = msg.rstrip(".") + (" (Job aborted)" if limit.get("abort") else "")
        if engine.actions is not None and (limit.get("users") or limit.get("email") or limit.get("web_hook")):
            engine.tasks.spawn(self._notify(job, limit, text), "limit notification")
        else:
            limit["description"] = "Successfully applied limits."
        if limit.get("abort"):
            engine.abort(job["id"], msg, retry_ok=True)

    async def _notify(self, job: dict[str, Any], limit: dict[str, Any], text: str) -> None:
        engine = self._engine
        assert engine.actions is not None
        outcome = await engine.actions.notify_limit(job, limit, text)
        limit["code"], limit["description"] = outcome.code, outcome.description
        if job["id"] in engine.active:
            engine.records.mark_dirty(job["id"])
