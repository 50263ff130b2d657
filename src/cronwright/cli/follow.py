"""Waiting for a job: its live progress (``stream_job``) or log (``stream_job_log``), a progress bar
on stderr, and the exit code its result maps to."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any

from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from cronwright.cli.client import Client
from cronwright.cli.common import (
    EXIT_JOB_ABORTED,
    EXIT_JOB_FAILED,
    EXIT_JOB_WARNING,
    EXIT_OK,
    EXIT_TIMEOUT,
    CliError,
)
from cronwright.cli.output import console

POLL_S = 0.5


def exit_code_of(job: dict[str, Any]) -> int:
    """0 success, 3 failed, 4 warning, 5 aborted (docs/cli.md)."""
    code = job.get("code")
    if code in (0, None, ""):
        return EXIT_OK
    if code == "warning":
        return EXIT_JOB_WARNING
    if code == "abort":
        return EXIT_JOB_ABORTED
    return EXIT_JOB_FAILED


def follow_job(client: Client, job_id: str, *, show_log: bool, timeout_s: float | None = None) -> dict[str, Any]:
    """Wait until the job completes and answer its final record; with ``show_log`` its log is
    written to stdout as it grows (what was printed before we subscribed first). A progress bar
    runs on stderr when it is a terminal and the log is not shown."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    with _progress(job_id, enabled=not show_log and sys.stderr.isatty()) as advance:
        final = None
        try:
            final = _from_stream(client, job_id, show_log, deadline, advance)
        except CliError as exc:
            if exc.api_code is not None:
                raise
            # the stream broke (proxy, restart): poll for the result instead
        if final is None:
            final = _poll(client, job_id, deadline, advance)
    return final


def _from_stream(
    client: Client, job_id: str, show_log: bool, deadline: float | None, advance: Any
) -> dict[str, Any] | None:
    """Follow the job's log (``stream_job_log``) or its progress (``stream_job``) until it
    completes; then its final record. None when the stream ended without saying so."""
    if show_log:
        for kind, data in client.stream_events("stream_job_log", {"id": job_id}):
            _check_deadline(deadline, job_id)
            if kind == "log" and isinstance(data, str):
                _write(data)
            elif kind == "end":
                return _final(client, job_id)
        return None
    for kind, data in client.stream_events("stream_job", {"id": job_id}):
        _check_deadline(deadline, job_id)
        if kind == "update" and isinstance(data, dict):
            if "code" in data or data.get("error"):
                return _final(client, job_id)
            advance(data)
    return None


def _final(client: Client, job_id: str) -> dict[str, Any]:
    return dict(client.call("get_job", {"id": job_id})["job"])


def _poll(client: Client, job_id: str, deadline: float | None, advance: Any) -> dict[str, Any]:
    while True:
        job = client.call("get_job", {"id": job_id})["job"]
        if job.get("final") or job.get("complete"):
            return dict(job)
        advance(job)
        _check_deadline(deadline, job_id)
        time.sleep(POLL_S)


def _check_deadline(deadline: float | None, job_id: str) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise CliError(f"Gave up waiting for job {job_id}; it keeps running.", EXIT_TIMEOUT)


def job_log(client: Client, job_id: str) -> str:
    """The whole log of a job, running or completed (``view_job_log`` with the job's token)."""
    token = client.call("get_job", {"id": job_id, "remove": "output"})["token"]
    status, text = client.get_text("view_job_log", {"id": job_id, "t": token})
    return text if status == 200 else ""


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


@contextlib.contextmanager
def _progress(job_id: str, *, enabled: bool) -> Iterator[Any]:
    """A function taking job fields (``progress``, ``state``) that moves the bar; a no-op when off."""
    if not enabled:
        yield lambda fields: None
        return
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
    )
    task = bar.add_task(f"Job {job_id}", total=None)

    def advance(fields: dict[str, Any]) -> None:
        progress = fields.get("progress")
        if isinstance(progress, (int, float)) and not isinstance(progress, bool):
            bar.update(task, total=1.0, completed=max(0.0, min(1.0, float(progress))))
        state = fields.get("state")
        if isinstance(state, str):
            bar.update(task, description=f"Job {job_id} ({'running' if state == 'active' else state})")

    with bar:
        yield advance
