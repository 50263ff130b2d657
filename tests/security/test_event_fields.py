"""What an event document may carry and whom its jobs act for (issue 8, second review): job engine
fields and requests (`update_event`, `delete_event`, `log_file`, `state`, `test` …) are never part
of an event nor of a run request, and a magic-link job acts for nobody."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.api.helpers import create_event, make_key, run_wait, uid
from tests.support.server import Api, Server

ECHO = '#!/bin/bash\necho "Deploying version $version to production"\n'


def injected(*records: dict[str, Any]) -> str:
    return "1.0\n" + "\n".join(json.dumps(r) for r in records) + "\n"


def marker_script(marker: Path) -> str:
    return f"#!/bin/sh\ntouch {marker}\n"


def test_run_requests_cannot_carry_event_changes(api: Api, tmp_path: Path) -> None:
    """`update_event` / `delete_event` in a run_event body are dropped: a run_jobs key can neither
    rewrite the event's plugin and script nor delete it."""
    marker = tmp_path / "run"
    event = create_event(api, plugin="testplug", params={"duration": 0})
    runner, _ = make_key(api, {"run_jobs": True})
    change = {"plugin": "shellplug", "params": {"script": marker_script(marker)}}
    run_wait(runner, event["id"], update_event=change, delete_event=True)
    stored = api.ok("get_event", {"id": event["id"]})["event"]
    assert stored["plugin"] == "testplug" and "script" not in stored["params"]
    run_wait(runner, event["id"])
    assert not marker.exists()


def test_events_do_not_store_job_fields(api: Api, tmp_path: Path) -> None:
    """Job fields sent to create_event/update_event are not stored, and (for events stored before
    this rule) are not copied into jobs: no deferred `update_event`, no `log_file`, no `state`."""
    marker, log_target = tmp_path / "stored", tmp_path / "log"
    fields = {
        "update_event": {"params": {"script": marker_script(marker)}},
        "delete_event": True,
        "log_file": str(log_target),
        "state": "finishing",
        "complete": True,
        "test": True,
        "principal": "user:admin",
    }
    editor, _ = make_key(api, {"create_events": True, "edit_events": True, "run_jobs": True})
    script = '#!/bin/sh\necho x >> "${JOB_LOG:-/dev/null}"\n'
    event = create_event(api, params={"script": script})
    editor.ok("update_event", {"id": event["id"], **fields})
    stored = api.ok("get_event", {"id": event["id"]})["event"]
    assert not set(fields) & set(stored), sorted(stored)
    job = run_wait(editor, event["id"])
    assert job["code"] == 0 and not job.get("test") and job["principal"].startswith("key:")
    assert api.ok("get_event", {"id": event["id"]})["event"]["params"]["script"] == script
    assert not marker.exists() and not log_target.exists()


def test_magic_link_jobs_act_for_nobody(api: Api, server: Server, tmp_path: Path) -> None:
    """A magic-link caller who makes an echoing script print protocol records can neither change
    the event (`update_event`, even nested), delete it, nor chain to a neighbour."""
    neighbour = create_event(api)
    key = "anon-" + uid("k").replace("_", "-")
    event = create_event(api, params={"script": ECHO}, triggers=[{"type": "magic", "enabled": True, "key": key}])
    nested = {"update_event": {"params": {"script": marker_script(tmp_path / "anon")}}}
    record = {
        "xy": 1,
        "update_event": {**nested, "title": "Owned"},
        "delete_event": True,
        "push": {
            "actions": [{"enabled": True, "condition": "complete", "type": "run_event", "event_id": neighbour["id"]}]
        },
    }
    url = f"{server.url}/api/app/magic/v1/{key}/wait"
    job = httpx.post(url, json={"version": injected(record)}, timeout=30).json()["job"]
    assert not job.get("jobs")
    notes = [row["msg"] for row in job["activity"]]
    assert any("Pushed action refused" in n for n in notes) and any("refused" in n and "Event" in n for n in notes)
    stored = api.ok("get_event", {"id": event["id"]})["event"]
    assert stored["title"] != "Owned" and stored["params"]["script"] == ECHO
    httpx.post(url, json={"version": "1.0"}, timeout=30)
    assert not (tmp_path / "anon").exists()
    assert api.ok("get_jobs", {"event": neighbour["id"]})["rows"] == []


def test_test_flag_in_any_spelling_needs_edit_events(api: Api) -> None:
    """`test: "0"` and `test: "false"` are truthy for the manual-trigger check, so they need
    `edit_events` like `test: true`."""
    event = create_event(api, triggers=[])
    runner, _ = make_key(api, {"run_jobs": True})
    for value in ("0", "false", [0]):
        assert runner.error("run_event", {"id": event["id"], "test": value})[:2] == (403, "access"), value


def test_target_overrides_cannot_hide_behind_macros(api: Api) -> None:
    """A group-limited caller's `_xy_override_targets` may not contain a macro (it would be expanded
    after the scope check), neither in run params, event params nor a field default."""
    limited, _ = make_key(api, {"run_jobs": True, "edit_events": True, "create_events": True}, groups=["main"])
    event = create_event(api)
    macro = "{{ 'ma' + 'in' }}"
    assert limited.error("run_event", {"id": event["id"], "params": {"_xy_override_targets": macro}})[:2] == (
        403,
        "access",
    )
    params = {"script": "#!/bin/sh\necho hi\n", "_xy_override_targets": macro}
    assert limited.error("update_event", {"id": event["id"], "params": params})[:2] == (403, "access")
    other = uid("g")
    api.ok("create_group", {"id": other, "title": "Other", "hostname_match": "^no-such-host$"})
    field = {"id": "_xy_override_targets", "type": "hidden", "value": other}
    assert limited.error("update_event", {"id": event["id"], "fields": [field]})[:2] == (403, "access")


def test_limited_editors_cannot_touch_events_running_elsewhere(api: Api) -> None:
    """A group-limited editor may not change an event whose targets reach beyond its groups (e.g. to
    add a magic trigger that anyone could then use to run it there)."""
    other = uid("g")
    api.ok("create_group", {"id": other, "title": "Other", "hostname_match": ".+"})
    mixed = create_event(api, targets=["main", other])
    limited, _ = make_key(api, {"edit_events": True, "run_jobs": True}, groups=["main"])
    magic = {"type": "magic", "enabled": True, "key": "mixed-" + uid("k").replace("_", "-")}
    triggers = [{"type": "manual", "enabled": True}, magic]
    assert limited.error("update_event", {"id": mixed["id"], "triggers": triggers})[:2] == (403, "access")


def test_group_limited_callers_cannot_redefine_their_group(api: Api) -> None:
    """With `edit_groups`, a caller limited to group g cannot change g's hostname match (which
    servers g holds); an unlimited caller can."""
    group = uid("g")
    api.ok("create_group", {"id": group, "title": "G", "hostname_match": "^no-such-host$"})
    limited, _ = make_key(api, {"edit_groups": True}, groups=[group])
    assert limited.error("update_group", {"id": group, "hostname_match": ".+"})[:2] == (403, "access")
    limited.ok("update_group", {"id": group, "title": "Renamed"})
    unlimited, _ = make_key(api, {"edit_groups": True})
    unlimited.ok("update_group", {"id": group, "hostname_match": "^still-no-host$"})


def test_duplicate_output_files_do_not_fail_the_job(api: Api) -> None:
    """A file listed twice (once by name, once by a glob) is stored twice; the job still succeeds."""
    script = '#!/bin/sh\necho hi > out.txt\necho \'{"xy":1,"files":[["out.txt","copy.txt"],"*.txt"]}\'\n'
    job = run_wait(api, create_event(api, params={"script": script})["id"])
    assert job["code"] == 0, job["description"]
    assert sorted(f["filename"] for f in job["files"]) == ["copy.txt", "out.txt"]
    assert [f["size"] for f in job["files"]] == [3, 3]
