"""Pure job rules: code normalization, completion conditions, tags, limits lookup and the retry
request (jobs.md §3, §6, §7). No I/O, no clock: callers pass times in."""

from __future__ import annotations

import copy
import re
from typing import Any


def no_manual_runs(event_id: str) -> str:
    """Why ``run_event`` (or a ``run_event`` action) refuses an event, and how to allow it."""
    return (
        f"Event does not allow manual job runs: {event_id}. To allow them, add the trigger "
        '{"type": "manual", "enabled": true} to the event\'s triggers (update_event).'
    )


#: event fields that never become job fields (jobs.md §1)
EVENT_ONLY_KEYS = ("title", "enabled", "triggers", "session_id", "created", "modified", "revision")
#: states in which a job has not started running (aborting them needs no process)
WAITING_STATES = ("start_delay", "retry_delay", "ready", "queued")
#: what a retry copies from the failed job (jobs.md §7; the key id travels as ``key``)
RETRY_KEYS = (
    "type",
    "event",
    "category",
    "plugin",
    "targets",
    "algo",
    "workflow",
    "input",
    "params",
    "parent",
    "source",
    "username",
    "key",
    "principal",
    "actions",
    "limits",
    "icon",
    "label",
    "test",
    "retry_count",
    "tags",
    "invisible",
    "ephemeral",
)
SPECIAL_CODES = ("warning", "critical", "abort")
#: the job's own bookkeeping: a plugin's updates and results never overwrite these
ENGINE_FIELDS = frozenset(
    {
        "id",
        "event",
        "state",
        "started",
        "completed",
        "elapsed",
        "server",
        "groups",
        "source",
        "username",
        "key",
        "principal",
        "complete",
        "final",
        "code",
        "description",
        "pid",
        "activity",
        "actions",
        "limits",
        "tags",
        "log_file",
        "log_file_size",
        "until",
        "updated",
        "now",
        "retry_count",
        "retry_prev",
        "retried",
        "jobs",
        "input",
        "type",
    }
)
#: what a job runs, where, for whom, with which rules and what follows it: set at launch (from the
#: event, the run request, the plugin and the engine) and read again later (retries, actions,
#: finishing). A plugin's output never changes these (docs/security.md, "What a job may hand back").
JOB_INPUT_FIELDS = frozenset(
    {
        "type",
        "category",
        "plugin",
        "targets",
        "algo",
        "expression",
        "workflow",
        "params",
        "parent",
        "test",
        "test_actions",
        "test_limits",
        "test_conditions",
        "invisible",
        "ephemeral",
        "priority",
        "post_data",
        "env",
        "uid",
        "gid",
        "command",
        "script",
        "kill",
        "runner",
        "cwd",
        "secrets",
        "serverData",
        "stype",
        "suspended",
        "retry_ok",
        "abort_reason",
        "setup_error",
        "event_title",
        "event_revision",
    }
)
#: what a job asks of its event when it finishes: set only by its plugin's output (authorized by
#: ``Permits.screen_outputs``) and by the ``disable``/``delete`` actions
JOB_EVENT_REQUESTS = frozenset({"update_event", "delete_event"})
#: what a plugin's output (live updates and its result) may not set
OUTPUT_PROTECTED = ENGINE_FIELDS | JOB_INPUT_FIELDS
#: a plugin's output records that become the job's sanitized ``html`` (engine/jobs/render.py)
RENDERED_KEYS = frozenset({"html", "markdown", "text"})
#: live-only fields removed when a job completes (sdk-wire.md §6): never in a stored record
LIVE_ONLY_FIELDS = (
    "status", "redraw", "remote", "suspended", "update_event", "delete_event", "procs", "conns",
    "retry_ok", "log_file", "push", "until", "position",
)  # fmt: skip
#: what a ``run_event`` request may override (events.md §3.7 step 14); every other engine or input
#: field comes from the event, the plugin and the engine only
RUN_OVERRIDABLE = frozenset(
    {
        "plugin",
        "targets",
        "algo",
        "expression",
        "params",
        "input",
        "actions",
        "limits",
        "tags",
        "label",
        "priority",
        "test",
        "test_actions",
        "test_limits",
        "test_conditions",
        "post_data",
    }
)
#: what a job's run produces (its plugin's output and the engine's samples): a run request cannot
#: pre-set them (a ``files`` list naming another user's upload would hand it to the job's chains)
JOB_RESULT_FIELDS = frozenset(
    {"files", "data", "output", "html", "table", "perf", "cpu", "mem", "procs", "conns", "status", "details",
     "markdown", "text", "timelines", "push", "redraw", "xy"}
)  # fmt: skip
RUN_PROTECTED = (
    ENGINE_FIELDS | JOB_INPUT_FIELDS | JOB_EVENT_REQUESTS | JOB_RESULT_FIELDS | {"progress"}
) - RUN_OVERRIDABLE
#: job fields an event document never holds (stripped when it is saved and when a job is built from
#: it): the engine's bookkeeping, run-time state and requests, and run-only options
EVENT_FORBIDDEN_KEYS = (
    ENGINE_FIELDS | JOB_INPUT_FIELDS | JOB_EVENT_REQUESTS | {"progress", "log_file", "output"}
) - frozenset(
    {"id", "type", "category", "plugin", "targets", "algo", "expression", "workflow", "params", "input",
     "actions", "limits", "tags", "icon", "priority", "env", "uid", "gid", "command", "script", "kill",
     "runner", "cwd", "username"}
)  # fmt: skip


def event_request(event: dict[str, Any]) -> dict[str, Any]:
    """A launch request built from an event: a deep copy without ``EVENT_FORBIDDEN_KEYS`` (events
    stored before they were refused must not hand a job engine fields or requests either)."""
    return {k: copy.deepcopy(v) for k, v in event.items() if k not in EVENT_FORBIDDEN_KEYS}


_NON_WORD = re.compile(r"\W+")


def normalize_code(code: Any) -> int | float | str:
    """Falsy → 0; not a number or string → "unknown"; strings: runs of non-word characters → "_",
    lower-cased ("Bad Thing!" → "bad_thing_")."""
    if not code:
        return 0
    if isinstance(code, bool) or not isinstance(code, (int, float, str)):
        return "unknown"
    if isinstance(code, str):
        return _NON_WORD.sub("_", code).lower()
    return code


def is_enabled(entry: Any) -> bool:
    return isinstance(entry, dict) and bool(entry.get("enabled"))


def first_limit(job: dict[str, Any], limit_type: str) -> dict[str, Any] | None:
    """The first enabled limit of a type (event before category before universal)."""
    for limit in job.get("limits") or []:
        if is_enabled(limit) and limit.get("type") == limit_type:
            return limit
    return None


def limit_amount(limit: dict[str, Any] | None) -> float | None:
    amount = limit.get("amount") if limit else None
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        return None
    return amount


def completion_conditions(job: dict[str, Any]) -> list[str]:
    """jobs.md §6.1 step 6 (empty when the job was retried)."""
    if job.get("retried"):
        return []
    code = job.get("code")
    conditions = ["complete"]
    if code:
        conditions.append("error")
        conditions.append(code if code in SPECIAL_CODES else "user")
    else:
        conditions.append("success")
    conditions.extend(f"tag:{t}" for t in job.get("tags") or [] if isinstance(t, str))
    wanted = job.get("test_conditions")
    if job.get("test") and isinstance(wanted, list):
        conditions = [c for c in conditions if c in wanted]
    return conditions


def final_tags(job: dict[str, Any], known_tags: dict[str, str], has_files: bool) -> tuple[list[str], list[str]]:
    """Tags of the stored record and the meta-log warnings (jobs.md §6.1 step 7).

    ``known_tags`` maps tag ids and titles to ids.
    """
    kept: list[str] = []
    notes: list[str] = []
    for tag in job.get("tags") or []:
        tag_id = known_tags.get(tag) if isinstance(tag, str) else None
        if tag_id is None:
            if isinstance(tag, str) and tag.startswith("_"):
                continue  # system tags are recomputed below
            notes.append(f"Unknown tag removed from job: {tag}")
        elif tag_id not in kept:
            kept.append(tag_id)
    kept, note = truncate_tags(kept, first_limit(job, "tag"))
    if note:
        notes.append(note)
    kept.append("_error" if job.get("code") else "_success")
    kept.append("_retried" if job.get("retried") else "_last")
    if job.get("test"):
        kept.append("_test")
    if has_files:
        kept.append("_files")
    return list(dict.fromkeys(kept)), notes


def truncate_tags(tags: list[Any], tag_limit: dict[str, Any] | None) -> tuple[list[Any], str | None]:
    """Apply a ``tag`` limit: keep the first ``amount`` tags."""
    amount = limit_amount(tag_limit)
    if amount is None or len(tags) <= amount:
        return tags, None
    keep = max(0, int(amount))
    return tags[:keep], f"Tag limit: kept the first {keep} of {len(tags)} tags."


def retry_request(job: dict[str, Any], now: float) -> dict[str, Any] | None:
    """The launch request of the next attempt, or None when no retry applies (jobs.md §7)."""
    code = job.get("code")
    if not code or job.get("retried") or (code == "abort" and not job.get("retry_ok")):
        return None
    limit = first_limit(job, "retry")
    amount = limit_amount(limit)
    count = job.get("retry_count") or 0
    if not amount or amount <= 0 or count >= amount:
        return None
    request = {k: job[k] for k in RETRY_KEYS if k in job}
    request["id"] = job["event"]
    request["retry_count"] = count + 1
    request["retry_prev"] = job["id"]
    for key in ("limits", "actions"):
        request[key] = [e for e in request.get(key) or [] if e.get("source") not in ("category", "universal")]
    request["tags"] = [t for t in request.get("tags") or [] if not (isinstance(t, str) and t.startswith("_"))]
    delay = limit_amount({"amount": limit.get("duration")}) if limit else None
    if delay and delay > 0:
        request["state"] = "retry_delay"
        request["until"] = now + delay
    return request


def own_uploads(job: dict[str, Any]) -> list[str]:
    """The storage keys of the files uploaded with this job's own request (run_event, magic link),
    which go when the job is deleted (``files/<owner>/<random>/<name>``; an owner-level
    ``upload_files`` file a record names is never the job's). A chained job's input files are its parent's outputs and a
    retry's are the original's uploads: they belong to those jobs and stay. Job outputs live under
    ``files/jobs/<id>/`` and are removed with their job."""
    if job.get("parent") or job.get("retry_prev"):
        return []
    inputs = job.get("input")
    entries = inputs.get("files") if isinstance(inputs, dict) else None
    return [
        entry["path"]
        for entry in entries or []
        if isinstance(entry, dict)
        and isinstance(entry.get("path"), str)
        and not entry["path"].startswith("files/jobs/")
        and entry["path"].count("/") >= 3  # files/<owner>/<name> is an upload_files file, not the request's
    ]
