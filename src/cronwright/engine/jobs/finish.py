"""Finishing a job (jobs.md §6.1): results, output files, code, retries, tags, event state, the
final record — in an order that makes every effect visible before the record says ``final``.

Finishing always ends: a step that fails (output files or the log on a full disk, a retry the
database refuses, an action or an event change that raises) is noted on the job's meta log with a
message fit for its readers (no exception text from inside Cronwright) and the next step runs; a
final record the database refuses stays pending and the monitor stores it later."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cronwright.engine.common import public_reason
from cronwright.engine.jobs.filestore import FileTooLarge
from cronwright.engine.jobs.launch import LaunchError
from cronwright.engine.jobs.limit_watch import has_day_limit
from cronwright.engine.jobs.limits import count_conditions, local_day
from cronwright.engine.jobs.rules import (
    JOB_EVENT_REQUESTS,
    LIVE_ONLY_FIELDS,
    OUTPUT_PROTECTED,
    RENDERED_KEYS,
    completion_conditions,
    final_tags,
    first_limit,
    limit_amount,
    normalize_code,
    retry_request,
)
from cronwright.logs import job_fields
from cronwright.metrics import job_outcome
from cronwright.runner import OutputFile, RunResult
from cronwright.runner.protocol import is_success_code
from cronwright.store.base import LostJob, StoreError

log = logging.getLogger("cronwright.jobs")

if TYPE_CHECKING:
    from cronwright.engine.jobs.engine import JobEngine


@dataclass
class Outcome:
    """How a job ended, from the runner or from the engine (abort, setup error)."""

    code: int | float | str = 0
    description: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] | None = None
    files: list[OutputFile] = field(default_factory=list)
    cpu: dict[str, float] | None = None
    mem: dict[str, float] | None = None
    retry_ok: bool = False
    #: output files already in storage (uploaded by a remote agent), listed before ``files``
    stored: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_result(cls, result: RunResult, *, retry_ok: bool) -> Outcome:
        return cls(
            code=result.code,
            description=result.description,
            fields=result.fields,
            data=result.data,
            files=result.files,
            cpu=result.cpu.as_dict() if result.cpu.count else None,
            mem=result.mem.as_dict() if result.mem.count else None,
            retry_ok=retry_ok,
            stored=result.stored,
        )


#: at most this much of a failed job's description goes into its log line
_DESCRIPTION_CHARS = 200


def _report_finished(engine: JobEngine, job: dict[str, Any]) -> None:
    """The ``job finished`` log line and metrics (never raises: the job is already stored)."""
    try:
        outcome = job_outcome(job.get("code"))
        engine.metrics.job_finished(job)
        failed = outcome != "success"
        log.log(
            logging.WARNING if failed else logging.INFO,
            "job finished",
            extra=job_fields(
                job,
                server=job.get("server") or None,
                code=job.get("code"),
                outcome=outcome,
                elapsed_s=job.get("elapsed"),
                retried=True if job.get("retried") else None,
                description=str(job.get("description") or "")[:_DESCRIPTION_CHARS] if failed else None,
            ),
        )
    except Exception:
        log.exception("reporting the end of job %s failed", job.get("id"))


class Finisher:
    def __init__(self, engine: JobEngine) -> None:
        self._engine = engine
        self._finishing: set[str] = set()  # job ids being finished (a second call is ignored)

    async def finish(self, job: dict[str, Any], outcome: Outcome) -> None:
        """Finish a job. It always reaches its final record: a failing step degrades (noted on
        the job) instead of leaving the job ``finishing`` forever."""
        if job.get("complete") or job["id"] in self._finishing:
            return
        if job.get("lost"):  # another conductor adopted it and finishes it
            self._engine.worker.cleanup(job["id"])
            return
        self._finishing.add(job["id"])
        try:
            await self._finish(job, outcome)
        except Exception:
            log.exception("finishing job %s failed; storing its final record anyway", job["id"])
            self._finalize_anyway(job, outcome)
        finally:
            self._finishing.discard(job["id"])
            self._engine.log_errors.pop(job["id"], None)

    def _finalize_anyway(self, job: dict[str, Any], outcome: Outcome) -> None:
        """The last resort after an unexpected error: the job's final record, with what is known."""
        if job.get("final"):
            return  # only storing it failed: ``save_final`` left it to the monitor
        engine = self._engine
        now = engine.clock.now()
        job.setdefault("completed", now)
        job.setdefault("elapsed", round(max(0.0, job["completed"] - (job.get("started") or now)), 3))
        if "code" not in job or "description" not in job:
            job["code"], job["description"] = normalize_code(outcome.code), str(outcome.description or "")
        job.setdefault("files", [])
        job.update(complete=True, progress=1.0)
        engine.launcher.note(job, "Job could not be completed normally: internal error (see the server log).")
        for key in ("abort_reason", "setup_error", "cwd", *LIVE_ONLY_FIELDS):
            job.pop(key, None)
        job.update(final=True, state="complete")
        self.save_final(job)

    def _degrade(self, job: dict[str, Any], step: str, exc: Exception) -> None:
        """A finishing step failed: note it on the job (server log: the details) and go on."""
        log.error("job %s: %s failed", job["id"], step, exc_info=exc)
        self._engine.launcher.note(job, f"Job could not be completed normally: {step} failed: {public_reason(exc)}.")

    async def _finish(self, job: dict[str, Any], outcome: Outcome) -> None:
        engine = self._engine
        job["state"] = "finishing"
        await engine.wait_rendered(job["id"])
        # a run's output records were applied live (rendered, with redraws) as they arrived; only
        # the event requests wait for the end, and what a run never reported live is added
        fields = {
            k: v
            for k, v in outcome.fields.items()
            if k not in OUTPUT_PROTECTED and (k in JOB_EVENT_REQUESTS or (k not in job and k not in RENDERED_KEYS))
        }
        for note in engine.permits.screen_outputs(job, fields):  # update_event/delete_event need authority
            engine.launcher.note(job, note)
        job.update(fields)
        if outcome.data:
            job["data"] = outcome.data
        job.setdefault("data", {})
        for key, stats in (("cpu", outcome.cpu), ("mem", outcome.mem)):
            if stats:
                job[key] = stats
        code, description = outcome.code, outcome.description
        outputs = list(outcome.files)
        legacy = await asyncio.to_thread(engine.worker.legacy_log, job)
        if legacy is not None:  # the job's $JOB_LOG, attached last (sdk-wire.md §2.4)
            outputs.append(OutputFile(path=legacy, filename=f"job-{job['id']}.log", delete=True))
        stored, error = await asyncio.to_thread(self._store_outputs, job, outputs)
        if error:
            code, description, stored = "upload", error, []
        job["files"] = [*outcome.stored, *stored]
        now = engine.clock.now()
        started = job.get("started") or now
        job.update(completed=now, elapsed=round(max(0.0, now - started), 3), complete=True, progress=1.0)
        job["log_file_size"] = await self._finish_log(job)
        log_error = engine.log_errors.get(job["id"])
        if log_error and is_success_code(code):  # the process ended well, but its output was cut
            code, description = "abort", log_error
        if code and not description:
            description = "Unknown Error (no description provided)"
        job["code"], job["description"] = normalize_code(code), str(description)
        job["retry_ok"] = outcome.retry_ok or bool(job.get("retry_ok"))
        if job.get("ephemeral") and (job["files"] or job["code"]):
            job.pop("ephemeral")
        try:
            self._retry(job, now)
        except Exception as exc:
            self._degrade(job, "the retry", exc)
        conditions = completion_conditions(job)
        if engine.actions is not None and conditions:
            try:
                await engine.actions.run(job, conditions)
            except Exception as exc:
                self._degrade(job, "the completion actions", exc)
        await engine.wait_instant(job["id"])
        known = {}
        for tag in engine.catalog["tags"].values():
            known[tag["id"]] = tag["id"]
            if isinstance(tag.get("title"), str):
                known.setdefault(tag["title"], tag["id"])
        has_files = bool(job["files"] or (job.get("input") or {}).get("files"))
        job["tags"], notes = final_tags(job, known, has_files)
        for note in notes:
            engine.launcher.note(job, note)
        if not job.get("retried"):
            try:
                engine.apply_event_changes(job)
            except Exception as exc:  # a bad update_event from a plugin must not lose the job
                log.warning("job %s: event change not applied: %r", job["id"], exc)
                engine.launcher.note(job, f"Event change from job output not applied: {public_reason(exc)}")
        event = engine.catalog["events"].get(job["event"])
        if event is not None:
            job["event_title"], job["event_revision"] = event.get("title"), event.get("revision")
        for key in ("abort_reason", "setup_error", "cwd", *LIVE_ONLY_FIELDS):
            job.pop(key, None)
        job.update(final=True, state="complete")
        self.save_final(job)

    async def _finish_log(self, job: dict[str, Any]) -> int:
        """Close and compress the job's log (on a thread); its size. A log that cannot be
        compressed (disk full) is kept as it is, and the meta log says so."""
        engine = self._engine
        try:
            return await asyncio.to_thread(engine.logs.finish, job["id"])
        except OSError as exc:
            log.error("log of job %s could not be compressed: %s", job["id"], exc)
            reason = exc.strerror or "I/O error"
            engine.launcher.note(job, f"Job log could not be compressed: {reason}; it is kept uncompressed.")
            return engine.logs.size(job["id"])

    def save_final(self, job: dict[str, Any]) -> bool:
        """Store the final record and the event's state, then release the job. When the database
        fails, the job stays in the active set (state ``complete``) and the monitor retries, so the
        record is never lost."""
        engine = self._engine
        event = engine.catalog["events"].get(job["event"])
        now = job["completed"]

        def store(w: Any) -> None:
            if job.get("ephemeral"):
                w.delete_job(job["id"])
            else:
                w.put_job(job)
            if not job.get("retried") and event is not None:
                state = w.event_state_for_update(job["event"])
                if has_day_limit(job):
                    state = count_conditions(state, completion_conditions(job), local_day(now, engine.zone))
                state.update(
                    last_job=job["id"],
                    last_code=job["code"],
                    last_completed=int(now),
                    total_elapsed=round((state.get("total_elapsed") or 0) + job["elapsed"], 3),
                    total_count=(state.get("total_count") or 0) + 1,
                )
                w.set_event_state(job["event"], state)

        if job.get("lost"):  # adopted by another conductor: it writes the record
            engine.worker.cleanup(job["id"])
            return True
        try:
            engine.store.transact(store)
        except LostJob:
            engine.lost(job)
            engine.worker.cleanup(job["id"])
            return True
        except StoreError as exc:
            log.warning("final record of job %s not stored (%s); retrying on the next pass", job["id"], exc)
            return False
        except Exception:
            log.exception("storing the final record of job %s failed; retrying on the next pass", job["id"])
            return False
        engine.worker.cleanup(job["id"])
        _report_finished(engine, job)
        engine.completed(job)
        return True

    def _retry(self, job: dict[str, Any], now: float) -> None:
        request = retry_request(job, now)
        if request is None:
            return
        try:
            retry = self._engine.launch(request)[0]
        except (LaunchError, StoreError) as exc:
            self._engine.launcher.note(job, f"Retry not launched: {public_reason(exc)}")
            return
        job["retried"] = True
        job.setdefault("jobs", []).append({"id": retry["id"], "reason": "retry"})

    def _store_outputs(self, job: dict[str, Any], files: list[OutputFile]) -> tuple[list[dict[str, Any]], str]:
        """Move/copy output files into storage (on a thread); returns (records, error)."""
        engine = self._engine
        cwd = Path(os.path.realpath(job["cwd"])) if job.get("cwd") else None
        records = []
        last_use = {out.path: index for index, out in enumerate(files)}  # one file may be listed twice
        cap = engine.settings.job_output_file_max_bytes or None
        try:
            for index, out in enumerate(files):
                inside = cwd is not None and out.path.is_relative_to(cwd)
                move = (out.delete or inside) and last_use[out.path] == index
                try:
                    key, size = engine.files.store(
                        out.path, parts=("jobs", job["id"]), filename=out.filename, move=move, max_bytes=cap
                    )
                except FileTooLarge as exc:
                    engine.launcher.note(job, f"Output file too large, not stored: {out.filename} ({exc.strerror}).")
                    continue
                records.append(
                    engine.files.record(
                        key, size, out.filename, engine.clock.now(), server=job.get("server", ""), job=job["id"]
                    )
                )
        except OSError as exc:
            return [], f"Failed to store output file: {exc}"
        return records, ""

    def prune_input_files(self, job: dict[str, Any]) -> None:
        """Apply the ``file`` limit to ``input.files`` (limits-actions.md §2.2); never refuses."""
        limit = first_limit(job, "file")
        files = (job.get("input") or {}).get("files")
        if not limit or not isinstance(files, list) or not files:
            return
        kept = list(files)
        amount = limit_amount(limit)
        if amount is not None:
            kept = kept[: max(0, int(amount))]
        size_cap = limit_amount({"amount": limit.get("size")})
        if size_cap:
            total, fitting = 0, []
            for entry in kept:
                total += entry.get("size") or 0
                if total > size_cap:
                    break
                fitting.append(entry)
            kept = fitting
        accept = limit.get("accept")
        if isinstance(accept, str) and accept.strip():
            endings = tuple(e.strip().lower() for e in accept.split(",") if e.strip())
            kept = [f for f in kept if str(f.get("filename", "")).lower().endswith(endings)]
        if len(kept) < len(files):
            job["input"]["files"] = kept
            self._engine.launcher.note(job, f"Pruned {len(files) - len(kept)} files from input (file limit).")
