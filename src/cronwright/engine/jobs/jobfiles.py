"""``delete_job_file`` (sdk-wire.md §4.4): take one file off a completed job.

Only a path the job lists (an output in ``files``, else an upload in ``input.files``) can be named,
so no other storage path can be deleted through this call. The entry always leaves the job's
record; the stored file goes only when this job owns it: an output under ``files/jobs/<id>/``, or
a file uploaded with the job's own request (``own_uploads``: never a chained job's input, which is
its parent's output, nor a retry's, which is the original's upload), and only when no other entry
of the job still lists it. Tags are not recomputed (``_files`` stays), as in xyOps.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from cronwright.clock import Clock
from cronwright.engine import activity
from cronwright.engine.activity import Origin
from cronwright.engine.identity import Identity
from cronwright.engine.jobs.engine import JobEngine
from cronwright.engine.jobs.filestore import base_name
from cronwright.engine.jobs.rules import own_uploads
from cronwright.engine.validation import ID_RE, require_params
from cronwright.errors import Conflict, CwError, NotFound, api_error
from cronwright.store.base import Store

Authenticate = Callable[[], Identity]
_NON_EMPTY = re.compile(r".")


class JobFileRemover:
    """Deletes single files of stored jobs, for callers holding ``delete_jobs`` in the job's scope."""

    def __init__(self, engine: JobEngine, store: Store, clock: Clock) -> None:
        self._engine = engine
        self._store = store
        self._clock = clock

    def delete(self, params: dict[str, Any], authenticate: Authenticate, origin: Origin) -> None:
        """The steps of sdk-wire.md §4.4: parameters, identity, ``delete_jobs``, the stored job
        (a job still running has none), scope, the entry, the record, the stored file, activity."""
        require_params(params, {"id": ID_RE, "path": _NON_EMPTY})
        path = params["path"]
        if not isinstance(path, str):
            raise api_error("Malformed parameter: path")
        who = authenticate()
        who.require("delete_jobs")
        job_id = params["id"]
        job = None if job_id in self._engine.active else self._store.get_job(job_id)
        if job is None or not job.get("final"):
            raise NotFound("job", f"Failed to load job details: {job_id}: {_fetch_error(job_id)}")
        who.require_scope(job)
        owned = _take_entry(job, path)
        with self._store.write() as w:
            w.edit_job(job)
        if owned and not _still_listed(job, path):
            try:
                self._engine.files.delete_key(path)
            except OSError as exc:
                raise CwError("job", f"Failed to delete job file: {path}: {exc.strerror or 'I/O error'}") from None
        with self._store.write() as w:
            activity.record(
                w,
                "job_delete_file",
                epoch=self._clock.now(),
                description=job["id"],
                who=who,
                origin=origin,
                keywords=[job["id"], job.get("event")],
                job=job["id"],
                params=dict(params),
            )


def _take_entry(job: dict[str, Any], path: str) -> bool:
    """Remove the first entry listing ``path`` from the job's outputs, else from its input files;
    returns whether the job owns the stored file. Raises ``job`` errors for bucket and ticket files
    and for a path the job does not list."""
    outputs = _entries(job.get("files"))
    for index, entry in enumerate(outputs):
        if isinstance(entry, dict) and entry.get("path") == path:
            del outputs[index]
            return path.startswith(f"files/jobs/{job['id']}/")
    inputs = job.get("input")
    uploads = _entries(inputs.get("files") if isinstance(inputs, dict) else None)
    for index, entry in enumerate(uploads):
        if not isinstance(entry, dict) or entry.get("path") != path:
            continue
        if entry.get("bucket"):
            raise Conflict("job", f"Bucket files cannot be deleted from job: {base_name(path)}")
        if entry.get("ticket"):
            raise Conflict("job", f"Ticket files cannot be deleted from job: {base_name(path)}")
        owned = path in own_uploads(job)  # decided before the entry leaves the list
        del uploads[index]
        # an owner-level ``upload_files`` key (files/<owner>/<name>) is the owner's, never a job's
        return owned and path.count("/") > 2
    raise NotFound("job", f"Job file not found: {base_name(path)}")


def _entries(value: Any) -> list[Any]:
    """A stored list of file records (anything else: none)."""
    return value if isinstance(value, list) else []


def _still_listed(job: dict[str, Any], path: str) -> bool:
    inputs = job.get("input")
    entries = [*_entries(job.get("files")), *_entries(inputs.get("files") if isinstance(inputs, dict) else None)]
    return any(isinstance(entry, dict) and entry.get("path") == path for entry in entries)


def _fetch_error(job_id: str) -> str:
    """The storage error xyOps appends when a job has no stored record (sdk-wire.md §5.2)."""
    return f"Error: Failed to fetch key: unbase/records/jobs/{job_id}: Not found"
