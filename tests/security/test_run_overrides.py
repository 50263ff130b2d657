"""Issue 8 points 1 and 3: `run_event` overrides that would reach beyond the event as defined — a
test run that skips the administrators' universal limits, or input files that point into other jobs'
storage — need more than `run_jobs`."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from tests.api.helpers import create_event, make_key, run_wait, uid
from tests.support.server import Api, Server


def test_test_runs_need_edit_events(api: Api) -> None:
    """A `test` run skips the manual-trigger check and the category/universal limits and actions, so a
    run_jobs-only key gets `access`; an editor may test."""
    event = create_event(api, triggers=[])
    runner, _ = make_key(api, {"run_jobs": True})
    status, code, text = runner.error("run_event", {"id": event["id"], "test": True})
    assert (status, code) == (403, "access") and "Edit Events" in text
    editor, _ = make_key(api, {"run_jobs": True, "edit_events": True})
    assert "_test" in run_wait(editor, event["id"], test=True)["tags"]


def test_input_files_come_only_from_uploads(api: Api, server: Server) -> None:
    """A run (or a magic link) cannot list storage paths in `input.files` to read another job's files:
    `access`; uploads with the request still arrive."""
    owner = create_event(
        api, params={"script": '#!/bin/sh\necho secret > s.txt\necho \'{"xy":1,"files":["s.txt"]}\'\n'}
    )
    stolen = run_wait(api, owner["id"])["files"][0]
    runner, _ = make_key(api, {"run_jobs": True}, categories=["general"])
    event = create_event(api, params={"script": "#!/bin/sh\ncat *.txt\n"})
    status, code, _ = runner.error("run_event", {"id": event["id"], "input": {"files": [stolen]}})
    assert (status, code) == (403, "access")
    key = "files-" + uid("k").replace("_", "-")
    magic = create_event(api, triggers=[{"type": "magic", "enabled": True, "key": key}])
    answer = httpx.post(f"{server.url}/api/app/magic/v1/{key}", json={"input": {"files": [stolen]}}, timeout=30)
    assert answer.status_code == 403 and answer.json()["code"] == "access"
    assert api.ok("get_jobs", {"event": magic["id"]})["rows"] == []
    uploaded = runner.http.post(
        "/api/app/run_event/v1/wait",
        data={"json": json.dumps({"id": event["id"]})},
        files={"f": ("mine.txt", b"mine")},
        headers={"X-API-Key": str(runner.key)},
        timeout=30,
    ).json()
    assert uploaded["code"] == 0 and "mine" in uploaded["job"]["output"] and "secret" not in uploaded["job"]["output"]


def test_run_cannot_preset_job_files_for_its_chains(api: Api, server: Server) -> None:
    """A `files` list in a run request (naming another user's stored file) never becomes the job's
    files, so a chained job cannot receive it and deleting that chained job cannot delete it."""
    owner = create_event(
        api, params={"script": '#!/bin/sh\necho TOPSECRET > s.txt\necho \'{"xy":1,"files":["s.txt"]}\'\n'}
    )
    stolen = run_wait(api, owner["id"])["files"][0]
    runner, _ = make_key(api, {"run_jobs": True, "delete_jobs": True}, categories=["general"])
    child = create_event(api, params={"script": "#!/bin/sh\ncat *.txt 2>/dev/null || echo none\n"})
    parent = create_event(api)
    chain = [{"enabled": True, "condition": "start", "type": "run_event", "event_id": child["id"]}]
    job = run_wait(runner, parent["id"], files=[stolen], actions=chain)
    assert stolen["path"] not in json.dumps(job.get("files") or [])
    children = _jobs_of(api, child["id"])
    assert all(stolen["path"] not in json.dumps(c.get("input") or {}) for c in children)
    for c in children:
        runner.ok("delete_job", {"id": c["id"]})
    assert _fetch(server, stolen["path"]) == 200


def test_deleting_a_chained_job_keeps_its_parents_files(api: Api, server: Server) -> None:
    """A chained job's input files are its parent's outputs: deleting the chained job leaves them."""
    child = create_event(api, params={"script": "#!/bin/sh\ncat *.txt\n"})
    chain = [{"enabled": True, "condition": "success", "type": "run_event", "event_id": child["id"]}]
    parent = create_event(
        api,
        params={"script": '#!/bin/sh\necho hello > out.txt\necho \'{"xy":1,"files":["out.txt"]}\'\n'},
        actions=chain,
    )
    produced = run_wait(api, parent["id"])["files"][0]
    (chained,) = _jobs_of(api, child["id"])
    assert chained["input"]["files"][0]["path"] == produced["path"]
    api.ok("delete_job", {"id": chained["id"]})
    assert _fetch(server, produced["path"]) == 200


def _fetch(server: Server, key: str) -> int:
    return httpx.get(f"{server.url}/{key}", timeout=30).status_code


def _jobs_of(api: Api, event_id: str, timeout_s: float = 30) -> list[dict[str, Any]]:
    """The completed jobs of an event, once there is at least one (chained jobs start after their parent)."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = api.ok("get_jobs", {"event": event_id, "limit": 10})["rows"]
        if rows:
            return [api.ok("get_job", {"id": row["id"]})["job"] for row in rows]
        assert time.monotonic() < deadline, f"no completed job of {event_id}"
        time.sleep(0.05)
