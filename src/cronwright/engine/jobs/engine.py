"""The job engine: the active set and the state machine (jobs.md §2, §4, §6.2).

Every unfinished job lives in ``active`` and in the job table; each state transition is written
to the database before the engine acts on it (a job is stored as ``active`` before its process is
spawned, so a crash can never make it run twice). The monitor pass runs every second and right
after every launch and completion; it promotes delayed jobs, applies the concurrency and queue
limits, selects a server and dispatches to the local worker. Finishing lives in ``finish.py``.

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
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cronwright.clock import Clock
from cronwright.config import Settings
from cronwright.engine.catalog import Catalog
from cronwright.engine.jobs import admission, selection
from cronwright.engine.jobs.filestore import FileStore
from cronwright.engine.jobs.finish import Finisher, Outcome
from cronwright.engine.jobs.launch import Launcher, LaunchError
from cronwright.engine.jobs.limits import count_conditions, daily_count, due_limits, limit_message, local_day
from cronwright.engine.jobs.logstore import LogStore
from cronwright.engine.jobs.recovery import adopt_orphans, recover_jobs
from cronwright.engine.jobs.renderer import ReportRenderer
from cronwright.engine.jobs.reports import JobReports
from cronwright.engine.jobs.rules import (
    WAITING_STATES,
    first_limit,
    is_enabled,
    limit_amount,
)
from cronwright.engine.jobs.worker import LocalWorker
from cronwright.engine.permits import Permits
from cronwright.engine.servers import ServerRegistry
from cronwright.expr import ExprError, compile_expression, is_truthy
from cronwright.ids import generate_id
from cronwright.logs import fields, job_fields
from cronwright.metrics import Metrics
from cronwright.runner import JobRun
from cronwright.store.base import ACTIVE_JOB_STATES, LostJob, Store, StoreError, StoreWriter

if TYPE_CHECKING:
    from cronwright.engine.actions.runner import ActionRunner

log = logging.getLogger("cronwright.jobs")

#: an aborted job whose run has not ended this long after its kill timeout is finalized anyway
ABORT_GRACE_S = 10.0
#: global-state keys of requests passed between conductors: ``jobctl:<job id>:<action>`` (``request_control``)
CONTROL_PREFIX = "jobctl:"
#: how often the leader looks for jobs whose conductor's lease on them ran out, seconds
ADOPT_INTERVAL_S = 2.0
#: pause between attempts to store a job's ``active`` record while the database refuses it
ACTIVATE_RETRY_S = 1.0
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
        self.launcher = Launcher(catalog, settings, clock)
        self.launcher.daily_count = self.daily_count
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
        self.finisher = Finisher(self)
        self.active: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, JobRun] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._waiters: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}
        self.listeners: dict[str, set[Callable[[str, Any], None]]] = {}
        self._dirty: set[str] = set()
        #: renders plugins' markdown/text/html reports in a worker process
        self.renderer = ReportRenderer(settings.public_url, self.active.get, self._rendered, self.track)
        self._kicked = False
        self._loop_task: asyncio.Task[Any] | None = None
        self._stopping = False
        self._rng = random.Random()
        #: jobs whose log could not be written: job id → the reason shown on the job
        self.log_errors: dict[str, str] = {}
        #: aborted jobs with a run: job id → monotonic time of the abort (see ``ABORT_GRACE_S``)
        self._aborted_at: dict[str, float] = {}
        #: set by the conductor: applies ``update_event``/``delete_event`` of a finished job
        self.apply_event_changes: Callable[[dict[str, Any]], None] = lambda job: None
        #: set by the conductor: runs actions (start, completion, instant) and limit notifications
        self.actions: ActionRunner | None = None
        #: what a job may push or output (who it acts for): see engine/permits.py
        self.permits = Permits(catalog, clock.now)
        self.zone: Any = None
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
        #: jobs whose start waits for the database (noted once on the job)
        self._db_waits: set[str] = set()

    # read-only views for the engine's collaborators (finish.py, recovery.py)

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
    def local_server_id(self) -> str:
        return self._servers.local_id

    @property
    def stopping(self) -> bool:
        """The engine is shutting down (live streams end without a final update)."""
        return self._stopping

    # ---- lifecycle

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
        for job_id in list(self.runs):
            self.abort(job_id, SHUTDOWN_REASON, retry_ok=True)
        for job in list(self.active.values()):
            if job["state"] == "starting":
                self.abort(job["id"], SHUTDOWN_REASON, retry_ok=True)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self._settings.child_kill_timeout_s + 10)
        if not self.flush():
            log.error("progress of %d running job(s) could not be stored at shutdown", len(self._dirty))
        self.renderer.shutdown()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                self.monitor()
                self.flush()
                if time.monotonic() >= self._next_adoption:
                    self._next_adoption = time.monotonic() + ADOPT_INTERVAL_S
                    if self.leading():
                        await adopt_orphans(self)
                    await self.apply_control_requests()
            except StoreError as exc:  # the database is out of reach: the next pass tries again
                log.warning("job monitor pass incomplete: %s", exc)
            except Exception:
                log.exception("job monitor pass failed")

    def spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("job task %s failed", task.get_name(), exc_info=task.exception())

    # ---- persistence

    def persist(self, job: dict[str, Any]) -> None:
        """Store the job's record now; raises ``StoreError`` (transient failures were retried)."""
        try:
            self._store.transact(lambda w: w.put_job(job))
        except LostJob:
            self.lost(job)
            raise
        self._dirty.discard(job["id"])

    def try_persist(self, job: dict[str, Any]) -> bool:
        """Store the job's record now, or leave it to the monitor's next flush (False)."""
        try:
            self.persist(job)
        except LostJob:
            return False
        except StoreError as exc:
            log.warning("job %s not stored yet (%s); retrying on the next pass", job["id"], exc)
            self._dirty.add(job["id"])
            return False
        return True

    def lost(self, job: dict[str, Any]) -> None:
        """Another conductor adopted the job (this one's lease on it ran out, e.g. while it was
        paused or cut off from the database): stop it here and write nothing more about it."""
        if self.active.pop(job["id"], None) is None:
            return
        log.error("job %s was adopted by another conductor; stopping it here", job["id"], extra=job_fields(job))
        self._dirty.discard(job["id"])
        job["lost"] = True
        job["abort_reason"] = job.get("abort_reason") or "Adopted by another conductor."
        run = self.runs.get(job["id"])
        if run is not None:
            run.abort(job["abort_reason"])
        for future in self._waiters.pop(job["id"], []):
            if not future.done():
                future.cancel()
        self.listeners.pop(job["id"], None)

    def mark_dirty(self, job_id: str) -> None:
        self._dirty.add(job_id)

    def flush(self) -> bool:
        """Write progress of running jobs (transitions are written at once; this is the rest).
        False when the database refused: the jobs stay dirty for the next pass."""
        ids = [j for j in self._dirty if j in self.active]
        self._dirty.clear()
        if not ids:
            return True
        dirty = [self.active[j] for j in ids]

        def put_all(w: Any) -> None:
            for job in dirty:
                w.put_job(job)

        try:
            self._store.transact(put_all)
        except LostJob:  # one of them was adopted elsewhere: store them one by one
            return all([self.try_persist(job) or job.get("lost", False) for job in dirty])
        except StoreError as exc:
            log.warning("progress of %d job(s) not stored (%s); retrying on the next pass", len(ids), exc)
            self._dirty.update(ids)
            return False
        return True

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
            servers = self._candidates({**request, "limits": request.get("limits") or []})
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
                self.spawn(self.finisher.finish(job, Outcome(code=1, description=job.pop("setup_error"))), "finish")
            self.wake_at(job.get("until"))
        self.kick()
        return jobs

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
            self.try_persist(job)
            state = "ready"
        if state == "ready":
            self._start_ready(job)
        elif state == "active":
            if self._abort_overdue(job):
                return
            if now - (job.get("updated") or now) >= self._settings.dead_job_timeout_s:
                self.abort(job["id"], "No updates received in last 2 minutes, assuming job is dead.", retry_ok=True)
                return
            for limit in due_limits(job, now):
                self._fire_limit(job, limit, now)
        elif state == "complete" and job.get("final"):
            self.finisher.save_final(job)  # the database refused the final record earlier

    def _refuse(self, job: dict[str, Any], reason: str, full_reason: str, *, retry_ok: bool) -> None:
        queue = limit_amount(first_limit(job, "queue"))
        self.abort(job["id"], full_reason if queue else reason, retry_ok=retry_ok)

    def _queue_or_abort(self, job: dict[str, Any], reason: str, full_reason: str, *, retry_ok: bool) -> None:
        if self._store.transact(lambda w: admission.enqueue(w, job)) == "refused":
            self._refuse(job, reason, full_reason, retry_ok=retry_ok)
        else:
            self._dirty.discard(job["id"])

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
            server = self._select_server(job)
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
        self.spawn(self._dispatch(job), f"job {job['id']}")

    def _candidates(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        servers = self._servers.connected_servers()
        running = [j for j in self.active.values() if j["state"] in ("active", "starting")]
        matches = None
        if isinstance(job.get("expression"), str) and job["expression"].strip():
            try:
                compiled = compile_expression(job["expression"])
            except ExprError as exc:
                self.launcher.note(job, f"Target expression ignored: {exc}")
            else:

                def matches(server: dict[str, Any]) -> bool:
                    try:
                        return is_truthy(compiled.evaluate(server))
                    except ExprError:
                        return True

        groups = {g["id"]: g for g in self._catalog["groups"].values()}
        return selection.candidates(
            job.get("targets") or [], servers, groups, running, selection.job_weight(job), matches
        )

    def _select_server(self, job: dict[str, Any]) -> dict[str, Any] | None:
        cands = self._candidates(job)
        algo = str(job.get("algo") or "random")
        active = [j for j in self.active.values() if j["state"] == "active"]
        if algo != "round_robin":
            return selection.choose(algo, cands, robin=0, active_jobs=active, rng=self._rng).server

        def choose(w: Any) -> dict[str, Any] | None:  # the counter is read and moved in one transaction
            state = w.event_state_for_update(job["event"])
            choice = selection.choose(
                algo, cands, robin=int(state.get("robin") or 0), active_jobs=active, rng=self._rng
            )
            if choice.robin is not None:
                w.set_event_state(job["event"], {**state, "robin": choice.robin})
            return choice.server

        return self._store.transact(choose)

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
            if (
                limit
                and sum(
                    1 for j in self.active.values() if j["event"] == head["event"] and j["state"] in admission.RUNNING
                )
                >= limit
            ):
                continue  # full on this conductor alone: no need to ask the database
            if not self._candidates(head):
                continue
            try:
                if not self._take_turn(head, limit):
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

    def _take_turn(self, job: dict[str, Any], limit: float | None) -> bool:
        return self._store.transact(lambda w: admission.take_turn(w, job, limit))

    async def _dispatch(self, job: dict[str, Any]) -> None:
        """``starting``: run the start actions (they may suspend the job), then run it."""
        try:
            await self._dispatch_steps(job)
        except Exception:  # a job must never stay ``starting`` forever
            log.exception("starting job %s failed", job["id"])
            await self._fail_unstarted(job)

    async def _fail_unstarted(self, job: dict[str, Any]) -> None:
        """End a job whose start failed unexpectedly (it has no process): never leave it hanging."""
        if job["id"] in self.active and job["id"] not in self.runs and job["state"] in ("starting", "active"):
            outcome = Outcome(code=1, description="Job could not be started: internal error (see the server log).")
            await self.finisher.finish(job, outcome)

    async def _dispatch_steps(self, job: dict[str, Any]) -> None:
        if job["state"] != "starting":  # aborted meanwhile
            return
        if self.actions is not None and self.actions.collect(job, ["start"]):
            await self.actions.run(job, ["start"])
        try:
            self.count_day(job, ["start"])
        except StoreError as exc:  # a missed counter must not keep the job from running
            log.warning("daily start of job %s not counted: %s", job["id"], exc)
        if job["state"] != "starting":  # aborted while the start actions ran
            return
        if job.get("suspended"):
            job["state"] = "suspended"
            self.try_persist(job)
            self.notify(job["id"], "update", {"state": "suspended"})
            return
        await self._run_active(job)

    def resume(self, job_id: str) -> bool:
        """Continue a suspended job (``resume_job``); False when it is not suspended."""
        job = self.active.get(job_id)
        if job is None or job["state"] != "suspended":
            return False
        job["suspended"] = False
        job["state"] = "starting"
        self.spawn(self._run_active_guarded(job), f"job {job_id}")
        return True

    async def _run_active_guarded(self, job: dict[str, Any]) -> None:
        try:
            await self._run_active(job)
        except Exception:
            log.exception("running job %s failed", job["id"])
            await self._fail_unstarted(job)

    async def _run_active(self, job: dict[str, Any]) -> None:
        """``active``: spawn the process on the local worker and finish with its result."""
        job_id = job["id"]
        plugin = self._catalog["plugins"].get(job.get("plugin"))
        if not self._servers.is_connected(job["server"]):
            outcome = Outcome(code="abort", description="Chosen server is no longer connected.", retry_ok=True)
            await self.finisher.finish(job, outcome)
            return
        if not await self._record_active(job):
            return  # aborted while the database refused the record
        try:
            run = self.worker.prepare(job, plugin)
        except OSError as exc:
            await self.finisher.finish(job, Outcome(code=1, description=f"Setup Error: {exc}"))
            return
        self.runs[job_id] = run
        if job.get("abort_reason"):
            run.abort(job["abort_reason"])
        try:
            result = await run.wait()
        finally:
            self.runs.pop(job_id, None)
            self._aborted_at.pop(job_id, None)
        await self.finisher.finish(job, Outcome.from_result(result, retry_ok=bool(job.get("retry_ok"))))

    async def _record_active(self, job: dict[str, Any]) -> bool:
        """Store the job as ``active`` before its process exists (a crash must never run it twice).
        While the database refuses, the job waits as ``starting`` (abortable) and the write is
        retried; False when it was aborted meanwhile."""
        waiting = False
        while True:
            now = self._clock.now()
            job.update(state="active", started=now, updated=now, progress=0)
            try:
                self.persist(job)
                return True
            except StoreError as exc:
                job["state"] = "starting"
                log.warning("job %s waits for the database to start (%s)", job["id"], exc)
                if not waiting:
                    self.launcher.note(job, f"Waiting for the database before starting: {exc}")
                    waiting = True
            await asyncio.sleep(ACTIVATE_RETRY_S)
            if job["state"] != "starting" or job.get("abort_reason") or self._stopping:
                return False

    # ---- limits and daily counters

    def _fire_limit(self, job: dict[str, Any], limit: dict[str, Any], now: float) -> None:
        msg = limit_message(limit)
        limit.update(
            date=now, code=0, details="", msg=msg, elapsed_ms=round((now - (job.get("started") or now)) * 1000)
        )
        self.launcher.note(job, msg)
        tags = [t for t in limit.get("tags") or [] if isinstance(t, str)]
        if tags:
            job["tags"] = list(dict.fromkeys([*(job.get("tags") or []), *tags]))
        self.mark_dirty(job["id"])
        self.notify(job["id"], "update", {"limits": job.get("limits"), "tags": job.get("tags")})
        text = msg.rstrip(".") + (" (Job aborted)" if limit.get("abort") else "")
        if self.actions is not None and (limit.get("users") or limit.get("email") or limit.get("web_hook")):
            self.spawn(self._notify_limit(job, limit, text), "limit notification")
        else:
            limit["description"] = "Successfully applied limits."
        if limit.get("abort"):
            self.abort(job["id"], msg, retry_ok=True)

    async def _notify_limit(self, job: dict[str, Any], limit: dict[str, Any], text: str) -> None:
        assert self.actions is not None
        outcome = await self.actions.notify_limit(job, limit, text)
        limit["code"], limit["description"] = outcome.code, outcome.description
        if job["id"] in self.active:
            self.mark_dirty(job["id"])

    def has_day_limit(self, job: dict[str, Any]) -> bool:
        return any(is_enabled(limit) and limit.get("type") == "day" for limit in job.get("limits") or [])

    def count_day(self, job: dict[str, Any], conditions: list[str]) -> None:
        """Count conditions for ``day`` limits (only for jobs that carry one)."""
        if not self.has_day_limit(job) or job.get("event") not in self._catalog["events"]:
            return
        day = local_day(self._clock.now(), self.zone)

        def count(w: Any) -> None:  # read and written in one transaction, the row locked
            w.set_event_state(job["event"], count_conditions(w.event_state_for_update(job["event"]), conditions, day))

        self._store.transact(count)

    def daily_count(self, event_id: str, condition: str) -> int:
        return daily_count(self._store.get_event_state(event_id), condition, local_day(self._clock.now(), self.zone))

    # ---- aborting

    def abort(self, job_id: str, reason: str, *, retry_ok: bool = False) -> bool:
        """Abort an unfinished job; False when it is not active."""
        job = self.active.get(job_id)
        if job is None or job.get("complete") or job["state"] == "finishing":
            return False
        job["retry_ok"] = retry_ok
        run = self.runs.get(job_id)
        if run is not None:
            job["abort_reason"] = reason
            self._aborted_at.setdefault(job_id, time.monotonic())
            run.abort(reason)
        elif job["state"] == "starting":
            job["abort_reason"] = reason
            job["state"] = "finishing"
            self.spawn(self.finisher.finish(job, Outcome(code="abort", description=reason, retry_ok=retry_ok)), "abort")
        elif job["state"] in (*WAITING_STATES, "suspended", "active"):
            job["state"] = "finishing"
            self.spawn(self.finisher.finish(job, Outcome(code="abort", description=reason, retry_ok=retry_ok)), "abort")
        return True

    # ---- requests for a job that another conductor runs (JobService: abort, resume, skip delay, flush)

    def request_control(self, job_id: str, action: str, reason: str = "") -> None:
        """Ask the job's conductor, wherever it runs, to ``abort``, ``resume``, ``skip_delay`` or
        ``flush`` (drop from its queue) the job: stored (so a conductor that adopts the job later
        honours it too, and nothing is lost while the change feed reconnects) and announced (its
        conductor acts within moments; otherwise on its next pass, ``ADOPT_INTERVAL_S``)."""
        with self._store.write() as w:
            w.set_kv(f"{CONTROL_PREFIX}{job_id}:{action}", {"reason": reason})
        self._store.announce({"k": "control", "id": job_id})

    async def apply_control_requests(self) -> None:
        """Carry out the requests for this conductor's jobs; drop those whose job has ended."""
        requests = await self.offload(self._store.kv_with_prefix, CONTROL_PREFIX)
        for key, request in requests.items():
            job_id, _, action = key[len(CONTROL_PREFIX) :].partition(":")
            job = self.active.get(job_id)
            if job is not None:
                reason = request.get("reason") if isinstance(request, dict) else None
                self._control(job, action, reason if isinstance(reason, str) else "")
            elif (await self.offload(self._store.get_job, job_id) or {}).get("state", "complete") != "complete":
                continue  # another conductor's job: it acts on the request
            with self._store.write() as w:
                w.delete_kv(key)

    def _control(self, job: dict[str, Any], action: str, reason: str) -> None:
        if action == "abort":
            self.abort(job["id"], reason or "Aborted.")
        elif action == "resume" and job["state"] == "suspended":
            if reason:
                self.launcher.note(job, reason)
            self.resume(job["id"])
        elif action == "skip_delay" and job["state"] in ("start_delay", "retry_delay"):
            self.skip_delay(job)
        elif action == "flush" and job["state"] == "queued":
            self._drop_queued([job])

    def skip_delay(self, job: dict[str, Any]) -> None:
        """Start a delayed job now (``job_skip_delay``)."""
        job["until"] = self._clock.now()
        self.persist(job)
        self.kick()

    def _abort_overdue(self, job: dict[str, Any]) -> bool:
        """Finalize an aborted job whose run never ended (a process stuck in the kernel ignores
        SIGKILL): its record must not stay ``active`` forever. True when it was finalized."""
        aborted_at = self._aborted_at.get(job["id"])
        if aborted_at is None or job["id"] not in self.runs:
            return False
        if time.monotonic() - aborted_at < self._settings.child_kill_timeout_s + ABORT_GRACE_S:
            return False
        log.error("job %s: its process did not exit after it was killed; finalizing it anyway", job["id"])
        self.runs.pop(job["id"], None)
        self._aborted_at.pop(job["id"], None)
        reason = str(job.get("abort_reason") or "Aborted.")
        job["state"] = "finishing"
        description = f"{reason} The job's process did not exit after it was killed."
        outcome = Outcome(code="abort", description=description, retry_ok=bool(job.get("retry_ok")))
        self.spawn(self.finisher.finish(job, outcome), "abort")
        return True

    # ---- runner callbacks (JobUpdates): they never raise into the runner

    def _rendered(self, job: dict[str, Any], records: dict[str, Any], notes: list[str]) -> None:
        """A report rendered by ``self.renderer`` (engine/jobs/renderer.py): applied to the live job."""
        for note in notes:
            self.launcher.note(job, note)
        if records and job["id"] in self.active:
            job.update(records)
            job["redraw"] = generate_id("")
            self.mark_dirty(job["id"])
            self.notify(job["id"], "update", records)

    async def wait_rendered(self, job_id: str) -> None:
        """Wait until the job's html output is rendered (before its final record)."""
        await self.renderer.wait(job_id)

    async def wait_instant(self, job_id: str) -> None:
        """Wait for the still-running ``instant`` actions of a job (before its final record)."""
        await self.reports.wait_instant(job_id)

    def track(self, task: asyncio.Task[Any]) -> None:
        """Count a task among the engine's (shutdown waits for it; a failure is logged)."""
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    # ---- observers

    def notify(self, job_id: str, kind: str, payload: Any) -> None:
        for listener in list(self.listeners.get(job_id, ())):
            listener(kind, payload)

    def wait_for(self, job_id: str) -> asyncio.Future[dict[str, Any]]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(job_id, []).append(future)
        return future

    def completed(self, job: dict[str, Any]) -> None:
        """Called by the finisher once the final record is stored."""
        self.active.pop(job["id"], None)
        self._db_waits.discard(job["id"])
        self._dirty.discard(job["id"])
        for future in self._waiters.pop(job["id"], []):
            if not future.done():
                future.set_result(job)
        self.notify(job["id"], "complete", job)
        self.listeners.pop(job["id"], None)
        self.kick()

    # ---- queries used by the event use cases (JobIndex)

    def jobs_in_state(self, event_id: str, state: str) -> list[dict[str, Any]]:
        return [j for j in self.active.values() if j["event"] == event_id and j["state"] == state]

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

    def flush_queue(self, event_id: str) -> int:
        """Remove this conductor's queued jobs of an event silently (no actions, no records)."""
        queued = [j for j in self.active.values() if j["event"] == event_id and j["state"] == "queued"]
        self._drop_queued(queued)
        return len(queued)

    def _drop_queued(self, queued: list[dict[str, Any]]) -> None:
        with self._store.write() as w:
            for job in queued:
                w.delete_job(job["id"])
        for job in queued:
            self.active.pop(job["id"], None)
            for future in self._waiters.pop(job["id"], []):
                if not future.done():
                    future.cancel()


__all__ = ["JobEngine", "LaunchError"]
