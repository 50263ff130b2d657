"""The jobs API (jobs.md §10): active jobs, job records, logs, live streams and job changes."""

from __future__ import annotations

import asyncio
import codecs
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.responses import Response, StreamingResponse

from cronwright import jsonutil
from cronwright.api.registry import Ctx, EndpointSet
from cronwright.engine.jobs.logstore import READ_CHUNK_BYTES, LogReader
from cronwright.engine.jobs.service import job_details_missing
from cronwright.engine.jobs.stream import (
    UPDATE_INTERVAL_S,
    LiveUpdates,
    check_stream_token,
    final_update,
    missing_record,
    storage_miss,
)
from cronwright.engine.validation import ID_RE, require_params
from cronwright.errors import api_error
from cronwright.model import api as m

router = EndpointSet(tag="Jobs")
_TEXT = "text/plain; charset=utf-8"
_NO_STORE = {"cache-control": "no-store"}
#: server-sent events: never cached, never buffered by a proxy (and never compressed: the app
#: has no compression middleware)
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
HEARTBEAT_S = 15.0
#: how often a stream of a job that another conductor runs looks for new log text and its end
REMOTE_POLL_S = 0.25
#: the most log text held for one ``stream_job`` client that does not keep up (characters)
STREAM_LOG_BUFFER_CHARS = 64 * 1024


@router.endpoint("get_active_jobs", style="read", summary="List unfinished jobs", response=m.JobList)
def get_active_jobs(ctx: Ctx) -> dict[str, Any]:
    """Every unfinished job (waiting, queued, running) the caller may see. Other parameters are
    equality filters; `offset`, `limit` (default: all), `sort_by` (`started`), `sort_dir` (-1)."""
    return ctx.conductor.job_service.active_jobs(ctx.params, ctx.authenticate)


@router.endpoint(
    "get_active_job_summary", style="read", summary="Count unfinished jobs per event", response=m.JobSummary
)
def get_active_job_summary(ctx: Ctx) -> dict[str, Any]:
    """Per event: counts of unfinished jobs by state, source and target."""
    return ctx.conductor.job_service.active_summary(ctx.params, ctx.authenticate)


@router.endpoint("get_job", style="read", summary="Get one job", request=m.GetJobRequest, response=m.JobResult)
def get_job(ctx: Ctx) -> dict[str, Any]:
    """The live job while it runs, else the stored record (with a small log inlined as `output`),
    and the `token` that `view_job_log`/`download_job_log` require."""
    return ctx.conductor.job_service.get_job(ctx.params, ctx.authenticate)


@router.endpoint(
    "get_jobs",
    style="read",
    summary="Get several jobs, or an event's job history",
    request=m.GetJobsRequest,
    response=m.JobsResult,
)
def get_jobs(ctx: Ctx) -> dict[str, Any]:
    """With `ids` (array or CSV): `{jobs}` in request order, `{err}` for unknown or hidden ids;
    heavy fields only with `verbose`. With `event` instead: that event's completed jobs, newest
    first, as `{rows, list}` (`offset`, `limit` up to 1000, default 50)."""
    return ctx.conductor.job_service.get_jobs(ctx.params, ctx.authenticate)


@router.endpoint(
    "search_jobs",
    style="read",
    summary="Search the job history",
    request=m.SearchJobsRequest,
    response=m.SearchJobsResult,
    errors=("db",),
)
async def search_jobs(ctx: Ctx) -> dict[str, Any]:
    """Completed jobs matching `query` (default `*`), sorted by `sort_by` (`_id`, `completed`,
    `elapsed`) in `sort_dir`, paged by `offset` and `limit` (default **1**); `list.length` counts
    every match the caller may see. Heavy fields only with `verbose`; `select` keeps only the
    listed keys. Query mistakes of PxQL, unknown sorters and unknown `#id:` answer `db` (400)."""
    searcher = ctx.conductor.job_search
    plan = searcher.prepare(ctx.params, ctx.authenticate)
    return await anyio.to_thread.run_sync(searcher.run, plan)


@router.endpoint(
    "run_maintenance",
    style="write",
    summary="Trim the job history and activity log now (Cronwright extension)",
    response=m.MaintenanceResult,
)
async def run_maintenance(ctx: Ctx) -> dict[str, Any]:
    """Admin only. Runs the daily retention pass at once (docs/configuration.md, `retention_*`):
    the oldest job records beyond `retention_max_jobs` (with their logs and files) and activity
    records beyond `retention_max_activity` are deleted, in small batches; answers the counts."""
    ctx.authenticate().require_admin()
    outcome = await ctx.conductor.maintenance.run(fenced=False)
    return {"jobs": outcome.jobs, "activity": outcome.activity, "longest_batch_ms": outcome.longest_batch_ms}


@router.endpoint(
    "tail_live_job_log",
    style="read",
    summary="The end of a running job's log",
    request=m.TailRequest,
    response=m.TextResult,
)
async def tail_live_job_log(ctx: Ctx) -> dict[str, Any]:
    """The last `bytes` (1–1048576, default 32768) of the live log; `""` once the job has ended."""
    target = ctx.conductor.job_service.tail_target(ctx.params, ctx.authenticate)
    if target is None:
        return {"text": ""}
    return {"text": await anyio.to_thread.run_sync(ctx.conductor.jobs.logs.tail, *target)}


@router.endpoint(
    "get_job_log", style="read", summary="The compressed log of a completed job", request=m.IdRequest, raw=True
)
def get_job_log(ctx: Ctx) -> Response:
    """The stored log, gzip-compressed (`Content-Encoding: gzip`); HTTP 204 when the job has none or
    has not finished. Streamed from disk."""
    job, active = _visible(ctx)
    reader = None if active else ctx.conductor.jobs.logs.open_compressed(job["id"])
    if reader is None:
        return Response(status_code=204, headers=_NO_STORE)
    headers = {"content-encoding": "gzip", **_NO_STORE, "x-log-size": str(job.get("log_file_size", 0))}
    return _streamed(reader, headers, ctx.call.method)


def _visible(ctx: Ctx) -> tuple[dict[str, Any], bool]:
    require_params(ctx.params, {"id": ID_RE})
    who = ctx.authenticate()
    job, active = ctx.conductor.job_service.find(ctx.params["id"])
    if job is None:
        raise job_details_missing(ctx.params["id"])
    who.require_scope(job)
    return job, active


def _log_by_token(ctx: Ctx, download: bool) -> Response:
    service = ctx.conductor.job_service
    job_id, token = ctx.params.get("id"), ctx.params.get("t")
    if not service.check_token(job_id, token):
        return Response("(Authentication failed.)", status_code=403, media_type=_TEXT, headers=_NO_STORE)
    job, active = service.find(str(job_id))
    reader = service.open_log(job, active) if job is not None else None
    if reader is None:
        return Response("(Log not found.)", status_code=404, media_type=_TEXT, headers=_NO_STORE)
    headers = dict(_NO_STORE)
    if download:
        kind = "Partial-Job-Log" if active else "Job-Log"
        headers["content-disposition"] = f"attachment; filename=Cronwright-{kind}-{job_id}.txt"
    return _streamed(reader, headers, ctx.call.method)


def _streamed(reader: LogReader, headers: dict[str, str], method: str) -> Response:
    """A log answered a chunk at a time, read on a worker thread (never the whole log in memory,
    never file I/O or decompression on the event loop); with a Content-Length when it is known."""
    if reader.size is not None:
        headers = {**headers, "content-length": str(reader.size)}
    if method == "HEAD":
        reader.close()
        return Response(status_code=200, media_type=_TEXT, headers=headers)

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while chunk := await anyio.to_thread.run_sync(reader.read):
                yield chunk
        finally:
            reader.close()

    return StreamingResponse(chunks(), media_type=_TEXT, headers=headers)


@router.endpoint(
    "view_job_log", style="read", summary="View a job log (token)", request=m.TokenRequest, raw=True, auth=False
)
def view_job_log(ctx: Ctx) -> Response:
    """The log as text; authorized by `t` (the `token` of `get_job`) alone: 403 without it."""
    return _log_by_token(ctx, download=False)


@router.endpoint(
    "download_job_log", style="read", summary="Download a job log (token)", request=m.TokenRequest, raw=True, auth=False
)
def download_job_log(ctx: Ctx) -> Response:
    """Like `view_job_log`, as an attachment."""
    return _log_by_token(ctx, download=True)


@router.endpoint(
    "stream_job", style="read", summary="Live updates of a job (server-sent events)", request=m.StreamRequest, raw=True
)
async def stream_job(ctx: Ctx) -> Response:
    """A `text/event-stream` exactly as xyOps sends it (sdk-wire.md §1): `start` (`{}`), then an
    `update` (`{"xy":1,...}`: state, progress, cpu/mem, redrawn table/html) every second while the
    job is unfinished, then one final `update` with `code`, `description`, `completed`, `elapsed`
    (and `table`, `html`, `data`, `files`), then `end` (`{}`). A completed job answers at once.
    Authorized by a valid identity with scope on the job, or by `token` alone (the `stream` value
    that `magic` answers)."""
    job_id, token = _stream_access(ctx)
    service = ctx.conductor.job_service
    if token is None:
        _visible(ctx)
    engine = ctx.conductor.jobs

    async def events() -> AsyncIterator[bytes]:
        yield _sse("start", {})
        live = LiveUpdates()
        while True:
            job = engine.active.get(job_id)
            if job is None:  # finished here, or running under another conductor (its stored progress)
                job = await anyio.to_thread.run_sync(service.remote_live, job_id)
                if job is None:
                    break
            if engine.stopping:
                return  # shutdown: the response ends without a final update (sdk-wire.md §1.6)
            yield _sse("update", live.next(job))
            await asyncio.sleep(UPDATE_INTERVAL_S)
        record, _active = await anyio.to_thread.run_sync(service.find, job_id)
        yield _sse("update", missing_record(storage_miss(job_id)) if record is None else final_update(record))
        yield _sse("end", {})

    return StreamingResponse(events(), media_type="text/event-stream", headers=_SSE_HEADERS)


def _stream_access(ctx: Ctx) -> tuple[str, str | None]:
    """(job id, the stream token when one was given and is correct). A non-empty `token` is the
    only credential looked at: a wrong one is refused even with a valid API key."""
    require_params(ctx.params, {"id": ID_RE})
    job_id = ctx.params["id"]
    token = ctx.params.get("token")
    if token in (None, ""):
        return job_id, None
    if not isinstance(token, str) or not check_stream_token(job_id, token, ctx.conductor.secret_key):
        raise api_error("Authentication failed.")
    return job_id, token


@router.endpoint(
    "stream_job_log",
    style="read",
    summary="A job's log as it grows (server-sent events; Cronwright extension)",
    request=m.StreamRequest,
    raw=True,
)
async def stream_job_log(ctx: Ctx) -> Response:
    """A `text/event-stream` of the job's log text: `log` events whose data is a JSON string (the
    log from its start, then each new piece within about 50 ms of being printed), and one `end`
    event (the final record's `id`, `code` and `description`) once the job has completed.
    Authorized like `stream_job`: an identity with scope on the job, or its stream `token`. A
    client that reads too slowly loses the oldest unread text (a line says how much), never the end."""
    job_id, token = _stream_access(ctx)
    service = ctx.conductor.job_service
    if token is None:
        job, active = _visible(ctx)
    else:
        found, active = service.find(job_id)
        if found is None:
            raise job_details_missing(job_id)
        job = found
    engine = ctx.conductor.jobs
    feed = JobFeed()
    backlog = int(job.get("log_file_size") or 0) if active else None
    remote = None
    if active and job_id not in engine.active:  # another conductor runs it: follow its files and record
        remote = asyncio.create_task(_follow_remote(service, job_id, backlog or 0, feed))
    elif active:  # subscribed in the same turn as the backlog's size is read: nothing is missed or doubled
        engine.observers.listen(job_id, feed.put)
    else:
        feed.put("complete", job)

    async def events() -> AsyncIterator[bytes]:
        nonlocal remote
        try:
            async for text in _log_backlog(service, job, active, backlog):
                yield _sse("log", text)
            while True:
                pending = await feed.take(HEARTBEAT_S)
                if not pending:
                    yield b": keep-alive\n\n"
                    if active and remote is None and job_id not in engine.active:
                        # it left this conductor without completing here (adopted by another after
                        # this one was paused or cut off): follow it from its stored record
                        engine.observers.unlisten(job_id, feed.put)
                        size = await anyio.to_thread.run_sync(engine.logs.size, job_id)
                        remote = asyncio.create_task(_follow_remote(service, job_id, size, feed))
                    continue
                for kind, payload in pending:
                    if kind == "log":
                        yield _sse("log", payload)
                    elif kind == "complete":
                        yield _sse("end", {k: payload.get(k) for k in ("id", "code", "description")})
                        return
        finally:
            if remote is not None:
                remote.cancel()
            elif active:
                engine.observers.unlisten(job_id, feed.put)

    return StreamingResponse(events(), media_type="text/event-stream", headers=_SSE_HEADERS)


async def _follow_remote(service: Any, job_id: str, offset: int, feed: JobFeed) -> None:
    """Feed ``stream_job_log`` for a job another conductor runs: new bytes of its live log (in the
    shared files directory, docs/ha.md) every ``REMOTE_POLL_S``, and its end from the database
    (with whatever the log gained before it was compressed)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while True:
        chunk = await anyio.to_thread.run_sync(service.read_live_log, job_id, offset, READ_CHUNK_BYTES)
        if chunk:
            offset += len(chunk)
            if text := decoder.decode(chunk):
                feed.put("log", text)
            continue
        record, active = await anyio.to_thread.run_sync(service.find, job_id)
        if record is None or not active:
            if record is not None:
                async for text in _log_backlog(service, record, False, None, skip=offset):
                    feed.put("log", text)
            feed.put("complete", record or {"id": job_id, "code": "error", "description": "Job record vanished."})
            return
        await asyncio.sleep(REMOTE_POLL_S)


async def _log_backlog(
    service: Any, job: dict[str, Any], active: bool, limit: int | None, *, skip: int = 0
) -> AsyncIterator[str]:
    """The log text already written: the first ``limit`` bytes of the live log, or the whole
    stored log of a completed job (after its first ``skip`` bytes); read on a thread a chunk at a
    time, decoded across chunks."""
    if limit == 0:
        return
    reader = await anyio.to_thread.run_sync(service.open_log, job, active)
    if reader is None:
        return
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    left = limit
    try:
        while skip > 0 and (skipped := await anyio.to_thread.run_sync(reader.read, min(READ_CHUNK_BYTES, skip))):
            skip -= len(skipped)
        while left is None or left > 0:
            want = READ_CHUNK_BYTES if left is None else min(READ_CHUNK_BYTES, left)
            chunk = await anyio.to_thread.run_sync(reader.read, want)
            if not chunk:
                break
            if left is not None:
                left -= len(chunk)
            if text := decoder.decode(chunk):
                yield text
        if tail := decoder.decode(b"", final=True):
            yield tail
    finally:
        reader.close()


class JobFeed:
    """What one ``stream_job_log`` client has not received yet, bounded whatever the job prints
    and however slowly the client reads: log text is coalesced into one ``log`` event and past
    ``STREAM_LOG_BUFFER_CHARS`` the oldest text is dropped (a line in the stream says how much);
    ``complete`` is always kept and sent last. Other notifications are ignored."""

    def __init__(self, max_log_chars: int = STREAM_LOG_BUFFER_CHARS) -> None:
        self._max_log_chars = max_log_chars
        self._log: deque[str] = deque()
        self._log_chars = 0
        self._dropped = 0
        self._complete: Any = None
        self._ready = asyncio.Event()

    def put(self, kind: str, payload: Any) -> None:
        """The job engine's listener (called on the event loop)."""
        if kind == "log":
            self._add_log(str(payload))
        elif kind == "complete":
            self._complete = payload
        else:
            return
        self._ready.set()

    async def take(self, timeout_s: float) -> list[tuple[str, Any]]:
        """Everything pending, in the order log, complete; ``[]`` after ``timeout_s``."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout_s)
        except TimeoutError:
            return []
        self._ready.clear()
        pending: list[tuple[str, Any]] = []
        if self._log or self._dropped:
            text = "".join(self._log)
            if self._dropped:
                text = f"[{self._dropped} characters of output skipped: this stream fell behind]\n" + text
            pending.append(("log", text))
            self._log.clear()
            self._log_chars = self._dropped = 0
        if self._complete is not None:
            pending.append(("complete", self._complete))
        return pending

    def _add_log(self, text: str) -> None:
        self._log.append(text)
        self._log_chars += len(text)
        while self._log_chars > self._max_log_chars:
            excess = self._log_chars - self._max_log_chars
            oldest = self._log[0]
            if len(oldest) <= excess:
                self._log.popleft()
                cut = len(oldest)
            else:
                self._log[0] = oldest[excess:]
                cut = excess
            self._log_chars -= cut
            self._dropped += cut


def _sse(kind: str, payload: Any) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + jsonutil.dumps(payload) + b"\n\n"


@router.endpoint("abort_job", style="read", summary="Abort a job", request=m.IdRequest, response=m.Ok)
def abort_job(ctx: Ctx) -> dict[str, Any]:
    """Requires `abort_jobs`. A running job's process tree gets SIGTERM, then SIGKILL after the
    grace period; the job completes with code `abort` saying who aborted it (asynchronously)."""
    ctx.conductor.job_service.abort(ctx.params, ctx.authenticate, ctx.origin)
    return {}


@router.endpoint("delete_job", style="read", summary="Delete a completed job", request=m.IdRequest, response=m.Ok)
def delete_job(ctx: Ctx) -> dict[str, Any]:
    """Requires `delete_jobs`: the record, its log, output files and uploaded input files."""
    ctx.conductor.job_service.delete(ctx.params, ctx.authenticate, ctx.origin)
    return {}


@router.endpoint("update_job", style="write", summary="Change fields of a job", request=m.IdRequest, response=m.Ok)
def update_job(ctx: Ctx) -> dict[str, Any]:
    """Administrators only: shallow merge into the live or stored job."""
    ctx.conductor.job_service.update(ctx.params, ctx.authenticate, ctx.origin)
    return {}


@router.endpoint(
    "manage_job_tags",
    style="write",
    summary="Replace the tags of a completed job",
    request=m.TagsRequest,
    response=m.Ok,
)
def manage_job_tags(ctx: Ctx) -> dict[str, Any]:
    """Requires `tag_jobs`; exactly `id` and `tags`."""
    ctx.conductor.job_service.manage_tags(ctx.params, ctx.authenticate, ctx.origin)
    return {}


@router.endpoint(
    "flush_event_queue",
    style="read",
    summary="Drop an event's queued jobs",
    request=m.IdRequest,
    response=m.CountResult,
)
def flush_event_queue(ctx: Ctx) -> dict[str, Any]:
    """Requires `abort_jobs`: queued jobs of the event are removed without records or actions."""
    return {"count": ctx.conductor.job_service.flush_queue(ctx.params, ctx.authenticate, ctx.origin)}


@router.endpoint("job_skip_delay", style="read", summary="Start a delayed job now", request=m.IdRequest, response=m.Ok)
def job_skip_delay(ctx: Ctx) -> dict[str, Any]:
    """Requires `run_jobs`: a job waiting in `start_delay`/`retry_delay` becomes ready at once."""
    ctx.conductor.job_service.skip_delay(ctx.params, ctx.authenticate)
    return {}


@router.endpoint("resume_job", style="read", summary="Resume a suspended job", request=m.IdRequest, response=m.Ok)
def resume_job(ctx: Ctx) -> dict[str, Any]:
    """Requires `run_jobs`: a job held by a `suspend` start action continues (state `suspended` →
    `active`)."""
    ctx.conductor.job_service.resume(ctx.params, ctx.authenticate, ctx.origin)
    return {}
