"""The job engine: the active set, admission and the queue (jobs.md §2, §4, §6.2), and the loop.

Every unfinished job lives in ``active`` and in the job table; each state transition is written
to the database before the engine acts on it. The monitor pass runs every second and right after
every launch and completion: it promotes delayed jobs, admits ready jobs under the concurrency
and queue limits (decided in the database over every conductor's jobs, ``admission.py``), moves
queue heads when a slot frees, picks a server (``placement.py``) and hands the job to the
dispatcher (``dispatch.py``: start actions, the ``active`` record, the run); it checks running
jobs for dead processes and runtime limits (``limit_watch.py``). Finishing lives in ``finish.py``,
the records' writes in ``records.py``, requests between conductors in ``control.py``, what running
jobs report in ``reports.py``, who follows a job in ``observers.py``.

Faults end jobs, never freeze them: the store retries transient database failures itself; a write
that still fails is retried by the monitor (progress, the final record) or makes the job wait
(a job is never spawned before its ``active`` record is stored), and never fails a running job. A
log that cannot be written ends its job with a clear error; an aborted job whose process never
reports back is finalized anyway after the kill grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cronwright.clock import Clock
from cronwright.config import Settings
from cronwright.engine.catalog import Catalog
from cronwright.engine.jobs import admission, selection
from cronwright.engine.jobs.control import JobControl
from cronwright.engine.jobs.dispatch import Dispatcher
from cronwright.engine.jobs.filestore import FileStore
from cronwright.engine.jobs.finish import Finisher, Outcome
from cronwright.engine.jobs.launch import Launcher, LaunchError
from cronwright.engine.jobs.limit_watch import DayCounters, LimitWatch
from cronwright.engine.jobs.limits import due_limits
from cronwright.engine.jobs.logstore import LogStore
from cronwright.engine.jobs.observers import JobObservers
from cronwright.engine.jobs.placement import Placement
from cronwright.engine.jobs.records import JobRecords
from cronwright.engine.jobs.recovery import adopt_orphans, recover_jobs
from cronwright.engine.jobs.renderer import ReportRenderer
from cronwright.engine.jobs.reports import JobReports
from cronwright.engine.jobs.rules import WAITING_STATES, first_limit, limit_amount
from cronwright.engine.jobs.tasks import Tasks
from cronwright.engine.jobs.worker import LocalWorker
from cronwright.engine.permits import Permits
from cronwright.engine.servers import ServerRegistry
from cronwright.ids import generate_id
from cronwright.logs import fields, job_fields
from cronwright.metrics import Metrics
from cronwright.store.base import ACTIVE_JOB_STATES, LostJob, Store, StoreError, StoreWriter

if TYPE_CHECKING:
    from cronwright.engine.actions.runner import ActionRunner
    from cronwright.engine.fleet.remote import RemoteWorker

log = logging.getLogger("cronwright.jobs")

#: how often the leader looks for jobs whose conductor's lease on them ran out, and every
#: conductor reads the stored job requests (``control.py``), seconds
ADOPT_INTERVAL_S = 2.0
#: a monitor pass this late (seconds since the last) means the process was paused
PAUSE_S = 5.0
#: how often a job that went to another conductor is looked up by a caller waiting for its end
FOLLOW_POLL_S = 0.25
SHUTDOWN_REASON = "Aborted: Cronwright was shut down while the job was running."


class JobEngine:
    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        clock: Clock,
        settings: Settings,
        servers: ServerRegistry,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self._catalog = catalog
        self.metrics = metrics or Metrics()
        self._store = store
        self._clock = clock
        self._settings = settings
        self._servers = servers
        #: every unfinished job of this conductor: job id → its live record
        self.active: dict[str, dict[str, Any]] = {}
        self.tasks = Tasks()
        self.records = JobRecords(store, self.active, self.lost)
        self.observers = JobObservers()
        self.zone: Any = None
        self.day_counters = DayCounters(store, catalog, clock, lambda: self.zone)
        self.launcher = Launcher(catalog, settings, clock)
        self.launcher.daily_count = self.day_counters.today
        self.placement = Placement(catalog, servers, store, self.active, self.launcher.note)
        self.logs = LogStore(settings.data_dir / "logs" / "jobs")
        self.files = FileStore(settings.data_dir)
        #: what running jobs report (the worker's ``JobUpdates``)
        self.reports = JobReports(self)
        self.worker = LocalWorker(
            settings.data_dir / "work" / "jobs",
            self.files,
            self.reports,
            base_url=settings.public_url,
            kill_timeout_s=settings.child_kill_timeout_s,
            sample_interval_s=settings.job_sample_interval_s,
            upper_case_params=settings.job_param_env == "all",
        )
        self.worker.server_data = lambda server_id: (catalog["servers"].get(server_id) or {}).get("userData")
        #: runs jobs on agents (engine/fleet/remote.py; set by the conductor), None without a hub
        self.remote_worker: RemoteWorker | None = None
        self.dispatcher = Dispatcher(self)
        self.finisher = Finisher(self)
        self.limit_watch = LimitWatch(self)
        self.control = JobControl(self)
        #: renders plugins' markdown/text/html reports in a worker process
        self.renderer = ReportRenderer(settings.public_url, self.active.get, self._rendered, self.tasks.track)
        self._kicked = False
        self._loop_task: asyncio.Task[Any] | None = None
        self._stopping = False
        #: jobs whose log could not be written: job id → the reason shown on the job
        self.log_errors: dict[str, str] = {}
        #: set by the conductor: applies ``update_event``/``delete_event`` of a finished job
        self.apply_event_changes: Callable[[dict[str, Any]], None] = lambda job: None
        #: set by the conductor: runs actions (start, completion, instant) and limit notifications
        self.actions: ActionRunner | None = None
        #: what a job may push or output (who it acts for): see engine/permits.py
        self.permits = Permits(catalog, clock.now)
        #: set by the conductor (engine/cluster.py): whose jobs these are, how long a claim on one
        #: holds, and whether this conductor leads (it adopts other conductors' orphaned jobs)
        self.conductor_id = "local"
        self.job_lease_s = 15.0
        self.leading: Callable[[], bool] = lambda: True
        #: runs the periodic cluster reads off the loop (``Cluster.offload``; a thread of the default pool otherwise)
        self.offload: Callable[..., Any] = asyncio.to_thread
        #: whether other conductors share the database now (their jobs are listed too)
        self.peers: Callable[[], bool] = lambda: False
        self._next_adoption = 0.0
        #: when this conductor last came back from a pause (SIGSTOP, a suspended VM, a stalled
        #: loop): the dead-job clock of every job restarts then, so reports that waited for this
        #: process to run again (e.g. an agent's final report) are read before a job is judged dead
        self._awake_since = 0.0
        #: jobs whose start waits for the database (noted once on the job)
        self._db_waits: set[str] = set()

    # read-only views for the engine's collaborators

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @property
    def store(self) -> Store:
        return self._store

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def servers(self) -> ServerRegistry:
        return self._servers

    @property
    def local_server_id(self) -> str:
        return self._servers.local_id

    def worker_for(self, server_id: str) -> Any:
        """The local worker for this machine, the remote worker for an agent's server."""
        if server_id == self._servers.local_id or self.remote_worker is None:
            return self.worker
        return self.remote_worker

    @property
    def stopping(self) -> bool:
        """The engine is shutting down (live streams end without a final update)."""
        return self._stopping

    # ---- lifecycle and the loop

    async def start(self) -> None:
        await recover_jobs(self)
        self._loop_task = asyncio.create_task(self._tick_forever(), name="job-monitor")
        self.kick()

    async def stop(self) -> None:
        """Abort running jobs (recorded, retries allowed), keep waiting jobs for the next start."""
        self._stopping = True
        if self._loop_task:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for job_id in list(self.dispatcher.runs):
            if "remote" not in self.active.get(job_id, {}):  # an agent's job runs on: reattached at the next start
                self.abort(job_id, SHUTDOWN_REASON, retry_ok=True)
        for job in list(self.active.values()):
            if job["state"] == "starting":
                self.abort(job["id"], SHUTDOWN_REASON, retry_ok=True)
        await self.tasks.wait(self._settings.child_kill_timeout_s + 10)
        if not self.records.flush():
            log.error("progress of %d running job(s) could not be stored at shutdown", self.records.pending)
        self.renderer.shutdown()

    async def _tick_forever(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            if time.monotonic() - last > PAUSE_S:
                log.warning("this conductor did not run for %.0f s; dead-job clocks restart", time.monotonic() - last)
                self._awake_since = self._clock.now()
            last = time.monotonic()
            try:
                self.monitor()
                self.records.flush()
                if time.monotonic() >= self._next_adoption:
                    self._next_adoption = time.monotonic() + ADOPT_INTERVAL_S
                    if self.leading():
                        await adopt_orphans(self)
                    await self.control.apply()
            except StoreError as exc:  # the database is out of reach: the next pass tries again
                log.warning("job monitor pass incomplete: %s", exc)
            except Exception:
                log.exception("job monitor pass failed")

    def wake_at(self, until: Any) -> None:
        """Run a monitor pass when a delayed job becomes due (so it starts on its second)."""
        if isinstance(until, (int, float)) and not isinstance(until, bool) and not self._stopping:
            delay = max(0.0, until - self._clock.now())
            asyncio.get_running_loop().call_later(delay, self.kick)

    def kick(self) -> None:
        """Run a monitor pass soon (coalesced)."""
        if self._kicked or self._stopping:
            return
        self._kicked = True
        asyncio.get_running_loop().call_soon(self._kicked_pass)

    def _kicked_pass(self) -> None:
        self._kicked = False
        try:
            self.monitor()
        except Exception:
            log.exception("job monitor pass failed")

    # ---- launching

    def launch(
        self,
        request: dict[str, Any],
        *,
        fire: dict[str, Any] | None = None,
        fence: Callable[[StoreWriter], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Launch one job (several for ``multiplex``); raises ``LaunchError``.

        With ``fire`` (a scheduled fire: ``event_id``, ``at``, ``trigger``), the fire's row is written in
        the same transaction as the job, so a fire recorded elsewhere (another conductor, or a tick
        replayed after a crash) raises ``DuplicateId`` and launches nothing. ``fence`` (the leader's
        check, ``Cluster.fence``) runs first in that transaction; the jobs-per-minute brake is taken
        in it too.
        """
        requests = [request]
        if request.get("algo") == "multiplex" and isinstance(request.get("targets"), list):
            servers = self.placement.candidates({**request, "limits": request.get("limits") or []})
            if len(servers) > 1:
                requests = [{**request, "targets": [s["id"]]} for s in servers]

        def record(w: StoreWriter) -> None:
            if fence is not None:
                fence(w)
            for job in jobs:
                self.launcher.brake.take(w, job["started"])
            if fire is not None:
                w.record_fire(
                    {
                        **fire,
                        "status": "launched",
                        "job_id": jobs[0]["id"],
                        "reason": None,
                        "recorded": self._clock.now(),
                    }
                )
            for job in jobs:
                w.put_job(job)

        try:
            jobs = [self.launcher.build(r) for r in requests]
            self._store.transact(record)
        except LaunchError as exc:
            self.metrics.launch_refused(request.get("source"))
            log.info(
                "job launch refused",
                extra=fields(
                    event=request.get("id") or request.get("event"), source=request.get("source"), reason=str(exc)
                ),
            )
            raise
        for job in jobs:
            self.active[job["id"]] = job
            self.metrics.job_launched(job)
            log.info(
                "job launched",
                extra=job_fields(
                    job,
                    username=job.get("username"),
                    state=job.get("state"),
                    retry=job.get("retry_count") or None,
                ),
            )
            if job.get("setup_error"):
                outcome = Outcome(code=1, description=job.pop("setup_error"))
                self.tasks.spawn(self.finisher.finish(job, outcome), "finish")
            self.wake_at(job.get("until"))
        self.kick()
        return jobs

    # ---- the monitor pass

    def monitor(self) -> None:
        if self._stopping:
            return
        now = self._clock.now()
        for job in list(self.active.values()):
            try:
                self._step(job, now)
            except Exception:  # one job's trouble (e.g. the database) must not stall the others
                log.exception("monitor step of job %s failed", job["id"])
        self._dequeue()

    def _step(self, job: dict[str, Any], now: float) -> None:
        state = job["state"]
        if state in ("start_delay", "retry_delay") and now >= (job.get("until") or 0):
            job["state"] = "ready"  # ``until`` stays on the record: when the job was due
            self.records.try_persist(job)
            state = "ready"
        if state == "ready":
            self._start_ready(job)
        elif state == "active":
            if self.dispatcher.finalize_overdue(job):
                return
            if now - max(job.get("updated") or now, self._awake_since) >= self._settings.dead_job_timeout_s:
                self.abort(job["id"], "No updates received in last 2 minutes, assuming job is dead.", retry_ok=True)
                return
            for limit in due_limits(job, now):
                self.limit_watch.fire(job, limit, now)
        elif state == "complete" and job.get("final"):
            self.finisher.save_final(job)  # the database refused the final record earlier

    # ---- admission and the queue

    def _refuse(self, job: dict[str, Any], reason: str, full_reason: str, *, retry_ok: bool) -> None:
        queue = limit_amount(first_limit(job, "queue"))
        self.abort(job["id"], full_reason if queue else reason, retry_ok=retry_ok)

    def _queue_or_abort(self, job: dict[str, Any], reason: str, full_reason: str, *, retry_ok: bool) -> None:
        if self._store.transact(lambda w: admission.enqueue(w, job)) == "refused":
            self._refuse(job, reason, full_reason, retry_ok=retry_ok)
        else:
            self.records.forget(job["id"])

    def _start_ready(self, job: dict[str, Any]) -> None:
        limit = limit_amount(first_limit(job, "job"))
        if limit:
            try:
                verdict = self._store.transact(lambda w: admission.admit(w, job, limit))
            except LostJob:
                self.lost(job)
                return
            except StoreError as exc:  # admission needs the database: the job waits (next pass retries)
                self._waiting_for_database(job, exc)
                return
            if verdict != "start":
                if verdict == "refused":
                    self._refuse(
                        job,
                        "Maximum number of concurrent jobs for event has been reached.",
                        "Maximum number of concurrent jobs for event has been reached, and the queue is maxed out.",
                        retry_ok=False,
                    )
                return
        self.finisher.prune_input_files(job)
        event = self._catalog["events"].get(job["event"])
        if event is None:
            self.abort(job["id"], f"Event was deleted: {job['event']}")
            return
        if not job.get("test") and not event.get("enabled"):
            self.abort(job["id"], f"Event was disabled: {event.get('title')}")
            return
        try:
            server = self.placement.choose(job)
        except selection.UnknownAlgorithm as exc:
            self.abort(job["id"], str(exc))
            return
        if server is None:
            self._queue_or_abort(
                job,
                "No available servers matching targets.",
                "No available servers matching targets, and the queue is full.",
                retry_ok=True,
            )
            return
        job["server"], job["groups"] = server["id"], list(server.get("groups") or [])
        job["state"] = "starting"
        self.dispatcher.start(job)

    def _dequeue(self) -> None:
        """Move the head of each event's queue to ``ready`` when a slot is free (jobs.md §4); the
        slot and the turn are decided over every conductor's jobs (``admission.take_turn``)."""
        queues: dict[str, list[dict[str, Any]]] = {}
        for job in self.active.values():
            if job["state"] == "queued":
                queues.setdefault(job["event"], []).append(job)
        for jobs in queues.values():
            jobs.sort(key=admission.queue_order)
            head = jobs[0]
            limit = limit_amount(first_limit(head, "job"))
            if limit and self.count_in_states(head["event"], admission.RUNNING) >= limit:
                continue  # full on this conductor alone: no need to ask the database
            if not self.placement.candidates(head):
                continue
            try:
                if not self._store.transact(lambda w: admission.take_turn(w, head, limit)):  # noqa: B023
                    continue
            except LostJob:
                self.lost(head)
                continue
            except StoreError as exc:  # the turn is decided in the database: wait for it
                self._waiting_for_database(head, exc)
                continue
            try:
                for index, job in enumerate(jobs[1:], start=1):
                    job["position"] = index
                self._start_ready(head)
            except Exception:  # e.g. the database: the head stays queued or ``ready`` and the next pass retries
                log.exception("starting queued job %s failed", head["id"])

    def _waiting_for_database(self, job: dict[str, Any], exc: StoreError) -> None:
        log.warning("job %s waits for the database to start (%s)", job["id"], exc)
        if job["id"] not in self._db_waits:
            self._db_waits.add(job["id"])
            self.launcher.note(job, f"Waiting for the database before starting: {exc}")

    # ---- what happens to a job from outside: abort, resume, skip the delay, drop from the queue

    def abort(self, job_id: str, reason: str, *, retry_ok: bool = False) -> bool:
        """Abort an unfinished job; False when it is not active."""
        job = self.active.get(job_id)
        if job is None or job.get("complete") or job["state"] == "finishing":
            return False
        job["retry_ok"] = retry_ok
        if self.dispatcher.abort_run(job_id, reason):
            job["abort_reason"] = reason
        elif job["state"] in ("starting", *WAITING_STATES, "suspended", "active"):
            if job["state"] == "starting":
                job["abort_reason"] = reason
            job["state"] = "finishing"
            outcome = Outcome(code="abort", description=reason, retry_ok=retry_ok)
            self.tasks.spawn(self.finisher.finish(job, outcome), "abort")
        return True

    def resume(self, job_id: str) -> bool:
        """Continue a suspended job (``resume_job``); False when it is not suspended."""
        job = self.active.get(job_id)
        return job is not None and self.dispatcher.resume(job)

    def skip_delay(self, job: dict[str, Any]) -> None:
        """Start a delayed job now (``job_skip_delay``)."""
        job["until"] = self._clock.now()
        self.records.persist(job)
        self.kick()

    def flush_queue(self, event_id: str) -> int:
        """Remove this conductor's queued jobs of an event silently (no actions, no records)."""
        queued = self.jobs_in_state(event_id, "queued")
        self.drop_queued(queued)
        return len(queued)

    def drop_queued(self, queued: list[dict[str, Any]]) -> None:
        with self._store.write() as w:
            for job in queued:
                w.delete_job(job["id"])
        for job in queued:
            self.active.pop(job["id"], None)
            self.observers.gone(job["id"])

    # ---- a job leaves this conductor

    def hand_off(self, job: dict[str, Any], to: str) -> bool:
        """Give a job that runs on an agent to conductor ``to``, which holds the agent's socket now
        (the job follows its agent's reports); False when it is not such a job or not ours."""
        run = self.dispatcher.runs.get(job["id"])
        remote = self.remote_worker
        if "remote" not in job or job["state"] != "active" or remote is None or run is None:
            return False
        if to == self.conductor_id:
            return False
        if not hasattr(run, "release"):
            return False
        remote.let_go(str(job.get("server")))  # its agent reports to ``to`` now
        if not self._store.transfer_job(job["id"], self.conductor_id, to, self.job_lease_s):
            return False
        log.info("job %s handed over to conductor %s", job["id"], to, extra=job_fields(job))
        self.active.pop(job["id"], None)
        self.records.forget(job["id"])
        self.observers.gone(job["id"])
        run.release()
        return True

    def sent_away(self, job: dict[str, Any], to: str) -> None:
        """A starting job went to conductor ``to``, which holds its server and runs it."""
        log.info("job %s sent to conductor %s, which holds its server", job["id"], to, extra=job_fields(job))
        self.active.pop(job["id"], None)
        self.records.forget(job["id"])
        self.observers.gone(job["id"])
        self.kick()

    def receive(self, job: dict[str, Any], hops: int) -> None:
        """A job another conductor sent here (``control.send``): run it on the server it chose."""
        if job["id"] in self.active:
            return
        self.active[job["id"]] = job
        if job.get("state") == "starting":
            self.dispatcher.receive(job, hops)
        else:  # not started yet after all: the monitor takes it from its state
            self.kick()

    def completed(self, job: dict[str, Any]) -> None:
        """Called by the finisher once the final record is stored."""
        self.active.pop(job["id"], None)
        self._db_waits.discard(job["id"])
        self.records.forget(job["id"])
        self.observers.completed(job)
        self._servers.jobs_changed()
        self.kick()

    def lost(self, job: dict[str, Any]) -> None:
        """Another conductor adopted the job (this one's lease on it ran out, e.g. while it was
        paused or cut off from the database): stop it here and write nothing more about it."""
        if self.active.pop(job["id"], None) is None:
            return
        log.error("job %s was adopted by another conductor; stopping it here", job["id"], extra=job_fields(job))
        self.records.forget(job["id"])
        job["lost"] = True
        job["abort_reason"] = job.get("abort_reason") or "Adopted by another conductor."
        self.dispatcher.drop(job["id"], job["abort_reason"])
        self.observers.gone(job["id"])

    async def wait_final(self, job_id: str) -> dict[str, Any] | None:
        """The job's final record once it completed, wherever it ran: a job that went to another
        conductor (sent to its server's conductor, adopted) is followed through the database.
        None when the job disappeared (dropped from its queue, deleted)."""
        while True:
            if job_id in self.active:
                future = self.observers.wait_for(job_id)
                try:
                    return await future
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if not future.cancelled() or (task is not None and task.cancelling()):
                        raise  # the caller went away
            record = await self.offload(self._store.get_job, job_id)
            if record is None or record.get("state") == "complete":
                return record
            await asyncio.sleep(FOLLOW_POLL_S)

    # ---- reports rendered off the loop, and what finishing waits for

    def _rendered(self, job: dict[str, Any], records: dict[str, Any], notes: list[str]) -> None:
        """A report rendered by ``self.renderer`` (engine/jobs/renderer.py): applied to the live job."""
        for note in notes:
            self.launcher.note(job, note)
        if records and job["id"] in self.active:
            job.update(records)
            job["redraw"] = generate_id("")
            self.records.mark_dirty(job["id"])
            self.observers.notify(job["id"], "update", records)

    async def wait_rendered(self, job_id: str) -> None:
        """Wait until the job's html output is rendered (before its final record)."""
        await self.renderer.wait(job_id)

    async def wait_instant(self, job_id: str) -> None:
        """Wait for the still-running ``instant`` actions of a job (before its final record)."""
        await self.reports.wait_instant(job_id)

    # ---- queries used by the event use cases (JobIndex)

    def jobs_in_state(self, event_id: str, state: str) -> list[dict[str, Any]]:
        return [j for j in self.active.values() if j["event"] == event_id and j["state"] == state]

    def jobs_per_server(self) -> dict[str, int]:
        """How many of this conductor's jobs hold each server now (``starting``, ``active``, ``finishing``)."""
        counts: dict[str, int] = {}
        for job in list(self.active.values()):
            if job["state"] in ("starting", "active", "finishing") and job.get("server"):
                counts[job["server"]] = counts.get(job["server"], 0) + 1
        return counts

    def count_in_states(self, event_id: str, states: tuple[str, ...] = ACTIVE_JOB_STATES) -> int:
        return sum(1 for j in self.active.values() if j["event"] == event_id and j["state"] in states)

    def delete_history(self, event_id: str) -> int:
        """Delete every completed job of an event with its log and files (runs on a thread)."""
        count = 0
        for batch in self._store.delete_event_jobs(event_id):
            for job_id in batch:
                self.logs.delete(job_id)
                self.files.delete_job_outputs(job_id)
            count += len(batch)
        return count


__all__ = ["JobEngine", "LaunchError"]
