"""Issue 8 points 1 and 3: `run_event` overrides that would reach beyond the event as defined — a
test run that skips the administrators' universal limits, or input files that point into other jobs'
storage — need more than `run_jobs`."""

from __future__ import annotations

import json

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
