"""Category and group scope hold for where jobs run and for what a limited caller may learn
(issue 8 review): every target must be in scope, workflows are no side door, and out-of-scope jobs
and events reveal nothing."""

from __future__ import annotations

from tests.api.helpers import create_event, event_payload, make_key, uid, wait_job
from tests.support.server import Api

EDITOR = {"create_events": True, "edit_events": True, "run_jobs": True, "abort_jobs": True, "tag_jobs": True}


def _other_group(api: Api) -> str:
    group = uid("g")
    api.ok("create_group", {"id": group, "title": "Other", "hostname_match": ".+"})
    return group


def test_every_target_must_be_in_scope(api: Api) -> None:
    """A key limited to group `main` cannot run, create or retarget a job on `[main, other]` (the
    other group's servers); a key limited to a group without servers cannot name a server outside
    it; `main` alone (or with an id that names nothing, conformance case 71) still works."""
    other = _other_group(api)
    lonely = uid("g")
    api.ok("create_group", {"id": lonely, "title": "No servers", "hostname_match": "^no-such-host$"})
    server_id = api.ok("get_active_servers")["rows"][0]["id"]
    limited, _ = make_key(api, EDITOR, groups=["main"])
    lonely_key, _ = make_key(api, EDITOR, groups=[lonely])
    event = create_event(api)
    for who, targets in ((limited, ["main", other]), (lonely_key, [lonely, server_id])):
        assert who.error("run_event", {"id": event["id"], "targets": targets})[:2] == (403, "access")
        assert who.error("create_event", event_payload(id=uid("ev"), targets=targets))[:2] == (403, "access")
        assert who.error("update_event", {"id": event["id"], "targets": targets})[:2] == (403, "access")
    mixed = create_event(api, targets=["main", other])
    assert limited.error("run_event", {"id": mixed["id"]})[:2] == (403, "access")
    job = wait_job(api, limited.ok("run_event", {"id": event["id"], "targets": ["main", "srv-unknown"]})["id"])
    assert job["code"] == 0


def test_workflow_type_is_no_way_around_group_scope(api: Api) -> None:
    """A limited caller's `type: workflow` event (which has no targets) cannot then be given targets
    outside its scope."""
    other = _other_group(api)
    limited, _ = make_key(api, EDITOR, groups=["main"])
    workflow_id = uid("wf")
    limited.ok(
        "create_event", {"id": workflow_id, "title": "WF", "type": "workflow", "category": "general", "enabled": True}
    )
    status, code, _ = limited.error(
        "update_event",
        {"id": workflow_id, "plugin": "testplug", "params": {"duration": 0}, "targets": [other], "algo": "random"},
    )
    assert (status, code) == (403, "access")
    assert api.ok("get_event", {"id": workflow_id})["event"]["targets"] == []


def test_limited_callers_learn_nothing_of_other_scopes(api: Api) -> None:
    """Global state lists only events the caller may see; job calls on an out-of-scope job answer
    `access` before saying anything about the job's state; events cannot carry `input.files`."""
    secret_category = uid("cat")
    api.ok("create_category", {"id": secret_category, "title": "Secret"})
    secret = create_event(api, category=secret_category, params={"script": "#!/bin/sh\nsleep 30\n"})
    visible = create_event(api)
    job_id = api.ok("run_event", {"id": secret["id"]})["id"]
    limited, _ = make_key(api, EDITOR, categories=["general"])
    try:
        for name in ("job_skip_delay", "resume_job", "abort_job", "manage_job_tags", "delete_job"):
            params = {"id": job_id, "tags": []} if name == "manage_job_tags" else {"id": job_id}
            assert limited.error(name, params)[:2] == (403, "access"), name
        api.ok("run_event", {"id": visible["id"]})
        states = limited.ok("get_global_state")["state"]["events"]
        assert secret["id"] not in states and visible["id"] in states
        assert secret["id"] in api.ok("get_global_state")["state"]["events"]
    finally:
        api.ok("abort_job", {"id": job_id})
    files = [{"id": "f1", "path": "files/jobs/jx/abc/a.txt", "filename": "a.txt", "size": 1}]
    status, code, _ = limited.error("create_event", event_payload(id=uid("ev"), input={"files": files}))
    assert (status, code) == (403, "access")
