"""``run_event`` (and ``run_event/v1/wait``): validate the request, launch the job, answer its id or,
with ``/wait``, the final job record the moment it completes."""

from __future__ import annotations

from typing import Any

from cronwright.api.registry import Ctx, EndpointSet
from cronwright.engine.jobs.launch import LaunchError
from cronwright.engine.jobs.service import job_details_missing
from cronwright.engine.runs import UploadedFile, launch_request
from cronwright.errors import Conflict, NotFound
from cronwright.model import api as m

router = EndpointSet(tag="Events")


@router.endpoint(
    "run_event",
    style="run",
    summary="Run an event now",
    request=m.RunEventRequest,
    response=m.RunEventResult,
    suffix=True,
    multipart=True,
)
async def run_event(ctx: Ctx) -> dict[str, Any]:
    """Starts a job of the event (by `id` or `title`) with optional `params`, `input`, `tags` and
    other overrides; multipart requests carry their JSON in the `json` field plus file fields,
    stored at `files/<owner>/<random>/<name>` and listed in `input.files` (owner: the user, or
    the user who created the API key).
    Requires `run_jobs`; the event needs an enabled manual trigger unless `test`. With the path
    suffix `/wait` the answer is `{code: 0, job}` once the job has completed."""
    if ctx.call.suffix not in ("", "wait"):
        raise NotFound("api", f"Unsupported API path suffix: {ctx.call.suffix}")
    conductor = ctx.conductor
    run = conductor.runs.prepare(ctx.call.query, ctx.call.body, ctx.call.files, ctx.authenticate)
    files = conductor.jobs.files
    now = conductor.clock.now()
    batch = files.input_batch(run.owner)

    def store_upload(upload: UploadedFile) -> dict[str, Any]:
        key, size = batch.store(upload.stream, upload.filename)
        return files.record(key, size, upload.filename, now, username=run.owner)

    try:
        request = launch_request(run, store_upload)
    except BaseException:  # e.g. the second file failed: the first goes too
        batch.discard()
        raise
    try:
        jobs = conductor.jobs.launch(request)
    except LaunchError as exc:  # refused before anything was stored: no job will use the files
        batch.discard()
        raise Conflict("event", f"Failed to launch job: {exc}") from None
    if ctx.call.suffix == "wait":
        final = await conductor.jobs.wait_final(jobs[0]["id"])
        if final is None:
            raise job_details_missing(jobs[0]["id"])
        return {"job": conductor.job_service.with_output(final)}
    body: dict[str, Any] = {"id": jobs[0]["id"]}
    if len(jobs) > 1:
        body["ids"] = [j["id"] for j in jobs]
    return body
