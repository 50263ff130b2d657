"""Running an admitted job: ``starting`` → (``suspended``) → ``active`` → finished (jobs.md §2).

The engine decides *that* a job starts and *where*; the dispatcher carries it out: the start
actions (which may suspend it), the daily start counter, the ``active`` record (stored before the
process exists, so a crash can never run a job twice), the run on the worker, and the finish with
its result. It holds the live runs, so aborting a running job (``abort_run``) and finalizing one
whose process never exits after the kill (``finalize_overdue``) live here too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from cronwright.engine.jobs.finish import Outcome
from cronwright.runner import JobRun
from cronwright.store.base import LostJob, StoreError

if TYPE_CHECKING:
    from cronwright.engine.jobs.engine import JobEngine

log = logging.getLogger("cronwright.jobs")

#: an aborted job whose run has not ended this long after its kill timeout is finalized anyway
ABORT_GRACE_S = 10.0
#: pause between attempts to store a job's ``active`` record while the database refuses it
ACTIVATE_RETRY_S = 1.0
#: how many times a starting job may be sent on to the conductor holding its server (an agent
#: that keeps moving between conductors must not bounce its job forever)
MAX_HOPS = 3
NOT_CONNECTED = "Chosen server is no longer connected."


class Dispatcher:
    def __init__(self, engine: JobEngine) -> None:
        self._engine = engine
        #: live runs: job id → its process on the worker
        self.runs: dict[str, JobRun] = {}
        #: aborted jobs with a run: job id → monotonic time of the abort (see ``ABORT_GRACE_S``)
        self._aborted_at: dict[str, float] = {}
        #: starting jobs other conductors sent here: job id → how often it was sent (``MAX_HOPS``)
        self._hops: dict[str, int] = {}

    def start(self, job: dict[str, Any]) -> None:
        """Run a job the engine moved to ``starting`` (a server chosen)."""
        self._engine.tasks.spawn(self._guarded(job, self._start_steps), f"job {job['id']}")

    def receive(self, job: dict[str, Any], hops: int) -> None:
        """Run a starting job another conductor sent here (its start actions ran there)."""
        self._hops[job["id"]] = hops
        self._engine.tasks.spawn(self._guarded(job, self._run), f"job {job['id']}")

    def resume(self, job: dict[str, Any]) -> bool:
        """Continue a suspended job (``resume_job``); False when it is not suspended."""
        if job["state"] != "suspended":
            return False
        job["suspended"] = False
        job["state"] = "starting"
        self._engine.tasks.spawn(self._guarded(job, self._run), f"job {job['id']}")
        return True

    def abort_run(self, job_id: str, reason: str) -> bool:
        """Kill the job's process (its result then finishes the job); False when it has none."""
        run = self.runs.get(job_id)
        if run is None:
            return False
        self._aborted_at.setdefault(job_id, time.monotonic())
        run.abort(reason)
        return True

    def drop(self, job_id: str, reason: str) -> None:
        """The job went elsewhere (adopted by another conductor): stop its process here. A job on
        an agent runs on: the conductor that adopted it manages it now (its agent's reports reach
        that one once the agent reconnects there, or it asks for it: ``handoff``)."""
        run = self.runs.get(job_id)
        if run is None:
            return
        if hasattr(run, "release"):
            run.release()
        else:
            run.abort(reason)

    def finalize_overdue(self, job: dict[str, Any]) -> bool:
        """Finalize an aborted job whose run never ended (a process stuck in the kernel ignores
        SIGKILL): its record must not stay ``active`` forever. True when it was finalized."""
        aborted_at = self._aborted_at.get(job["id"])
        if aborted_at is None or job["id"] not in self.runs:
            return False
        if time.monotonic() - aborted_at < self._engine.settings.child_kill_timeout_s + ABORT_GRACE_S:
            return False
        log.error("job %s: its process did not exit after it was killed; finalizing it anyway", job["id"])
        self.runs.pop(job["id"], None)
        self._aborted_at.pop(job["id"], None)
        reason = str(job.get("abort_reason") or "Aborted.")
        job["state"] = "finishing"
        description = f"{reason} The job's process did not exit after it was killed."
        outcome = Outcome(code="abort", description=description, retry_ok=bool(job.get("retry_ok")))
        self._engine.tasks.spawn(self._engine.finisher.finish(job, outcome), "abort")
        return True

    async def _guarded(self, job: dict[str, Any], steps: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        try:
            await steps(job)
        except Exception:  # a job must never stay ``starting`` forever
            log.exception("starting job %s failed", job["id"])
            await self._fail_unstarted(job)

    async def _fail_unstarted(self, job: dict[str, Any]) -> None:
        """End a job whose start failed unexpectedly (it has no process): never leave it hanging."""
        engine = self._engine
        if job["id"] in engine.active and job["id"] not in self.runs and job["state"] in ("starting", "active"):
            outcome = Outcome(code=1, description="Job could not be started: internal error (see the server log).")
            await engine.finisher.finish(job, outcome)

    async def _start_steps(self, job: dict[str, Any]) -> None:
        """``starting``: run the start actions (they may suspend the job), then run it."""
        engine = self._engine
        if job["state"] != "starting":  # aborted meanwhile
            return
        if engine.actions is not None and engine.actions.collect(job, ["start"]):
            await engine.actions.run(job, ["start"])
        try:
            engine.day_counters.count(job, ["start"])
        except StoreError as exc:  # a missed counter must not keep the job from running
            log.warning("daily start of job %s not counted: %s", job["id"], exc)
        if job["state"] != "starting":  # aborted while the start actions ran
            return
        if job.get("suspended"):
            job["state"] = "suspended"
            engine.records.try_persist(job)
            engine.observers.notify(job["id"], "update", {"state": "suspended"})
            return
        await self._run(job)

    async def _run(self, job: dict[str, Any]) -> None:
        """``active``: spawn the process on the worker and finish with its result."""
        engine = self._engine
        plugin = engine.catalog["plugins"].get(job.get("plugin"))
        hops = self._hops.pop(job["id"], 0)
        if not engine.servers.is_connected(job["server"]):
            await engine.finisher.finish(job, Outcome(code="abort", description=NOT_CONNECTED, retry_ok=True))
            return
        holder = engine.servers.holder_of(job["server"])
        if holder is not None:  # another conductor holds the server: it runs the job
            await self._send(job, holder, hops + 1)
            return
        worker = engine.worker_for(job["server"])
        if worker is not engine.worker:
            job["remote"] = False  # on an agent (``remote`` turns true once it has the job)
        if not await self._record_active(job):
            return  # aborted while the database refused the record
        engine.servers.jobs_changed()
        try:
            run = worker.prepare(job, plugin)
        except OSError as exc:
            await engine.finisher.finish(job, Outcome(code=1, description=f"Setup Error: {exc}"))
            return
        await self._supervise(job, run)

    async def _send(self, job: dict[str, Any], holder: str, hops: int) -> None:
        """Give a starting job to conductor ``holder``, which holds its server (docs/fleet.md)."""
        engine = self._engine
        if hops > MAX_HOPS:
            await engine.finisher.finish(job, Outcome(code="abort", description=NOT_CONNECTED, retry_ok=True))
            return
        try:
            engine.records.persist(job)  # ``starting``, with its server: what the holder runs
            sent = await engine.offload(engine.control.send, job["id"], holder, hops)
        except LostJob:
            return
        except StoreError as exc:
            description = f"The job could not be handed to the conductor of its server ({holder}): {exc}"
            await engine.finisher.finish(job, Outcome(code="abort", description=description, retry_ok=True))
            return
        if sent:
            engine.servers.note_sent(job["server"])
            engine.sent_away(job, holder)
        else:  # no longer this conductor's (adopted elsewhere)
            engine.lost(job)

    def reattach(self, job: dict[str, Any]) -> bool:
        """Take over a job that runs on an agent (after a restart or an adoption): its run ends
        with the agent's final report, or by the dead-job rule when the agent never reports.
        False when this conductor has no agents' hub."""
        remote = self._engine.remote_worker
        if remote is None:
            return False
        run = remote.attach(job)
        self._engine.tasks.spawn(self._guarded(job, lambda j: self._supervise(j, run)), f"job {job['id']}")
        return True

    async def _supervise(self, job: dict[str, Any], run: JobRun | Any) -> None:
        engine = self._engine
        job_id = job["id"]
        self.runs[job_id] = run
        if job.get("abort_reason"):
            run.abort(job["abort_reason"])
        try:
            result = await run.wait()
        finally:
            self.runs.pop(job_id, None)
            self._aborted_at.pop(job_id, None)
        if getattr(run, "released", False):
            return  # handed over to another conductor, which finishes it
        await engine.finisher.finish(job, Outcome.from_result(result, retry_ok=bool(job.get("retry_ok"))))

    async def _record_active(self, job: dict[str, Any]) -> bool:
        """Store the job as ``active`` before its process exists (a crash must never run it twice).
        While the database refuses, the job waits as ``starting`` (abortable) and the write is
        retried; False when it was aborted meanwhile."""
        engine = self._engine
        waiting = False
        while True:
            now = engine.clock.now()
            job.update(state="active", started=now, updated=now, progress=0)
            try:
                engine.records.persist(job)
                return True
            except StoreError as exc:
                job["state"] = "starting"
                log.warning("job %s waits for the database to start (%s)", job["id"], exc)
                if not waiting:
                    engine.launcher.note(job, f"Waiting for the database before starting: {exc}")
                    waiting = True
            await asyncio.sleep(ACTIVATE_RETRY_S)
            if job["state"] != "starting" or job.get("abort_reason") or engine.stopping:
                return False
