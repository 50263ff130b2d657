"""What a running job reports (the local worker's ``JobUpdates``, engine/jobs/worker.py): its
process id, log output, progress and other updates, pushed tags/actions/limits, and notices.

Each report changes the live job in the engine's active set (stored by the engine's next flush,
or at once where a crash must not lose it), tells the job's listeners (live streams), and hands
reports to render (markdown, text, html) to the engine's renderer. Nothing here decides whether a
job runs: that is the engine's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from cronwright.engine.jobs.rules import OUTPUT_PROTECTED, RENDERED_KEYS
from cronwright.ids import generate_id
from cronwright.logs import fields

if TYPE_CHECKING:
    from cronwright.engine.jobs.engine import JobEngine

log = logging.getLogger("cronwright.jobs")

#: the most tags, actions and limits a job may push (each)
MAX_PUSHED_ITEMS = 1000
#: job output keys applied only when the job finishes (never by a live update)
_AT_FINISH = frozenset({"update_event", "delete_event"})
#: an update with one of these gives the job a new ``redraw`` token (sdk-wire.md §1.9)
_REDRAW_KEYS = frozenset({"table", "html", "markdown", "text", "perf"})


class JobReports:
    def __init__(self, engine: JobEngine) -> None:
        self._engine = engine
        #: still-running ``instant`` actions per job (``wait_instant`` before the final record)
        self._instant: dict[str, set[asyncio.Task[Any]]] = {}

    def job_started(self, job_id: str, pid: int) -> None:
        job = self._engine.active.get(job_id)
        if job is not None:
            job["pid"] = pid
            log.debug("job process started", extra=fields(job_id=job_id, event=job.get("event"), pid=pid))
            self._engine.records.try_persist(job)  # recorded at once: after a crash, the next start can kill the orphan

    def job_log(self, job_id: str, chunk: bytes) -> None:
        job = self._engine.active.get(job_id)
        if job is None:
            return
        job["updated"] = self._engine.clock.now()  # alive, even when its output cannot be stored
        if job_id in self._engine.log_errors:
            return
        try:
            self._engine.logs.append(job_id, chunk)
        except OSError as exc:
            self._log_failed(job, exc)
            return
        job["log_file_size"] = job.get("log_file_size", 0) + len(chunk)
        self._engine.observers.notify(job_id, "log", chunk.decode("utf-8", errors="replace"))

    def _log_failed(self, job: dict[str, Any], exc: OSError) -> None:
        """The job's output can no longer be stored (disk full, ...): end the job, saying why."""
        reason = f"Job log could not be written: {exc.strerror or 'I/O error'}."
        log.error("log of job %s could not be written: %s", job["id"], exc)
        self._engine.log_errors[job["id"]] = reason
        self._engine.launcher.note(job, reason)
        self._engine.logs.close(job["id"])
        self._engine.abort(job["id"], reason, retry_ok=True)

    def job_update(self, job_id: str, changes: dict[str, Any]) -> None:
        job = self._engine.active.get(job_id)
        if job is None:
            return
        # update_event/delete_event take effect at finish, where they are authorized (Permits.screen_outputs)
        clean = {k: v for k, v in changes.items() if k not in OUTPUT_PROTECTED and k not in _AT_FINISH}
        rendered = {key: clean.pop(key) for key in RENDERED_KEYS if key in clean}
        if rendered:
            self._engine.renderer.queue(job, rendered)
        redraw = not clean.keys().isdisjoint(_REDRAW_KEYS) or (
            "status" in clean and clean["status"] != job.get("status")
        )
        job.update(clean)
        if redraw:
            job["redraw"] = generate_id("")
        job["updated"] = self._engine.clock.now()
        self._engine.records.mark_dirty(job_id)
        self._engine.observers.notify(job_id, "update", clean)

    def job_push(self, job_id: str, push: dict[str, list[Any]]) -> None:
        """Append pushed ``tags``, ``actions`` and ``limits`` (at most ``MAX_PUSHED_ITEMS`` of each on
        a job; the cap is noted once); actions and limits are validated and authorized by the job's
        principal first (``Permits.screen_pushed``), refused ones noted. Lists grow in place, so many
        small pushes cost time linear in their number."""
        job = self._engine.active.get(job_id)
        if job is None:
            return
        wanted: dict[str, list[Any]] = {}
        for key in ("tags", "actions", "limits"):
            items = push.get(key)
            if not isinstance(items, list):
                continue
            room = MAX_PUSHED_ITEMS - len(job.get(key) or [])
            if len(items) > room:
                if room > 0:
                    self._engine.launcher.note(job, f"Pushed {key} beyond {MAX_PUSHED_ITEMS:,} per job are ignored.")
                items = items[: max(0, room)]
            if items:
                wanted[key] = items
        if not wanted:
            return
        screened, notes = self._engine.permits.screen_pushed(job, wanted)
        for note in notes:
            self._engine.launcher.note(job, note)
        screened["tags"] = [t for t in wanted.get("tags", ()) if isinstance(t, str)]
        for key, items in screened.items():
            if key == "actions":
                items = [{**a, "source": "job"} for a in items]
            current = job.get(key)
            if not isinstance(current, list):
                current = job[key] = []
            current.extend(items)
        self._engine.records.mark_dirty(job_id)
        job["redraw"] = generate_id("")
        if (
            screened.get("actions")
            and self._engine.actions is not None
            and self._engine.actions.collect(job, ["instant"])
        ):
            task = asyncio.get_running_loop().create_task(self._engine.actions.run(job, ["instant"]))
            self._instant.setdefault(job_id, set()).add(task)
            self._engine.tasks.track(task)

    async def wait_instant(self, job_id: str) -> None:
        """Wait for the still-running ``instant`` actions of a job (before its final record)."""
        tasks = self._instant.pop(job_id, set())
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def job_notice(self, job_id: str, message: str) -> None:
        job = self._engine.active.get(job_id)
        if job is not None:
            self._engine.launcher.note(job, message)
