"""The job engine's state machine on the in-memory store with a fake worker: no HTTP, no database,
no processes. A job is ready → (queued) → starting → active → complete; the `job` and `queue`
limits, the queue's turn, aborts, and the records the store holds at each step."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from cronwright.clock import SystemClock
from cronwright.config import Settings
from cronwright.engine.catalog import Catalog
from cronwright.engine.jobs.engine import JobEngine
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


async def run_scenario(tmp_path: Path) -> None:
    store = MemoryStore()
    ensure_installed(store, time.time(), {"CRONWRIGHT_ADMIN_KEY": "k" * 32, "CRONWRIGHT_ADMIN_PASSWORD": "p" * 16})
    store.owner = "local"
    catalog = Catalog(store)
    clock = SystemClock()
    servers = ServerRegistry(catalog, clock)
    servers.register_local()
    engine = JobEngine(catalog, store, clock, Settings(data_dir=tmp_path), servers)
    worker = FakeWorker()
    engine.worker = worker  # type: ignore[assignment]
    event = {
        "id": "ev",
        "title": "Limited",
        "enabled": True,
        "category": "general",
        "plugin": "shellplug",
        "targets": ["main"],
        "algo": "random",
        "params": {"script": "#!/bin/sh\ntrue"},
        "triggers": [{"type": "manual", "enabled": True}],
        "limits": [{"type": "job", "enabled": True, "amount": 1}, {"type": "queue", "enabled": True, "amount": 1}],
        "revision": 1,
    }
    with catalog.transaction() as tx:
        tx.insert("events", event)
    await engine.start()
    try:
        first, second, third = (engine.launch({**event_request(event), "source": "user"})[0]["id"] for _ in range(3))
        await until("the first running", lambda: first in worker.runs)
        await until("the third refused", lambda: stored_state(store, third) == "complete")
        assert stored_state(store, first) == "active"
        assert stored_state(store, second) == "queued"
        refused = store.get_job(third)
        assert refused is not None and refused["code"] == "abort" and refused["description"] == QUEUE_FULL
        assert second not in worker.runs  # never started while the slot was taken

        worker.runs[first].finish(0)
        await until("the queued job's turn", lambda: second in worker.runs)
        done = store.get_job(first)
        assert done is not None and done["state"] == "complete" and done["code"] == 0 and done["final"]
        assert stored_state(store, second) == "active"

        assert engine.abort(second, "Manually aborted by test")
        await until("the abort recorded", lambda: stored_state(store, second) == "complete")
        aborted = store.get_job(second)
        assert (
            aborted is not None and aborted["code"] == "abort" and aborted["description"] == "Manually aborted by test"
        )
        assert store.unfinished_jobs() == [] and engine.active == {}
    finally:
        await engine.stop()


def test_limits_queue_and_abort_without_processes(tmp_path: Path) -> None:
    asyncio.run(run_scenario(tmp_path))
