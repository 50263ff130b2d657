"""Admission rules (engine/jobs/admission.py) on the in-memory store: the state machine of a
ready job against an event's concurrency and queue limits, over every conductor's stored jobs,
without HTTP, processes or a database. Two owners (conductors) write through one store."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cronwright.engine.jobs import admission
from cronwright.store.base import LostJob
from cronwright.store.memory import MemoryStore

_ids = itertools.count()


def job(
    limit: int | None = 1, queue: int | None = None, *, priority: bool = False, started: float = 0
) -> dict[str, Any]:
    limits = []
    if limit is not None:
        limits.append({"type": "job", "enabled": True, "amount": limit})
    if queue is not None:
        limits.append({"type": "queue", "enabled": True, "amount": queue})
    return {
        "id": f"j{next(_ids):04d}",
        "event": "ev",
        "state": "ready",
        "limits": limits,
        "priority": priority,
        "started": started or float(next(_ids)),
    }


def as_owner(store: MemoryStore, owner: str) -> MemoryStore:
    store.owner = owner
    return store


def admit(store: MemoryStore, owner: str, new: dict[str, Any], limit: int) -> str:
    as_owner(store, owner)
    store.transact(lambda w: w.put_job(new))
    return store.transact(lambda w: admission.admit(w, new, limit))


def states(store: MemoryStore) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in store.unfinished_jobs():
        counts[record["state"]] = counts.get(record["state"], 0) + 1
    return counts


def test_limit_counts_every_conductors_jobs() -> None:
    """A job started by conductor A takes the slot for conductor B's job too."""
    store = MemoryStore()
    assert admit(store, "a", job(1, 2), 1) == "start"
    assert admit(store, "b", job(1, 2), 1) == "queued"
    assert admit(store, "b", job(1, 2), 1) == "queued"
    assert admit(store, "a", job(1, 2), 1) == "refused"
    assert states(store) == {"starting": 1, "queued": 2, "ready": 1}  # the refused one: the engine aborts it


def test_no_queue_limit_refuses() -> None:
    store = MemoryStore()
    assert admit(store, "a", job(2), 2) == "start"
    assert admit(store, "b", job(2), 2) == "start"
    assert admit(store, "a", job(2), 2) == "refused"


def test_queue_position_and_priority_turn() -> None:
    """Queued jobs leave in priority-then-age order, whichever conductor queued them."""
    store = MemoryStore()
    running = job(1, 5)
    admit(store, "a", running, 1)
    old = job(1, 5, started=10)
    urgent = job(1, 5, priority=True, started=20)
    admit(store, "a", old, 1)
    admit(store, "b", urgent, 1)
    assert (old["position"], urgent["position"]) == (1, 0)
    as_owner(store, "a")
    assert not store.transact(lambda w: admission.take_turn(w, old, 1))  # no free slot yet
    running["state"] = "complete"
    store.transact(lambda w: w.put_job(running))
    assert not store.transact(lambda w: admission.take_turn(w, old, 1))  # the priority job goes first
    as_owner(store, "b")
    assert store.transact(lambda w: admission.take_turn(w, urgent, 1))
    assert store.get_job(urgent["id"])["state"] == "ready"


def test_a_conductor_cannot_write_a_job_another_adopted() -> None:
    """Ownership fences job writes: after B adopts A's expired job, A's writes raise LostJob."""
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    store.job_lease_s = 15
    first = job()
    admit(store, "a", first, 1)
    now[0] += 16  # A's lease on it ran out (A stopped renewing)
    adopted = store.adopt_orphans("b", 15, include_own=False)
    assert [j["id"] for j in adopted] == [first["id"]]
    as_owner(store, "a")
    first["state"] = "active"
    with pytest.raises(LostJob):
        store.transact(lambda w: w.put_job(first))
    assert store.get_job(first["id"])["state"] == "starting"


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(1, 4),
    queue=st.integers(0, 4),
    plan=st.lists(st.tuples(st.sampled_from("abc"), st.booleans()), min_size=1, max_size=25),
)
def test_limits_never_exceeded(limit: int, queue: int, plan: list[tuple[str, bool]]) -> None:
    """Whatever mix of conductors admits and finishes jobs, at most ``limit`` run and at most
    ``queue`` wait; every refusal happened with both full."""
    store = MemoryStore()
    running: list[dict[str, Any]] = []
    for owner, finish_one in plan:
        if finish_one and running:
            done = running.pop(0)
            done["state"] = "complete"
            as_owner(store, done["owner"])
            store.transact(lambda w, d=done: w.put_job(d))
        new = job(limit, queue or None)
        new["owner"] = owner
        verdict = admit(store, owner, new, limit)
        counts = states(store)
        assert counts.get("starting", 0) <= limit and counts.get("queued", 0) <= queue
        if verdict == "start":
            running.append(new)
        elif verdict == "refused":
            assert counts.get("starting", 0) == limit and counts.get("queued", 0) == queue
