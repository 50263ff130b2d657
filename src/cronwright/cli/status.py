"""``cronwright upcoming`` (what runs next) and ``cronwright status`` (is the server well)."""

from __future__ import annotations

import time
from typing import Any

import click

from cronwright.cli.common import CliError, Remote, remote_command
from cronwright.cli.output import job_result, print_fields, print_json, print_table, when

DAY_S = 86400


@click.command()
@click.option("--event", "event_ids", multiple=True, help="Only this event id; repeatable.")
@click.option("--category", "categories", multiple=True, help="Only this category id; repeatable.")
@click.option(
    "--hours", type=click.FloatRange(0, 744, min_open=True), default=24, show_default=True, help="How far ahead."
)
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="Rows to show.")
@click.option("--all", "show_all", is_flag=True, help="Also the runs that will not happen, with the reason.")
@remote_command
def upcoming(
    remote: Remote, event_ids: tuple[str, ...], categories: tuple[str, ...], hours: float, limit: int, show_all: bool
) -> None:
    """The scheduled runs of the coming hours, in time order."""
    params: dict[str, Any] = {"hours": hours, "limit": limit, "suppressed": show_all}
    if event_ids:
        params["ids"] = list(event_ids)
    if categories:
        params["category"] = list(categories)
    body = remote.client.call("get_upcoming_runs", params)
    if remote.as_json:
        print_json(body)
        return
    columns = ["When", "Event", "Title", "Trigger"] + (["Status"] if show_all else [])
    print_table(
        columns,
        (
            [when(r["epoch"]), r["event"], r.get("title"), f"#{r['trigger']} {r.get('type') or ''}"]
            + (
                [f"skipped: {r.get('detail') or r.get('reason')}" if r.get("suppressed") else "runs"]
                if show_all
                else []
            )
            for r in body.get("rows") or []
        ),
        empty=f"Nothing scheduled in the next {hours:g} hours.",
    )
    if body.get("truncated"):
        click.echo(f"Only the first {limit} runs are shown; use --limit or --hours.", err=True)


@click.command()
@remote_command
def status(remote: Remote) -> None:
    """Server up, version, running and queued jobs, next runs, failures in the last day."""
    client = remote.client
    started = time.monotonic()
    client.call("ping")
    latency_s = time.monotonic() - started
    spec = client.get_path("/api/openapi.json")
    version = (spec.json().get("info") or {}).get("version") if spec.status_code == 200 else None
    state = client.call("get_global_state").get("state") or {}
    active = client.call("get_active_jobs", {})
    upcoming_runs = client.call("get_upcoming_runs", {"hours": 24, "limit": 5, "suppressed": False})
    since = int(time.time() - DAY_S)
    try:
        failures: dict[str, Any] | None = client.call(
            "search_jobs", {"query": f"tags:_error date:>={since}", "limit": 5, "offset": 0}
        )
    except CliError as exc:
        if exc.api_code is None:
            raise
        failures = None  # an older server without search_jobs
    if remote.as_json:
        print_json(
            {
                "code": 0,
                "url": client.config.url,
                "version": version,
                "latency_s": round(latency_s, 4),
                "scheduler_enabled": (state.get("scheduler") or {}).get("enabled"),
                "active": active,
                "upcoming": upcoming_runs,
                "failures": failures,
            }
        )
        return
    jobs = active.get("rows") or []
    running = sum(1 for j in jobs if j.get("state") == "active")
    queued = sum(1 for j in jobs if j.get("state") == "queued")
    waiting = len(jobs) - running - queued
    scheduler = (state.get("scheduler") or {}).get("enabled")
    failed_count = (failures.get("list") or {}).get("length", 0) if failures is not None else None
    print_fields(
        [
            ("Server", f"{client.config.url} is up (answered in {latency_s * 1000:.0f} ms)"),
            ("Version", version or "unknown"),
            ("Scheduler", "on" if scheduler or scheduler is None else "off (nothing is scheduled)"),
            ("Jobs", f"{running} running, {queued} queued" + (f", {waiting} waiting" if waiting else "")),
            (
                "Failures",
                "unknown (no search_jobs)" if failed_count is None else f"{failed_count} in the last 24 hours",
            ),
        ]
    )
    rows = upcoming_runs.get("rows") or []
    if rows:
        click.echo("\nNext runs:")
        print_table(("When", "Event", "Title"), ((when(r["epoch"]), r["event"], r.get("title")) for r in rows))
    if failures and failures.get("rows"):
        click.echo("\nRecent failures:")
        print_table(
            ("Job", "Event", "Result", "Completed"),
            ((j.get("id"), j.get("event"), job_result(j), when(j.get("completed"))) for j in failures["rows"]),
        )
