"""Payload builders and key helpers for the black-box API tests."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

from tests.support.server import Api

SCRIPT = "#!/bin/sh\necho hello\n"
DEFAULT_SCRIPT = "#!/bin/sh\n\n# Enter your shell script code here"
_counter = itertools.count()


def uid(prefix: str = "t") -> str:
    """A unique lower-case id for one test's objects."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}_{next(_counter)}"


def event_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "title": "Test Event",
        "enabled": True,
        "category": "general",
        "targets": ["main"],
        "algo": "random",
        "plugin": "shellplug",
        "params": {"script": SCRIPT, "annotate": False},
        "triggers": [{"type": "manual", "enabled": True}],
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def create_event(api: Api, **overrides: Any) -> dict[str, Any]:
    overrides.setdefault("id", uid("ev"))
    return api.ok("create_event", event_payload(**overrides))["event"]


def make_key(api: Api, privileges: dict[str, Any] | None = None, **fields: Any) -> tuple[Api, dict[str, Any]]:
    """A new API key with the given privileges; returns (client using it, key record)."""
    body = api.ok("create_api_key", {"title": uid("key"), "privileges": privileges or {}, **fields})
    return api.with_key(body["plain_key"]), body["api_key"]


def script_event(api: Api, script: str, **overrides: Any) -> dict[str, Any]:
    """An event running ``script`` (a shell script body; the shebang is added when missing)."""
    if not script.startswith("#!"):
        script = "#!/bin/sh\n" + script
    params = {"script": script, **overrides.pop("params", {})}
    return create_event(api, params=params, **overrides)


def run_wait(api: Api, event_id: str, **request: Any) -> dict[str, Any]:
    """Run an event through ``run_event/v1/wait`` and return the completed job."""
    body = api.ok("run_event/v1/wait", {"id": event_id, **request}, versioned=False)
    assert body["job"]["final"] is True
    return body["job"]


def start_job(api: Api, event_id: str, **request: Any) -> str:
    return api.ok("run_event", {"id": event_id, **request})["id"]


def wait_job(api: Api, job_id: str, timeout_s: float = 30) -> dict[str, Any]:
    """Poll ``get_job`` until the job's record is final."""
    deadline = time.time() + timeout_s
    while True:
        job = api.ok("get_job", {"id": job_id})["job"]
        if job.get("final"):
            return job
        assert time.time() < deadline, f"job {job_id} did not finish: {job.get('state')}"
        time.sleep(0.05)


def wait_state(api: Api, job_id: str, state: str, timeout_s: float = 15) -> dict[str, Any]:
    """Poll ``get_job`` until the job reaches ``state``."""
    deadline = time.time() + timeout_s
    while True:
        job = api.ok("get_job", {"id": job_id})["job"]
        if job.get("state") == state:
            return job
        assert time.time() < deadline, f"job {job_id} never reached {state}: {job.get('state')}"
        time.sleep(0.05)
