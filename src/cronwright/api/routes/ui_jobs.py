"""Cronwright extensions the web UI's jobs pages need beyond the xyOps API (docs/ui.md lists them).

A log of 50 MB must not be sent to a browser to show its last screenful, so the job page reads
logs in windows of bytes:

- ``get_job_log_range``: one window of a job's log (live or stored) ending at a byte offset, cut
  at a line start, for "Load earlier".
- ``stream_job_log_tail``: like ``stream_job_log``, but the backlog it sends first is only the
  last ``bytes`` of the log (cut at a line start), announced by a ``window`` event with its byte
  offsets; then the new text as it is printed, then ``end``.

Both read on worker threads a chunk at a time and never hold more than one window in memory.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import anyio
from pydantic import Field
from starlette.responses import Response, StreamingResponse

from cronwright.api.registry import Ctx, EndpointSet
from cronwright.api.routes.jobs import (
    _SSE_HEADERS,
    HEARTBEAT_S,
    JobFeed,
    _follow_remote,
    _sse,
    _stream_access,
    _visible,
)
from cronwright.engine.common import int_param
from cronwright.engine.jobs.logstore import READ_CHUNK_BYTES, LogReader
from cronwright.engine.jobs.service import job_details_missing
from cronwright.engine.validation import ID_RE, require_params
from cronwright.errors import Forbidden
from cronwright.model import api as m

router = EndpointSet(tag="Web UI")

#: the default window (bytes) and the largest one a caller may ask for
DEFAULT_WINDOW_BYTES = 256 * 1024
MAX_WINDOW_BYTES = 1024 * 1024
#: the largest byte offset accepted (a log is far smaller; JavaScript's safe integers)
_MAX_OFFSET = 2**53 - 1


class LogRangeRequest(m.IdRequest):
    before: int | None = Field(
        None, description="End of the window (exclusive byte offset); default: the end of the log."
    )
    bytes: int | None = Field(DEFAULT_WINDOW_BYTES, description="Size of the window, 1–1048576 (default 262144).")
    t: str | None = Field(None, description="The job's `token` from `get_job`, instead of credentials.")


class LogRangeResult(m.Envelope):
    text: str = Field(description="The window's text (UTF-8, undecodable bytes replaced).")
    start: int = Field(description="Byte offset of the window's first byte (a line start unless it is 0).")
    end: int = Field(description="Byte offset just past the window's last byte.")
    size: int = Field(description="The log's size in bytes now (it grows while the job runs).")
    active: bool = Field(description="True while the job runs (its log may still grow).")


class TailStreamRequest(m.StreamRequest):
    bytes: int | None = Field(
        DEFAULT_WINDOW_BYTES, description="How much of the existing log to send first, 1–1048576 (default 262144)."
    )


@router.endpoint(
    "get_job_log_range",
    style="read",
    summary="A window of a job's log by byte offsets (Cronwright extension)",
    request=LogRangeRequest,
    response=LogRangeResult,
)
async def get_job_log_range(ctx: Ctx) -> dict[str, Any]:
    """At most `bytes` (1–1048576, default 262144) of the job's log ending at byte offset `before`
    (default: the end), live or stored. When the window does not begin at the log's start it is
    moved forward to the next line start (unless it holds no line break), so windows fetched one
    before the other join without a cut line: pass the `start` of one as the `before` of the next.
    A job that ended without output but with an error has its description as its log. Allowed to
    whoever may read the log: a caller with scope on the job (as `get_job`), or `t`, the job's
    `token` (as `view_job_log`)."""
    params = ctx.params
    require_params(params, {"id": ID_RE})
    want = int_param(params, "bytes", DEFAULT_WINDOW_BYTES, minimum=1, maximum=MAX_WINDOW_BYTES)
    before = None if params.get("before") is None else int_param(params, "before", 0, maximum=_MAX_OFFSET)
    service = ctx.conductor.job_service
    token = params.get("t")
    if token not in (None, ""):
        if not service.check_token(params["id"], token):
            raise Forbidden("access", "Authentication failed.")
        job, active = service.find(params["id"])
        if job is None:
            raise job_details_missing(params["id"])
    else:
        job, active = _visible(ctx)
    if active:
        size = await anyio.to_thread.run_sync(ctx.conductor.jobs.logs.size, job["id"])
        end = size if before is None else min(before, size)
        start, data = await anyio.to_thread.run_sync(_live_window, service, job["id"], end, want)
        end = start + len(data)
    else:
        reader = await anyio.to_thread.run_sync(service.open_log, job, False)
        if reader is None:
            return {"text": "", "start": 0, "end": 0, "size": 0, "active": False}
        start, data, size = await anyio.to_thread.run_sync(_stored_window, reader, before, want)
        end = start + len(data)
    return {"text": data.decode("utf-8", errors="replace"), "start": start, "end": end, "size": size, "active": active}


@router.endpoint(
    "stream_job_log_tail",
    style="read",
    summary="The end of a job's log, then the log as it grows (server-sent events; Cronwright extension)",
    request=TailStreamRequest,
    raw=True,
)
async def stream_job_log_tail(ctx: Ctx) -> Response:
    """A `text/event-stream` like `stream_job_log`, for a log too big to send whole: first a
    `window` event (`{start, end}`: the byte offsets of the backlog that follows), then `log`
    events whose data is a JSON string (the last `bytes` of the log so far, 1–1048576, default
    262144, cut at a line start; then each new piece as it is printed), and one `end` event (the
    final record's `id`, `code` and `description`) once the job has completed. Earlier parts come
    from `get_job_log_range` with `before` = the window's `start`. Authorized like
    `stream_job_log`."""
    job_id, token = _stream_access(ctx)
    want = int_param(ctx.params, "bytes", DEFAULT_WINDOW_BYTES, minimum=1, maximum=MAX_WINDOW_BYTES)
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
    backlog = int(job.get("log_file_size") or 0) if active else 0
    remote: asyncio.Task[None] | None = None
    if active and job_id not in engine.active:  # another conductor runs it: follow its files and record
        remote = asyncio.create_task(_follow_remote(service, job_id, backlog, feed))
    elif active:  # subscribed in the same turn as the backlog's size is read: nothing is missed or doubled
        engine.observers.listen(job_id, feed.put)
    else:
        feed.put("complete", job)

    async def events() -> AsyncIterator[bytes]:
        nonlocal remote
        try:
            if active:
                start, data = await anyio.to_thread.run_sync(_live_window, service, job_id, backlog, want)
                end = backlog
            else:
                reader = await anyio.to_thread.run_sync(service.open_log, job, False)
                start, data = 0, b""
                if reader is not None:
                    start, data, _size = await anyio.to_thread.run_sync(_stored_window, reader, None, want)
                end = start + len(data)
            yield _sse("window", {"start": start, "end": end})
            if data:
                yield _sse("log", data.decode("utf-8", errors="replace"))
            while True:
                pending = await feed.take(HEARTBEAT_S)
                if not pending:
                    yield b": keep-alive\n\n"
                    if active and remote is None and job_id not in engine.active:
                        # it left this conductor without completing here: follow its stored record
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


def _live_window(service: Any, job_id: str, end: int, want: int) -> tuple[int, bytes]:
    """(start, bytes) of a live log: at most ``want`` bytes ending at ``end``, from a line start."""
    start = max(0, end - want)
    data = service.read_live_log(job_id, start, end - start) if end > start else b""
    return _aligned(start, data)


def _stored_window(reader: LogReader, before: int | None, want: int) -> tuple[int, bytes, int]:
    """(start, bytes, size) of a completed job's log, read through once a chunk at a time (a
    stored log is gzip: it cannot be entered in the middle). Closes the reader."""
    with reader:
        if reader.size is not None:
            before = reader.size if before is None else min(before, reader.size)
        if before is not None:
            start = max(0, before - want)
            pos = 0
            while pos < start and (chunk := reader.read(min(READ_CHUNK_BYTES, start - pos))):
                pos += len(chunk)
            parts = []
            while pos < before and (chunk := reader.read(min(READ_CHUNK_BYTES, before - pos))):
                parts.append(chunk)
                pos += len(chunk)
            size = reader.size
            if size is None:  # unknown: count the rest
                while chunk := reader.read():
                    pos += len(chunk)
                size = pos
            start = min(start, size)
            aligned, data = _aligned(start, b"".join(parts))
            return aligned, data, size
        # the end of a log of unknown size: keep the last ``want`` bytes seen
        kept: deque[bytes] = deque()
        kept_bytes = pos = 0
        while chunk := reader.read():
            pos += len(chunk)
            kept.append(chunk)
            kept_bytes += len(chunk)
            while kept_bytes - len(kept[0]) >= want:
                kept_bytes -= len(kept.popleft())
        data = b"".join(kept)
        data = data[len(data) - want :] if len(data) > want else data
        aligned, data = _aligned(pos - len(data), data)
        return aligned, data, pos


def _aligned(start: int, data: bytes) -> tuple[int, bytes]:
    """A window that does not begin the log moved to its first line start (when it has one), or
    at least past a cut UTF-8 sequence; a cut sequence at its end is dropped too."""
    if start > 0:
        newline = data.find(b"\n")
        if 0 <= newline < len(data) - 1:
            cut = newline + 1
        else:
            cut = 0
            while cut < min(len(data), 3) and data[cut] & 0xC0 == 0x80:
                cut += 1
        data = data[cut:]
        start += cut
    return start, data[: _complete_utf8(data)]


def _complete_utf8(data: bytes) -> int:
    """The length of ``data`` without a UTF-8 sequence cut at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:
            continue  # a continuation byte: look further back for its lead byte
        need = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4 if byte & 0xF8 == 0xF0 else 1
        return len(data) - back if need > back else len(data)
    return len(data)
