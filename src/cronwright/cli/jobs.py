"""``cronwright jobs list|get|log|abort``."""

from __future__ import annotations

import re
import sys
import time
from datetime import datetime
from typing import Any

import click

from cronwright.cli.common import Remote, remote_command
from cronwright.cli.follow import follow_job, job_log
from cronwright.cli.output import duration, job_result, print_fields, print_json, print_table, when

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_SPAN_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@click.group()
def jobs() -> None:
    """List and inspect jobs, read their logs, abort them."""


def since_epoch(text: str, now: float | None = None) -> int:
    """``--since``: a span back from now (``30m``, ``12h``, ``1d``, ``2w``), a date (``2026-03-01``,
    local midnight), a local date and time in ISO 8601, or Unix seconds."""
    now = time.time() if now is None else now
    span = _SPAN.match(text)
    if span:
        return int(now - float(span.group(1)) * _SPAN_S[span.group(2)])
    if text.strip().isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a span (30m, 12h, 1d, 2w), a date (YYYY-MM-DD) or Unix seconds", param_hint="--since"
        ) from None
    return int(moment.timestamp() if moment.tzinfo else moment.astimezone().timestamp())


@jobs.command("list")
@click.option("--event", "event_id", help="Only jobs of this event id.")
@click.option("--failed", is_flag=True, help="Only jobs that did not succeed (tag _error).")
@click.option("--since", help="Completed since: 30m, 12h, 1d, 2w, YYYY-MM-DD or Unix seconds (to the hour).")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="Rows to show.")
@click.option("--active", is_flag=True, help="Unfinished jobs (running, queued, waiting) instead of completed ones.")
@remote_command
def jobs_list(remote: Remote, event_id: str | None, failed: bool, since: str | None, limit: int, active: bool) -> None:
    """Completed jobs, newest first (search_jobs), or --active ones."""
    if active:
        params: dict[str, Any] = {"limit": limit}
        if event_id:
            params["event"] = event_id
        body = remote.client.call("get_active_jobs", params)
    else:
        terms = []
        if event_id:
            terms.append(f"event:{event_id}")
        if failed:
            terms.append("tags:_error")
        if since:
            terms.append(f"date:>={since_epoch(since)}")
        body = remote.client.call("search_jobs", {"query": " ".join(terms) or "*", "limit": limit, "offset": 0})
    if remote.as_json:
        print_json(body)
        return
    rows = body.get("rows") or []
    print_table(
        ("Job", "Event", "Result", "Started", "Elapsed", "Server"),
        (
            (
                j.get("id"),
                j.get("event"),
                job_result(j),
                when(j.get("started")),
                duration(j.get("elapsed")) if j.get("complete") or j.get("final") else "",
                j.get("server"),
            )
            for j in rows
        ),
        empty="No jobs.",
    )
    total = (body.get("list") or {}).get("length")
    if isinstance(total, int) and total > len(rows):
        click.echo(f"{len(rows)} of {total} shown; use --limit for more.", err=True)


@jobs.command("get")
@click.argument("job_id")
@remote_command
def jobs_get(remote: Remote, job_id: str) -> None:
    """Show one job."""
    body = remote.client.call("get_job", {"id": job_id, "remove": "output"})
    if remote.as_json:
        print_json(body)
        return
    job = body["job"]
    params = job.get("params") if isinstance(job.get("params"), dict) else {}
    print_fields(
        [
            ("Job", job.get("id")),
            ("Event", job.get("event")),
            ("Result", job_result(job)),
            ("Source", job.get("source")),
            ("Server", job.get("server")),
            ("Started", when(job.get("started"))),
            ("Completed", when(job.get("completed"))),
            ("Elapsed", duration(job.get("elapsed"))),
            ("Tags", ", ".join(str(t) for t in job.get("tags") or [])),
            ("Params", ", ".join(f"{k}={v}" for k, v in params.items() if k not in ("script", "annotate"))),
        ]
    )


@jobs.command("log")
@click.argument("job_id")
@click.option("--follow", is_flag=True, help="Keep printing while the job runs.")
@remote_command
def jobs_log(remote: Remote, job_id: str, follow: bool) -> None:
    """Print a job's log (running or completed)."""
    if follow:
        follow_job(remote.client, job_id, show_log=True)
        return
    remote.client.call("get_job", {"id": job_id, "remove": "output"})  # not found / no access: an error
    sys.stdout.write(job_log(remote.client, job_id))


@jobs.command("abort")
@click.argument("job_id")
@remote_command
def jobs_abort(remote: Remote, job_id: str) -> None:
    """Abort a running or queued job."""
    body = remote.client.call("abort_job", {"id": job_id})
    if remote.as_json:
        print_json(body)
    else:
        click.echo(f"Abort requested for job {job_id}.")
