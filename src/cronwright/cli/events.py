"""``cronwright events list|get|create|update|enable|disable|delete|run``."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any, BinaryIO

import click

from cronwright.cli.client import Client
from cronwright.cli.common import CliError, Remote, did_you_mean, parse_pairs, remote_command
from cronwright.cli.follow import exit_code_of, follow_job
from cronwright.cli.output import (
    duration,
    job_result,
    print_fields,
    print_json,
    print_table,
    when,
)


@click.group()
def events() -> None:
    """List, inspect, change and run events."""


@events.command("list")
@click.option("--category", help="Only events of this category id.")
@click.option("--enabled/--disabled", "enabled", default=None, help="Only enabled (or disabled) events.")
@remote_command
def events_list(remote: Remote, category: str | None, enabled: bool | None) -> None:
    """List the events you may see."""
    params: dict[str, Any] = {}
    if category:
        params["category"] = category
    if enabled is not None:
        params["enabled"] = enabled
    body = remote.client.call("get_events", params)
    if remote.as_json:
        print_json(body)
        return
    print_table(
        ("ID", "Title", "Category", "Plugin", "Enabled", "Triggers", "Modified"),
        (
            (
                e.get("id"),
                e.get("title"),
                e.get("category"),
                e.get("plugin"),
                "yes" if e.get("enabled") else "no",
                _trigger_summary(e.get("triggers")),
                when(e.get("modified")),
            )
            for e in body.get("rows") or []
        ),
        empty="No events.",
    )


@events.command("get")
@click.argument("event_id")
@remote_command
def events_get(remote: Remote, event_id: str) -> None:
    """Show one event, its running jobs and its next runs."""
    body = _call_event(remote.client, "get_event", {"id": event_id}, event_id)
    if remote.as_json:
        print_json(body)
        return
    event = body["event"]
    print_fields(
        [
            ("ID", event.get("id")),
            ("Title", event.get("title")),
            ("Enabled", "yes" if event.get("enabled") else "no"),
            ("Category", event.get("category")),
            ("Plugin", event.get("plugin")),
            ("Targets", ", ".join(str(t) for t in event.get("targets") or [])),
            ("Triggers", _trigger_summary(event.get("triggers"))),
            ("Created", when(event.get("created"))),
            ("Modified", when(event.get("modified"))),
            ("Running jobs", ", ".join(str(j.get("id")) for j in body.get("jobs") or []) or "none"),
            ("Queued jobs", body.get("queued")),
            ("Notes", event.get("notes")),
        ]
    )
    forecast = remote.client.call("get_event_forecast", {"id": event_id, "count": 5})
    runs = [r for r in forecast.get("rows") or [] if not r.get("suppressed")]
    if runs and forecast.get("active"):
        click.echo("\nNext runs:")
        print_table(("When", "Trigger"), ((when(r["at"]), f"#{r['trigger']} {r.get('type') or ''}") for r in runs))


@events.command("create")
@click.option(
    "-f",
    "--file",
    "path",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="JSON file ('-' for stdin).",
)
@remote_command
def events_create(remote: Remote, path: str) -> None:
    """Create an event from a JSON document (the fields of create_event)."""
    body = remote.client.call("create_event", _read_json(path))
    if remote.as_json:
        print_json(body)
        return
    event = body["event"]
    click.echo(f"Created event {event['id']} ({event.get('title')}).")


@events.command("update")
@click.argument("event_id")
@click.option(
    "-f", "--file", "path", type=click.Path(dir_okay=False, allow_dash=True), help="JSON file of fields to change."
)
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Change one field (VALUE as JSON, else text); repeatable.",
)
@remote_command
def events_update(remote: Remote, event_id: str, path: str | None, assignments: tuple[str, ...]) -> None:
    """Change fields of an event (each given field replaces the stored one)."""
    changes = _read_json(path) if path else {}
    for key, text in parse_pairs(assignments, "--set").items():
        changes[key] = _json_or_text(text)
    if not changes:
        raise click.UsageError("Nothing to change: give -f FILE or --set KEY=VALUE.")
    changes["id"] = event_id
    _updated(remote, _call_event(remote.client, "update_event", changes, event_id), "Updated")


@events.command("enable")
@click.argument("event_id")
@remote_command
def events_enable(remote: Remote, event_id: str) -> None:
    """Enable an event (its schedule runs again)."""
    _updated(remote, _call_event(remote.client, "update_event", {"id": event_id, "enabled": True}, event_id), "Enabled")


@events.command("disable")
@click.argument("event_id")
@remote_command
def events_disable(remote: Remote, event_id: str) -> None:
    """Disable an event (nothing is scheduled until it is enabled)."""
    body = _call_event(remote.client, "update_event", {"id": event_id, "enabled": False}, event_id)
    _updated(remote, body, "Disabled")


@events.command("delete")
@click.argument("event_id")
@click.option("--delete-jobs", is_flag=True, help="Also delete the event's job history.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@remote_command
def events_delete(remote: Remote, event_id: str, delete_jobs: bool, yes: bool) -> None:
    """Delete an event."""
    if not yes:
        if not sys.stdin.isatty():
            raise CliError("Refusing to delete without confirmation: add --yes.")
        click.confirm(f"Delete event {event_id}?", abort=True)
    params: dict[str, Any] = {"id": event_id}
    if delete_jobs:
        params["delete_jobs"] = True
    body = _call_event(remote.client, "delete_event", params, event_id)
    if remote.as_json:
        print_json(body)
    else:
        click.echo(f"Deleted event {event_id}.")


@events.command("run")
@click.argument("event_id")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Job parameter; repeatable.")
@click.option(
    "--file",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Upload a file as job input; repeatable.",
)
@click.option("--wait", is_flag=True, help="Wait for the job; the exit code tells its result.")
@click.option("--follow", is_flag=True, help="Print the job's log as it runs (implies --wait).")
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop waiting after this many seconds (exit 6).",
)
@click.option("--test", "test_run", is_flag=True, help="A test run (no manual trigger needed).")
@remote_command
def events_run(
    remote: Remote,
    event_id: str,
    params: tuple[str, ...],
    files: tuple[str, ...],
    wait: bool,
    follow: bool,
    timeout_s: float | None,
    test_run: bool,
) -> None:
    """Start a job of the event now.

    With --wait (or --follow) the command ends when the job does: exit 0 when it succeeded,
    3 when it failed, 4 on a warning, 5 when aborted, 6 when --timeout passed first."""
    request: dict[str, Any] = {"id": event_id}
    if params:
        request["params"] = parse_pairs(params, "--param")
    if test_run:
        request["test"] = True
    with contextlib.ExitStack() as stack:
        uploads: list[tuple[str, tuple[str, BinaryIO]]] = [
            ("file", (Path(p).name, stack.enter_context(open(p, "rb")))) for p in files
        ]
        started = _call_event(remote.client, "run_event", request, event_id, files=uploads or None)
    job_id = started["id"]
    if not (wait or follow):
        if remote.as_json:
            print_json(started)
        else:
            click.echo(f"Started job {job_id}.")
        return
    if not remote.as_json and not follow:
        click.echo(f"Started job {job_id}.", err=True)
    final = follow_job(remote.client, job_id, show_log=follow, timeout_s=timeout_s)
    if remote.as_json:
        print_json(remote.client.call("get_job", {"id": job_id}))
    else:
        summary = f"Job {job_id}: {job_result(final)}"
        if final.get("elapsed") is not None:
            summary += f" after {duration(final.get('elapsed'))}"
        click.echo(summary, err=follow)
    sys.exit(exit_code_of(final))


def _call_event(
    client: Client, name: str, params: dict[str, Any], event_id: str, *, files: Any = None
) -> dict[str, Any]:
    """Call an endpoint about one event; "not found" errors suggest the closest event ids."""
    try:
        return client.call(name, params, files=files)
    except CliError as exc:
        missing = exc.api_code == "notfound" or "not found" in exc.message.lower()
        if exc.api_code is None or not missing:
            raise
        try:
            rows = client.call("get_events").get("rows") or []
        except CliError:
            raise exc from None
        hint = did_you_mean(event_id, [str(r.get("id")) for r in rows])
        raise CliError(exc.message + hint, exc.exit_code, api_code=exc.api_code) from None


def _updated(remote: Remote, body: dict[str, Any], verb: str) -> None:
    if remote.as_json:
        print_json(body)
        return
    event = body.get("event") or {}
    click.echo(f"{verb} event {event.get('id')} ({event.get('title')}).")


def _trigger_summary(triggers: Any) -> str:
    if not isinstance(triggers, list):
        return ""
    kinds = [str(t.get("type")) for t in triggers if isinstance(t, dict) and t.get("enabled")]
    return ", ".join(dict.fromkeys(kinds))


def _read_json(path: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"Cannot read {path}: {exc.strerror}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CliError(f"{path} must hold a JSON object")
    return value


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
