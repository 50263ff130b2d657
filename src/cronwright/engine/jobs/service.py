"""Job use cases behind the jobs API (jobs.md §10): reading, logs, abort, delete, tags, queue."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
from collections.abc import Callable
from typing import Any

from cronwright.clock import Clock
from cronwright.engine import activity
from cronwright.engine.activity import Origin
from cronwright.engine.catalog import Catalog
from cronwright.engine.common import int_param, loose_equal, sort_dir_param
from cronwright.engine.identity import Identity
from cronwright.engine.jobs.engine import JobEngine
from cronwright.engine.jobs.logstore import INLINE_LOG_BYTES, LogReader
from cronwright.engine.jobs.render import sanitize_record
from cronwright.engine.jobs.rules import own_uploads
from cronwright.engine.validation import ID_RE, require_params
from cronwright.errors import BadRequest, Conflict, NotFound, api_error
from cronwright.store.base import Store

Authenticate = Callable[[], Identity]
#: left out of ``get_jobs`` rows unless ``verbose``
HEAVY_KEYS = ("actions", "activity", "html", "limits", "procs", "conns", "table", "timelines", "input", "data", "files")
_PAGING_KEYS = ("offset", "limit", "sort_by", "sort_dir")
_DIGITS = re.compile(r"^\d+$")


class JobService:
    def __init__(self, engine: JobEngine, store: Store, catalog: Catalog, clock: Clock, secret_key: str) -> None:
        self._engine = engine
        self._store = store
        self._catalog = catalog
        self._clock = clock
        self._secret = secret_key

    # ---- tokens

    def token(self, job_id: str) -> str:
        digest = hashlib.sha256(f"download{job_id}{self._secret}".encode()).digest()[:16]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def check_token(self, job_id: Any, token: Any) -> bool:
        if not isinstance(job_id, str) or not isinstance(token, str):
            return False
        return hmac.compare_digest(self.token(job_id).encode(), token.encode("utf-8", "replace"))

    # ---- lookups

    def find(self, job_id: str) -> tuple[dict[str, Any] | None, bool]:
        """(job, is_active): the live job when unfinished here, else the stored record (a job that
        another conductor runs is active too: its progress is stored every second, its live log is
        in the shared files directory)."""
        job = self._engine.active.get(job_id)
        if job is not None:
            return job, True
        record = self._store.get_job(job_id)
        return record, record is not None and record.get("state") != "complete"

    def read_live_log(self, job_id: str, offset: int, size: int) -> bytes:
        """Bytes of a live log from ``offset`` (following a job that another conductor runs)."""
        return self._engine.logs.read_live(job_id, offset, size)

    def remote_live(self, job_id: str) -> dict[str, Any] | None:
        """The stored record of a job another conductor runs (its progress is stored every
        second), None when it is finished, unknown, or this conductor's."""
        if job_id in self._engine.active:
            return None
        record = self._store.get_job(job_id)
        return record if record is not None and record.get("state") != "complete" else None

    def _all_active(self) -> list[dict[str, Any]]:
        """Every unfinished job: this conductor's live ones and, when others share the database,
        theirs as stored (at most about a second behind)."""
        local = list(self._engine.active.values())
        if not self._engine.peers():
            return local
        mine = self._engine.active
        return local + [
            j for j in self._store.unfinished_jobs(exclude_owner=self._engine.conductor_id) if j["id"] not in mine
        ]

    def _visible(self, params: dict[str, Any], authenticate: Authenticate) -> tuple[dict[str, Any], bool, Identity]:
        require_params(params, {"id": ID_RE})
        who = authenticate()
        job, active = self.find(params["id"])
        if job is None:
            raise job_details_missing(params["id"])
        who.require_scope(job)
        return job, active, who

    def with_output(self, job: dict[str, Any]) -> dict[str, Any]:
        """The record as ``get_job`` shows it: a small completed log inlined as ``output``."""
        shown = dict(job)
        if job.get("complete"):
            if 0 < (job.get("log_file_size") or 0) <= INLINE_LOG_BYTES:
                data = self._engine.logs.read_done(job["id"], INLINE_LOG_BYTES)
                if data is not None:
                    shown["output"] = data.decode("utf-8", errors="replace")
            elif not job.get("log_file_size") and job.get("code") and job.get("description"):
                shown["output"] = f"{job['description']}\n"
            shown["log_uploaded"] = bool(job.get("log_file_size"))
        return shown

    # ---- reading

    def get_job(self, params: dict[str, Any], authenticate: Authenticate) -> dict[str, Any]:
        job, _active, _who = self._visible(params, authenticate)
        shown = self.with_output(job)
        remove = params.get("remove")
        keys = remove.split(",") if isinstance(remove, str) else remove if isinstance(remove, list) else []
        for key in keys:
            if isinstance(key, str):
                shown.pop(key.strip(), None)
        return {"job": shown, "token": self.token(job["id"])}

    def get_jobs(self, params: dict[str, Any], authenticate: Authenticate) -> dict[str, Any]:
        ids = params.get("ids")
        if isinstance(ids, str):
            ids = [i for i in ids.split(",") if i]
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            if "event" in params:
                return self._event_history(params, authenticate)
            raise api_error_job("Missing or malformed ids parameter.")
        who = authenticate()
        verbose = params.get("verbose") not in (None, False, 0, "", "0", "false")
        rows = []
        for job_id in ids:
            job, _ = self.find(job_id)
            if job is None or not who.can_see(job):
                rows.append({"err": f"Failed to locate job: {job_id}"})
            else:
                rows.append(job if verbose else {k: v for k, v in job.items() if k not in HEAVY_KEYS})
        return {"jobs": rows}

    def _event_history(self, params: dict[str, Any], authenticate: Authenticate) -> dict[str, Any]:
        """Cronwright extension: ``get_jobs {event, offset, limit}`` → completed jobs, newest first."""
        require_params(params, {"event": ID_RE})
        offset = int_param(params, "offset", 0)
        limit = int_param(params, "limit", 50, minimum=1, maximum=1000)
        who = authenticate()
        event = self._catalog["events"].get(params["event"])
        if event is not None:
            who.require_scope(event)
        rows, total = self._store.event_history(params["event"], offset, limit)
        rows = [r for r in rows if who.can_see(r)]
        return {"rows": [{k: v for k, v in r.items() if k not in HEAVY_KEYS} for r in rows], "list": {"length": total}}

    def active_jobs(self, params: dict[str, Any], authenticate: Authenticate) -> dict[str, Any]:
        offset = int_param(params, "offset", 0)
        limit = int_param(params, "limit", 0)
        newest_first = sort_dir_param(params)
        sort_by = params.get("sort_by", "started")
        if not isinstance(sort_by, str):
            raise api_error("Malformed parameter: sort_by")
        who = authenticate()
        filters = [(k, v) for k, v in params.items() if k not in _PAGING_KEYS]
        rows = [j for j in self._all_active() if who.can_see(j) and all(loose_equal(j.get(k), v) for k, v in filters)]
        rows.sort(key=lambda j: _sort_key(j.get(sort_by)), reverse=newest_first)
        total = len(rows)
        rows = rows[offset : offset + limit] if limit else rows[offset:]
        return {"rows": rows, "list": {"length": total}}

    def active_summary(self, params: dict[str, Any], authenticate: Authenticate) -> dict[str, Any]:
        who = authenticate()
        filters = list(params.items())
        events: dict[str, Any] = {}
        for job in self._all_active():
            if not who.can_see(job) or not all(loose_equal(job.get(k), v) for k, v in filters):
                continue
            entry = events.setdefault(job["event"], {"id": job["event"], "states": {}, "sources": {}, "targets": {}})
            _count(entry["states"], job["state"])
            _count(entry["sources"], job.get("source") or "unknown")
            for target in job.get("targets") or []:
                _count(entry["targets"], str(target))
        return {"events": events}

    # ---- logs

    def tail_target(self, params: dict[str, Any], authenticate: Authenticate) -> tuple[str, int] | None:
        """``tail_live_job_log``'s checks: (job id, bytes) to read from the live log, None once the
        job has ended (its tail is ``""``). The read itself is ``JobEngine.logs.tail``."""
        size = params.get("bytes", 32768)
        if isinstance(size, str) and _DIGITS.match(size):
            size = int(size)
        if isinstance(size, float) and size.is_integer():
            size = int(size)
        if isinstance(size, bool) or not isinstance(size, int):
            raise api_error("Malformed parameter value: bytes")
        if not 1 <= size <= 1048576:
            raise api_error("Requested byte count out of range (1 - 1048576)")
        require_params(params, {"id": ID_RE})
        who = authenticate()
        job = self._engine.active.get(params["id"]) or self.remote_live(params["id"])
        if job is None:  # unknown or finished: an empty tail, not an error (sdk-wire.md §5.2)
            return None
        who.require_scope(job)
        return job["id"], size

    def open_log(self, job: dict[str, Any], active: bool) -> LogReader | None:
        """The log text of a job (live or completed) to stream in chunks, None when it has none;
        a job that ended without output but with an error shows its description."""
        reader = self._engine.logs.open_log(job["id"], active, job.get("log_file_size"))
        if reader is None and not active and job.get("code") and job.get("description"):
            text = f"{job['description']}\n".encode()
            return LogReader(io.BytesIO(text), len(text))
        return reader

    # ---- changing

    def abort(self, params: dict[str, Any], authenticate: Authenticate, origin: Origin) -> None:
        require_params(params, {"id": ID_RE})
        who = authenticate()
        who.require("abort_jobs")
        job = self._engine.active.get(params["id"]) or self.remote_live(params["id"])
        if job is not None:
            who.require_scope(job)
        if job is None:
            raise NotFound("job", f"Job not found or is no longer active: {params['id']}")
        if job.get("complete") or job["state"] == "finishing":
            raise Conflict("job", f"Job is already finishing (it can no longer be aborted): {params['id']}")
        actor = f"API Key: {who.title}" if who.kind == "key" else f"user: {who.username}"
        if job["id"] in self._engine.active:
            self._engine.abort(job["id"], f"Manually aborted by {actor}")
        else:  # another conductor runs it: that one aborts it (engine.request_control)
            self._engine.control.request(job["id"], "abort", f"Manually aborted by {actor}")
            if self._engine.remote_worker is not None:  # its agent may report here already: stop it now
                self._engine.remote_worker.abort_here(job, f"Manually aborted by {actor}")
        self._record("job_abort", who, origin, job)

    def delete(self, params: dict[str, Any], authenticate: Authenticate, origin: Origin) -> None:
        require_params(params, {"id": ID_RE})
        who = authenticate()
        who.require("delete_jobs")
        live = self._engine.active.get(params["id"]) or self.remote_live(params["id"])
        if live is not None:
            who.require_scope(live)  # scope first: an out-of-scope caller learns nothing of the job
            raise Conflict("job", f"Cannot delete a job that is still active: {params['id']}")
        job = self._store.get_job(params["id"])
        if job is None:
            raise NotFound("job", f"Failed to load job details: {params['id']}: {_fetch_error(params['id'])}")
        who.require_scope(job)
        with self._store.write() as w:
            w.delete_job(job["id"])
            activity.record(
                w,
                "job_delete",
                epoch=self._clock.now(),
                description=f"Job #{job['id']}",
                who=who,
                origin=origin,
                keywords=[job["id"], job.get("event")],
                job=job["id"],
            )
        self._engine.logs.delete(job["id"])
        self._engine.files.delete_job_outputs(job["id"])
        for key in own_uploads(job):
            self._engine.files.delete_key(key)

    def update(self, params: dict[str, Any], authenticate: Authenticate, origin: Origin) -> None:
        require_params(params, {"id": ID_RE})
        who = authenticate()
        who.require_admin()
        job, active = self.find(params["id"])
        if job is None:
            raise _update_missing(params["id"])
        changes = {k: v for k, v in params.items() if k not in ("id", "event", "state", "complete", "final")}
        if "html" in changes:  # an administrator cannot plant script in a record either (sdk-wire.md §3.7)
            html = sanitize_record(changes["html"])
            if html is None:
                raise api_error("Malformed parameter: html (must be an object)")
            changes["html"] = html
        job.update(changes)
        self._store_changed(job, active)
        if not active:
            self._record("job_update", who, origin, job, params=changes)

    def manage_tags(self, params: dict[str, Any], authenticate: Authenticate, origin: Origin) -> None:
        require_params(params, {"id": ID_RE, "tags": "array"})
        if len(params) > 2:
            raise api_error_job("Too many properties in params")
        who = authenticate()
        who.require("tag_jobs")
        live = self._engine.active.get(params["id"]) or self.remote_live(params["id"])
        if live is not None:
            who.require_scope(live)
            raise Conflict("job", "Cannot update tags of running job.")
        job = self._store.get_job(params["id"])
        if job is None:
            raise _update_missing(params["id"])
        who.require_scope(job)
        tags = [t for t in params["tags"] if isinstance(t, str)]
        job["tags"] = tags
        self._engine.launcher.note(job, f"Tags updated by {who.username}: {', '.join(tags) or '(none)'}")
        self._store_changed(job, active=False)
        self._record("job_update_tags", who, origin, job, tags=tags)

    def flush_queue(self, params: dict[str, Any], authenticate: Authenticate, origin: Origin) -> int:
        require_params(params, {"id": ID_RE})
        who = authenticate()
        who.require("abort_jobs")
        event = self._catalog["events"].get(params["id"])
        if event is None:
            raise NotFound("event", f"Event not found: {params['id']}")
        who.require_scope(event)
        count = self._engine.flush_queue(event["id"])
        if self._engine.peers():  # other conductors' queued jobs of the event: each drops its own
            for job in self._store.unfinished_jobs(exclude_owner=self._engine.conductor_id):
                if job["event"] == event["id"] and job["state"] == "queued":
                    self._engine.control.request(job["id"], "flush")
                    count += 1
        with self._store.write() as w:
            activity.record(
                w,
                "queue_flush",
                epoch=self._clock.now(),
                description=str(event.get("title")),
                who=who,
                origin=origin,
                keywords=[event["id"]],
                count=count,
            )
        return count

    def skip_delay(self, params: dict[str, Any], authenticate: Authenticate) -> None:
        require_params(params, {"id": ID_RE})
        who = authenticate()
        who.require("run_jobs")
        job = self._engine.active.get(params["id"]) or self.remote_live(params["id"])
        if job is None:
            raise NotFound("job", f"Job not found: {params['id']}")
        who.require_scope(job)
        if job["state"] not in ("start_delay", "retry_delay"):
            raise Conflict("job", f"Job is not in a delay state: {params['id']}")
        if job["id"] in self._engine.active:
            self._engine.skip_delay(job)
        else:  # another conductor runs it
            self._engine.control.request(job["id"], "skip_delay")

    def resume(self, params: dict[str, Any], authenticate: Authenticate, origin: Origin) -> None:
        require_params(params, {"id": ID_RE})
        who = authenticate()
        who.require("run_jobs")
        job = self._engine.active.get(params["id"]) or self.remote_live(params["id"])
        if job is None:
            raise NotFound("job", f"Job not found or is no longer active: {params['id']}")
        who.require_scope(job)
        if job["state"] != "suspended":
            raise Conflict("job", f"Job is not suspended: {params['id']}")
        if job["id"] in self._engine.active:
            self._engine.launcher.note(job, f"Resumed by {who.username}")
            self._engine.resume(job["id"])
        else:  # another conductor runs it
            self._engine.control.request(job["id"], "resume", f"Resumed by {who.username}")
        self._record("job_resume", who, origin, job)

    def _store_changed(self, job: dict[str, Any], active: bool) -> None:
        if active and job["id"] in self._engine.active:
            self._engine.records.mark_dirty(job["id"])
        else:
            with self._store.write() as w:
                w.edit_job(job)

    def _record(self, action: str, who: Identity, origin: Origin, job: dict[str, Any], **extra: Any) -> None:
        with self._store.write() as w:
            activity.record(
                w,
                action,
                epoch=self._clock.now(),
                description=f"Job #{job['id']}",
                who=who,
                origin=origin,
                keywords=[job["id"], job.get("event")],
                job=job["id"],
                **extra,
            )


def api_error_job(message: str) -> BadRequest:
    return BadRequest("job", message)


def _fetch_error(job_id: str) -> str:
    """The storage error xyOps appends when a job has no stored record (``<err>`` of sdk-wire.md §5.2)."""
    return f"Error: Failed to fetch key: unbase/records/jobs/{job_id}: Not found"


def job_details_missing(job_id: str) -> NotFound:
    """notfound "Failed to load job details: ID: Error: Failed to fetch key: unbase/records/jobs/ID: Not found".

    What ``get_job``, ``get_job_log`` and ``stream_job`` answer for a job that is neither active nor
    stored (sdk-wire.md §5.2)."""
    return NotFound("notfound", f"Failed to load job details: {job_id}: {_fetch_error(job_id)}")


def _update_missing(job_id: str) -> NotFound:
    """``update_job`` / ``manage_job_tags`` on a job without a stored record (sdk-wire.md §5.2)."""
    return NotFound("job", f"Failed to update job: {job_id}: {_fetch_error(job_id)}")


def _count(bucket: dict[str, int], key: str) -> None:
    bucket[key] = bucket.get(key, 0) + 1


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value) if value is not None else "")
