"""Admission (jobs.md §4, docs/ha.md): whether a ready job may start, must queue, or is refused.

Each decision is taken inside one store transaction that first locks the event
(``StoreWriter.lock_event``), counts the event's jobs as the database holds them — every
conductor's — and writes the job's new state before committing; so no number of conductors can
run more than the ``job`` limit or queue more than the ``queue`` limit. The functions here are
the rules; ``JobEngine`` calls them through ``Store.transact``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from cronwright.engine.jobs.rules import first_limit, limit_amount
from cronwright.store.base import StoreWriter

#: states that take one of the event's concurrency slots
RUNNING = ("active", "starting", "suspended")

Verdict = Literal["start", "queued", "refused"]


def queue_order(job: dict[str, Any]) -> tuple[int, float, str]:
    """Priority jobs first, then oldest first (ties by id: launch order)."""
    return (0 if job.get("priority") else 1, float(job.get("started") or 0), str(job["id"]))


def _others(w: StoreWriter, job: dict[str, Any]) -> list[dict[str, Any]]:
    w.lock_event(job["event"])
    return [j for j in w.jobs_of(job["event"], (*RUNNING, "queued")) if j["id"] != job["id"]]


def admit(w: StoreWriter, job: dict[str, Any], limit: float) -> Verdict:
    """Start ``job`` (state ``starting``, stored) when fewer than ``limit`` of its event's jobs
    run; otherwise queue it when the queue has room; otherwise refuse it (the caller aborts it)."""
    others = _others(w, job)
    running = sum(1 for j in others if j["state"] in RUNNING)
    if running < limit:
        job["state"] = "starting"
        w.put_job(job)
        return "start"
    return _enqueue(w, job, others)


def enqueue(w: StoreWriter, job: dict[str, Any]) -> Verdict:
    """Queue ``job`` when its event's queue has room (``queued``), else ``refused``."""
    return _enqueue(w, job, _others(w, job))


def _enqueue(w: StoreWriter, job: dict[str, Any], others: list[dict[str, Any]]) -> Verdict:
    queue = limit_amount(first_limit(job, "queue"))
    queued = [j for j in others if j["state"] == "queued"]
    if queue and queue > 0 and len(queued) < queue:
        job["state"] = "queued"
        job["position"] = 0 if job.get("priority") else len(queued) + 1
        w.put_job(job)
        return "queued"
    return "refused"


def take_turn(w: StoreWriter, job: dict[str, Any], limit: float | None) -> bool:
    """A queued ``job`` of an event with a ``job`` limit may leave the queue when a slot is free
    and it is among the first in the event's queue (every conductor's queued jobs, ``queue_order``)
    for the free slots; it is then stored as ``ready``. Without a limit the job waited for a server
    of its conductor, so only that conductor's order counts (the caller's)."""
    if limit:
        others = _others(w, job)
        queued = sorted([job, *(j for j in others if j["state"] == "queued")], key=queue_order)
        free = math.ceil(limit) - sum(1 for j in others if j["state"] in RUNNING)
        if free <= 0 or not any(j is job for j in queued[:free]):
            return False
    job["state"] = "ready"
    job.pop("position", None)
    w.put_job(job)
    return True
