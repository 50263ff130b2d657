"""The job engine's state machine on the in-memory store with a fake worker: no HTTP, no database,
no processes. One scenario per row: a job goes ready → (queued | start_delay | retry_delay) →
starting → (suspended) → active → complete, under the `job`, `queue`, `retry`, `day` and `time`
limits, aborts, resumes, adoption of an orphan and the loss of a job to another conductor; each
scenario asserts the records the store holds at each step."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cronwright.clock import SystemClock
from cronwright.config import Settings
from cronwright.engine.catalog import Catalog
from cronwright.engine.jobs.engine import JobEngine
from cronwright.engine.jobs.launch import LaunchError
from cronwright.engine.jobs.rules import event_request
from cronwright.engine.servers import ServerRegistry
from cronwright.engine.setup import ensure_installed
from cronwright.runner.base import RunResult
from cronwright.store.memory import MemoryStore

QUEUE_FULL = "Maximum number of concurrent jobs for event has been reached, and the queue is maxed out."


class FakeRun:
    """A job's run that ends when the test says so (or when aborted)."""

    def __init__(self) -> None:
        self.result: asyncio.Future[RunResult] = asyncio.get_running_loop().create_future()

    async def wait(self) -> RunResult:
        return await self.result

    def abort(self, reason: str) -> None:
        if not self.result.done():
            self.result.set_result(RunResult(code="abort", description=reason))

    def finish(self, code: int = 0, description: str = "") -> None:
        self.result.set_result(RunResult(code=code, description=description))


class FakeWorker:
    def __init__(self) -> None:
        self.runs: dict[str, FakeRun] = {}

    def prepare(self, job: dict[str, Any], plugin: dict[str, Any] | None) -> FakeRun:
        run = self.runs[job["id"]] = FakeRun()
        return run

    def legacy_log(self, job: dict[str, Any]) -> None:
        return None

    def cleanup(self, job_id: str) -> None:
        pass


async def until(what: str, check: Any, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def stored_state(store: MemoryStore, job_id: str) -> str | None:
    record = store.get_job(job_id)
    return None if record is None else record["state"]


EVENT: dict[str, Any] = {
    "id": "ev",
    "title": "Limited",
    "enabled": True,
    "category": "general",
    "plugin": "shellplug",
    "targets": ["main"],
    "algo": "random",
    "params": {"script": "#!/bin/sh\ntrue"},
    "triggers": [{"type": "manual", "enabled": True}],
    "limits": [],
    "revision": 1,
}


class StoreClock:
    """The store's wall clock (job leases), movable by the test."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class SuspendingActions:
    """Start actions that suspend every job (as a ``suspend`` action does)."""

    def collect(self, job: dict[str, Any], conditions: list[str]) -> list[Any]:
        return [("suspend", {})] if conditions == ["start"] else []

    async def run(self, job: dict[str, Any], conditions: list[str]) -> None:
        if conditions == ["start"]:
            job["suspended"] = True


@dataclass
class Harness:
    store: MemoryStore
    store_clock: StoreClock
    engine: JobEngine
    worker: FakeWorker

    def launch(self, limits: list[dict[str, Any]] | None = None, **request: Any) -> str:
        event = {**EVENT, "limits": limits or []}  # the request carries the limits (run_event's overrides)
        return self.engine.launch({**event_request(event), "source": "user", **request})[0]["id"]

    def record(self, job_id: str) -> dict[str, Any]:
        record = self.store.get_job(job_id)
        assert record is not None, job_id
        return record

    async def final(self, job_id: str) -> dict[str, Any]:
        await until(f"job {job_id} complete", lambda: stored_state(self.store, job_id) == "complete")
        return self.record(job_id)


def harness(tmp_path: Path, **settings: Any) -> Harness:
    store_clock = StoreClock()
    store = MemoryStore(clock=store_clock)
    ensure_installed(store, time.time(), {"CRONWRIGHT_ADMIN_KEY": "k" * 32, "CRONWRIGHT_ADMIN_PASSWORD": "p" * 16})
    store.owner = "local"
    catalog = Catalog(store)
    clock = SystemClock()
    servers = ServerRegistry(catalog, clock)
    servers.register_local()
    engine = JobEngine(catalog, store, clock, Settings(data_dir=tmp_path, **settings), servers)
    worker = FakeWorker()
    engine.worker = worker  # type: ignore[assignment]
    return Harness(store, store_clock, engine, worker)


LIMITED = [{"type": "job", "enabled": True, "amount": 1}, {"type": "queue", "enabled": True, "amount": 1}]


async def limits_queue_and_abort(h: Harness) -> None:
    first, second, third = (h.launch(LIMITED) for _ in range(3))
    await until("the first running", lambda: first in h.worker.runs)
    assert (await h.final(third))["description"] == QUEUE_FULL
    assert h.record(third)["code"] == "abort"
    assert stored_state(h.store, first) == "active"
    assert stored_state(h.store, second) == "queued"
    assert second not in h.worker.runs  # never started while the slot was taken

    h.worker.runs[first].finish(0)
    await until("the queued job's turn", lambda: second in h.worker.runs)
    done = h.record(first)
    assert done["state"] == "complete" and done["code"] == 0 and done["final"]
    assert stored_state(h.store, second) == "active"

    assert h.engine.abort(second, "Manually aborted by test")
    aborted = await h.final(second)
    assert aborted["code"] == "abort" and aborted["description"] == "Manually aborted by test"


async def retry_after_failure(h: Harness) -> None:
    first = h.launch([{"type": "retry", "enabled": True, "amount": 1}])
    await until("the first attempt running", lambda: first in h.worker.runs)
    h.worker.runs[first].finish(1, "boom")
    failed = await h.final(first)
    assert failed["code"] == 1 and failed["retried"]
    retry = failed["jobs"][0]["id"]
    assert failed["jobs"] == [{"id": retry, "reason": "retry"}]
    await until("the retry running", lambda: retry in h.worker.runs)
    assert h.record(retry)["retry_count"] == 1 and h.record(retry)["retry_prev"] == first
    h.worker.runs[retry].finish(1, "boom again")
    last = await h.final(retry)
    assert last["code"] == 1 and not last.get("retried")  # one retry only


async def retry_delay_then_skip(h: Harness) -> None:
    first = h.launch([{"type": "retry", "enabled": True, "amount": 1, "duration": 3600}])
    await until("the first attempt running", lambda: first in h.worker.runs)
    h.worker.runs[first].finish(1, "boom")
    retry = (await h.final(first))["jobs"][0]["id"]
    delayed = h.record(retry)
    assert delayed["state"] == "retry_delay" and delayed["until"] >= time.time() + 3000
    assert retry not in h.worker.runs
    h.engine.skip_delay(h.engine.active[retry])
    await until("the retry running once skipped", lambda: retry in h.worker.runs)
    h.worker.runs[retry].finish(0)
    assert (await h.final(retry))["code"] == 0


async def start_delay_waits_for_its_second(h: Harness) -> None:
    job = h.launch(state="start_delay", until=time.time() + 1.5)
    assert stored_state(h.store, job) == "start_delay"
    assert job not in h.worker.runs
    await until("the delayed job running", lambda: job in h.worker.runs)
    assert time.time() >= h.record(job)["until"]
    h.worker.runs[job].finish(0)
    assert (await h.final(job))["code"] == 0


async def abort_while_delayed(h: Harness) -> None:
    job = h.launch(state="start_delay", until=time.time() + 3600)
    assert h.engine.abort(job, "Not today")
    final = await h.final(job)
    assert final["code"] == "abort" and final["description"] == "Not today"
    assert job not in h.worker.runs


async def suspend_and_resume(h: Harness) -> None:
    h.engine.actions = SuspendingActions()  # type: ignore[assignment]
    job = h.launch()
    await until("the job suspended", lambda: stored_state(h.store, job) == "suspended")
    assert job not in h.worker.runs
    assert h.engine.resume(job)
    assert not h.engine.resume(job)  # no longer suspended
    await until("the resumed job running", lambda: job in h.worker.runs)
    h.worker.runs[job].finish(0)
    assert (await h.final(job))["code"] == 0


async def day_limit_counts_starts(h: Harness) -> None:
    day = [{"type": "day", "enabled": True, "condition": "start", "amount": 1}]
    job = h.launch(day, source="scheduler")
    await until("the job running", lambda: job in h.worker.runs)
    await until("the start counted", lambda: h.engine.day_counters.today("ev", "start") == 1)
    with pytest.raises(LaunchError, match="Maximum daily 'start' count of 1 has been reached"):
        h.launch(day, source="scheduler")
    h.worker.runs[job].finish(0)
    await h.final(job)


async def time_limit_aborts(h: Harness) -> None:
    job = h.launch([{"type": "time", "enabled": True, "duration": 1, "abort": True}])
    final = await h.final(job)
    assert final["code"] == "abort"
    assert final["description"] == "Job elapsed time has exceeded maximum limit of 1 second."
    assert final["limits"][0]["date"] >= final["started"]


async def dead_job_is_aborted(h: Harness) -> None:
    job = h.launch()
    final = await h.final(job)
    assert final["code"] == "abort"
    assert final["description"] == "No updates received in last 2 minutes, assuming job is dead."


def orphan_of_a_dead_conductor(h: Harness) -> None:
    """Before the start: a waiting job of conductor "gone", whose lease on it ran out."""
    h.store.owner = "gone"
    now = time.time()
    with h.store.write() as w:
        w.put_job(
            {
                **event_request(EVENT),
                "id": "jorphan",
                "event": "ev",
                "state": "start_delay",
                "until": now + 0.5,
                "started": now,
                "activity": [],
                "limits": [],
                "actions": [],
                "tags": [],
                "params": {},
            }
        )
    h.store.owner = "local"
    h.store_clock.offset = 120


async def adopts_an_orphan(h: Harness) -> None:
    """The waiting job is adopted at start and runs here when due."""
    assert h.store.job_owner("jorphan")[0] == "local"
    await until("the orphan running here", lambda: "jorphan" in h.worker.runs)
    h.worker.runs["jorphan"].finish(0)
    assert (await h.final("jorphan"))["code"] == 0


async def lost_to_another_conductor(h: Harness) -> None:
    """Another conductor adopted the running job (this one's lease ran out): its run is stopped
    here and this conductor writes nothing more about it."""
    job = h.launch()
    await until("the job running", lambda: job in h.worker.runs)
    h.store_clock.offset = 120
    adopted = h.store.adopt_orphans("other", 15.0, False)
    assert [j["id"] for j in adopted] == [job]
    h.engine.records.mark_dirty(job)  # progress: the next flush meets the other owner
    await until("the job dropped here", lambda: job not in h.engine.active)
    await until("its run stopped", lambda: h.worker.runs[job].result.done())
    await asyncio.sleep(0)  # let the finisher try (it must not write)
    record = h.record(job)
    assert record["state"] == "active" and not record.get("final")


@dataclass(frozen=True)
class Row:
    scenario: Callable[[Harness], Awaitable[None]]
    settings: tuple[tuple[str, Any], ...] = ()
    #: what the store holds before the engine starts
    before: Callable[[Harness], None] | None = None


SCENARIOS = {
    "limits, queue and abort": Row(limits_queue_and_abort),
    "retry after a failure": Row(retry_after_failure),
    "retry delay, skipped": Row(retry_delay_then_skip),
    "start delay": Row(start_delay_waits_for_its_second),
    "abort while delayed": Row(abort_while_delayed),
    "suspend and resume": Row(suspend_and_resume),
    "day limit": Row(day_limit_counts_starts),
    "time limit": Row(time_limit_aborts),
    "dead job": Row(dead_job_is_aborted, (("dead_job_timeout_s", 1.0),)),
    "orphan adopted": Row(adopts_an_orphan, before=orphan_of_a_dead_conductor),
    "job lost to another conductor": Row(lost_to_another_conductor),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_state_machine(name: str, tmp_path: Path) -> None:
    row = SCENARIOS[name]

    async def scenario() -> None:
        h = harness(tmp_path, **dict(row.settings))
        with h.engine.catalog.transaction() as tx:
            tx.insert("events", {**EVENT})
        if row.before is not None:
            row.before(h)
        await h.engine.start()
        try:
            await row.scenario(h)
            await until("nothing left running", lambda: not h.engine.active)
            assert h.store.unfinished_jobs("local") == []
        finally:
            await h.engine.stop()

    asyncio.run(scenario())
