"""Files (sdk-wire.md §4): ``upload_files`` (a caller's own file space), ``upload_job_input_files``
(files for a run, before it starts) and ``delete_job_file`` (one file off a completed job).

Uploads are written on a worker thread (a large file never stalls the event loop). The file
names and storage keys are ``engine.jobs.filestore``'s; whose space an upload lands in is
``engine.runs.upload_owner``'s.
"""

from __future__ import annotations

from typing import Any

import anyio

from cronwright.api.registry import Ctx, EndpointSet
from cronwright.api.request import Upload
from cronwright.engine.runs import upload_owner
from cronwright.errors import BadRequest
from cronwright.model import api as m

router = EndpointSet(tag="Files")


def _require_uploads(ctx: Ctx) -> list[Upload]:
    """xyOps checks for files before it looks at the caller (so an anonymous empty post is a
    ``file`` error, not ``session``); a client mistake: HTTP 400 on ``/v1``."""
    if not ctx.call.files:
        raise BadRequest("file", "No file upload data found in request.")
    return ctx.call.files


@router.endpoint(
    "upload_files",
    style="none",
    summary="Upload files to the caller's own file space",
    response=m.UploadFilesResult,
    multipart=True,
)
async def upload_files(ctx: Ctx) -> dict[str, Any]:
    """Multipart, any field names, any number of files. Needs a valid identity, no privilege.
    Each file is stored at `files/<owner>/<name>` (owner: the user, or the user who created the
    API key; name: the base name with characters outside `[A-Za-z0-9_.-]` replaced by `_`),
    replacing an earlier file of that owner whose name differs at most in case. Answers the
    download URLs in upload order; they are served without credentials."""
    uploads = _require_uploads(ctx)
    conductor = ctx.conductor
    owner = upload_owner(ctx.authenticate(), conductor.catalog)
    files = conductor.jobs.files

    def store_all() -> list[str]:
        return [files.store_user_file(u.stream, owner=owner, filename=u.filename)[0] for u in uploads]

    keys = await anyio.to_thread.run_sync(store_all)
    base = conductor.settings.public_url.rstrip("/")
    return {"urls": [f"{base}/{key}" for key in keys]}


@router.endpoint(
    "upload_job_input_files",
    style="none",
    summary="Upload input files for a job",
    response=m.UploadInputFilesResult,
    multipart=True,
)
async def upload_job_input_files(ctx: Ctx) -> dict[str, Any]:
    """Multipart, any field names, any number of files; requires `run_jobs`. The files are stored
    together at `files/<owner>/<random>/<name>` and answered as `input.files` records (`id`,
    `date`, `filename`, `path`, `size`, `username`)."""
    uploads = _require_uploads(ctx)
    conductor = ctx.conductor
    who = ctx.authenticate()
    who.require("run_jobs")
    owner = upload_owner(who, conductor.catalog)
    files = conductor.jobs.files
    batch = files.input_batch(owner)
    now = conductor.clock.now()

    def store_all() -> list[dict[str, Any]]:
        records = []
        try:
            for upload in uploads:
                key, size = batch.store(upload.stream, upload.filename)
                records.append(files.record(key, size, upload.filename, now, username=owner))
        except BaseException:
            batch.discard()
            raise
        return records

    return {"files": await anyio.to_thread.run_sync(store_all)}


@router.endpoint(
    "delete_job_file",
    style="read",
    summary="Delete one file of a completed job",
    request=m.JobFileRequest,
    response=m.Ok,
)
def delete_job_file(ctx: Ctx) -> dict[str, Any]:
    """Requires `delete_jobs` and the job's scope. `path` must be that of an entry of the job's
    `files` (else of its `input.files`): the entry is removed from the stored job and the stored
    file deleted when the job owns it (its own outputs and uploads; a parent's output or an
    original's upload stays). A job still running has no stored record yet (`job` error)."""
    ctx.conductor.job_files.delete(ctx.params, ctx.authenticate, ctx.origin)
    return {}
