"""What ``stream_job`` sends (sdk-wire.md §1): the per-second live updates of one job, built from
the live record, and the final update built from the stored one. Pure functions over job
dicts; the HTTP framing and the loop live in ``api/routes/jobs.py``.

The official xyOps SDK reads only ``data:`` lines whose JSON has ``xy``; the last one it sees must
carry ``code`` and ``description``. Keys and their conditions follow xyOps exactly, so a client
sees the same objects from either server.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

#: seconds between two live updates (also the stream's only keep-alive)
UPDATE_INTERVAL_S = 1.0
#: sent in every live update when truthy on the job
_REPEATED = ("cpu", "mem", "disk", "net", "updated", "position")
#: sent with a new ``redraw`` token when present on the job
_REDRAWN = ("table", "html")
#: added to the final update when present (and not empty text, zero or false) on the record
_FINAL_OPTIONAL = ("table", "html", "data", "files")


def stream_token(job_id: str, secret_key: str) -> str:
    """The ``stream`` value ``magic`` answers: ``sha256_hex("stream" + id + secret_key)``."""
    return hashlib.sha256(f"stream{job_id}{secret_key}".encode()).hexdigest()


def check_stream_token(job_id: str, token: str, secret_key: str) -> bool:
    return hmac.compare_digest(stream_token(job_id, secret_key).encode(), token.encode("utf-8", "replace"))


def _truthy(value: Any) -> bool:
    """JavaScript truthiness of a JSON value: objects and arrays are true even when empty."""
    if isinstance(value, (dict, list)):
        return True
    return bool(value)


class LiveUpdates:
    """The live updates of one stream: remembers what this stream has already sent (the state,
    the server, the ``redraw`` token) so each update carries only what the rules ask for."""

    def __init__(self) -> None:
        self._first = True
        self._state: Any = None
        self._server_sent = False
        self._redraw: Any = None

    def next(self, job: dict[str, Any]) -> dict[str, Any]:
        update: dict[str, Any] = {"xy": 1}
        if self._first:
            update["id"] = job.get("id")
            update["started"] = job.get("started")
        state = job.get("state")
        if self._first or state != self._state:
            update["state"] = state
            self._state = state
            if job.get("until"):
                update["until"] = job["until"]
        if not self._server_sent and job.get("server"):
            update["server"] = job["server"]
            self._server_sent = True
        for key in _REPEATED:
            if _truthy(job.get(key)):
                update[key] = job[key]
        redraw = job.get("redraw")
        if redraw and redraw != self._redraw:
            update["redraw"] = redraw
            self._redraw = redraw
            for key in _REDRAWN:
                if key in job:
                    update[key] = job[key]
        update["progress"] = job.get("progress") or 0
        self._first = False
        return update


def final_update(record: dict[str, Any]) -> dict[str, Any]:
    """The last update of a stream, from the stored record of the completed job."""
    update: dict[str, Any] = {"xy": 1, "id": record.get("id"), "code": record.get("code", 0)}
    if "description" in record:
        update["description"] = record["description"]
    update["completed"] = record.get("completed")
    update["elapsed"] = record.get("elapsed")
    for key in _FINAL_OPTIONAL:
        if _truthy(record.get(key)):
            update[key] = record[key]
    return update


def missing_record(error: str) -> dict[str, Any]:
    """The final update when the stored record cannot be loaded (flushed, ephemeral or deleted
    job, or an unknown id reached with a stream token)."""
    return {"xy": 1, "error": True, "code": 1, "description": f"Failed to load job data: {error}"}


def storage_miss(job_id: str) -> str:
    """xyOps' storage error text for a job record that does not exist."""
    return f"Error: Failed to fetch key: unbase/records/jobs/{job_id}: Not found"


__all__ = [
    "UPDATE_INTERVAL_S",
    "LiveUpdates",
    "check_stream_token",
    "final_update",
    "missing_record",
    "storage_miss",
    "stream_token",
]
