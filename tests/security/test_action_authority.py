"""Issue 8 point 3: actions are authorized by whoever adds them — run overrides, event and category
saves, and actions a running job pushes (a job acts for whoever launched it)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.api.helpers import create_event, make_key, run_wait, uid, wait_job
from tests.conftest import StartServer
from tests.support.server import Api, Server

BASE = 1893456000  # 2030-01-01 00:00 UTC (the clock server's start)

RUNNER = {"run_jobs": True}


def action(kind: str, condition: str = "complete", **fields: Any) -> dict[str, Any]:
    return {"enabled": True, "condition": condition, "type": kind, **fields}


def history(api: Api, event_id: str) -> list[dict[str, Any]]:
    return api.ok("get_jobs", {"event": event_id})["rows"]


def push_script(*actions: dict[str, Any]) -> str:
    record = json.dumps({"xy": 1, "push": {"actions": list(actions)}})
    return f"#!/bin/sh\ncat <<'EOF'\n{record}\nEOF\n"


def test_run_override_delete_needs_delete_events(api: Api) -> None:
    """A run_jobs key cannot smuggle a `delete` (or `disable`) action into its run: the launch fails
    with `access`, nothing runs, and the event survives."""
    runner, _ = make_key(api, RUNNER)
    event = create_event(api)
    for kind, title in (("delete", "Delete Events"), ("disable", "Edit Events")):
        status, code, text = runner.error("run_event", {"id": event["id"], "actions": [action(kind)]})
        assert (status, code) == (403, "access") and title in text and f"({kind})" in text
    stored = api.ok("get_event", {"id": event["id"]})["event"]
    assert stored["enabled"] is True
    assert api.ok("get_active_jobs", {"event": event["id"]})["rows"] == [] and history(api, event["id"]) == []
    deleter, _ = make_key(api, {**RUNNER, "delete_events": True})
    run_wait(deleter, event["id"], actions=[action("delete")])
    assert api.error("get_event", {"id": event["id"]})[1] == "notfound"


def test_run_event_action_needs_scope_on_its_target(api: Api) -> None:
    """A key limited to one category may not chain (by run override or by saving an event) to an event
    in another category."""
    secret_category = uid("cat")
    api.ok("create_category", {"id": secret_category, "title": "Secret"})
    secret = create_event(api, category=secret_category)
    limited, _ = make_key(api, {**RUNNER, "create_events": True, "edit_events": True}, categories=["general"])
    event = create_event(api)
    chain = action("run_event", event_id=secret["id"])
    status, code, text = limited.error("run_event", {"id": event["id"], "actions": [chain]})
    assert (status, code) == (403, "access") and secret_category in text
    status, code, _ = limited.error("update_event", {"id": event["id"], "actions": [chain]})
    assert (status, code) == (403, "access")
    status, code, _ = limited.error("create_event", {**event, "id": uid("ev"), "actions": [chain]})
    assert (status, code) == (403, "access")
    assert history(api, secret["id"]) == []


def test_stored_actions_stay_editable(api: Api) -> None:
    """An action an admin stored is not re-checked when a less privileged editor saves the list again
    with it unchanged, and still runs for the editor's run."""
    target = create_event(api)
    event = create_event(api, actions=[action("run_event", event_id=target["id"])])
    editor, _ = make_key(api, {"edit_events": True, "run_jobs": True}, categories=["general"])
    stored = api.ok("get_event", {"id": event["id"]})["event"]["actions"]
    editor.ok("update_event", {"id": event["id"], "actions": [*stored, action("tag", tags=["flag"])]})
    job = run_wait(editor, event["id"])
    child = wait_job(api, job["jobs"][0]["id"])
    assert child["event"] == target["id"] and child["source"] == "action" and child["key"] == job["key"]


def test_pushed_actions_act_for_the_launcher(api: Api) -> None:
    """A job run by a limited key cannot push a chain to an event outside the key's scope nor a
    `delete` of its own event; an admin's run may delete its own event but, capped by the event's
    authority, still not chain outside the event's category."""
    secret_category = uid("cat")
    api.ok("create_category", {"id": secret_category, "title": "Secret"})
    secret = create_event(api, category=secret_category)
    script = push_script(action("run_event", event_id=secret["id"]), action("delete"))
    event = create_event(api, params={"script": script})
    limited, _ = make_key(api, RUNNER, categories=["general"])
    job = run_wait(limited, event["id"])
    refused = [row["msg"] for row in job["activity"] if "Pushed action refused" in row["msg"]]
    assert len(refused) == 2, job["activity"]
    assert not job.get("jobs") and history(api, secret["id"]) == []
    assert api.ok("get_event", {"id": event["id"]})["event"]["id"] == event["id"]
    admin_job = run_wait(api, event["id"])
    refused = [row["msg"] for row in admin_job["activity"] if "Pushed action refused" in row["msg"]]
    assert len(refused) == 1 and secret_category in refused[0], admin_job["activity"]
    assert not admin_job.get("jobs") and history(api, secret["id"]) == []
    assert api.error("get_event", {"id": event["id"]})[1] == "notfound"


def test_authority_follows_run_event_chains(api: Api) -> None:
    """A job chained by a `run_event` action acts for the parent's launcher: a limited key's chain
    cannot push its way out of the key's scope."""
    limited, record = make_key(api, RUNNER, categories=["general"])
    secret_category = uid("cat")
    api.ok("create_category", {"id": secret_category, "title": "Secret"})
    secret = create_event(api, category=secret_category)
    pusher = create_event(api, params={"script": push_script(action("run_event", event_id=secret["id"]))})
    parent = create_event(api, actions=[action("run_event", event_id=pusher["id"])])
    job = run_wait(limited, parent["id"])
    child = wait_job(api, job["jobs"][0]["id"])
    assert child["key"] == record["id"] and child["source"] == "action"
    assert any("Pushed action refused" in row["msg"] for row in child["activity"]), child["activity"]
    assert history(api, secret["id"]) == []


def test_category_actions_need_the_same_privileges(api: Api) -> None:
    """Category actions apply to every job of the category: adding a `delete` needs `delete_events`,
    a chain needs the right to run its target."""
    editor, _ = make_key(api, {"create_categories": True, "edit_categories": True})
    category = uid("cat")
    status, code, _ = editor.error("create_category", {"id": category, "title": "C", "actions": [action("delete")]})
    assert (status, code) == (403, "access")
    editor.ok("create_category", {"id": category, "title": "C"})
    target = create_event(api)
    status, code, _ = editor.error(
        "update_category", {"id": category, "actions": [action("run_event", event_id=target["id"])]}
    )
    assert (status, code) == (403, "access")
    assert api.ok("get_category", {"id": category})["category"]["actions"] == []


@pytest.fixture(scope="module")
def clock_server(server_factory: StartServer) -> Server:
    return server_factory(
        "sqlite", env={"CRONWRIGHT_TEST_API": "1", "CRONWRIGHT_CLOCK_START": str(BASE), "CRONWRIGHT_TZ": "UTC"}
    )


def test_scheduled_jobs_have_their_events_authority(clock_server: Server) -> None:
    """A scheduled job acts with its event's authority: it may chain to an event of its own category,
    not to one elsewhere (whatever its script prints)."""
    api = clock_server.client()
    secret_category = uid("cat")
    api.ok("create_category", {"id": secret_category, "title": "Secret"})
    secret = create_event(api, category=secret_category)
    neighbour = create_event(api)
    minute = BASE + 3 * 3600
    script = push_script(action("run_event", event_id=secret["id"]), action("run_event", event_id=neighbour["id"]))
    when = {"minutes": [(minute // 60) % 60], "hours": [(minute // 3600) % 24]}
    event = create_event(api, params={"script": script}, triggers=[{"type": "schedule", "enabled": True, **when}])
    api.ok("test_set_clock", {"now": minute - 1})
    deadline = time.time() + 15
    while not (fires := api.ok("get_event_fires", {"id": event["id"]})["rows"]):
        assert time.time() < deadline, "the scheduler never fired"
        time.sleep(0.05)
    job = wait_job(api, fires[0]["job_id"])
    assert job["source"] == "scheduler"
    refused = [row["msg"] for row in job["activity"] if "Pushed action refused" in row["msg"]]
    assert len(refused) == 1 and secret_category in refused[0], job["activity"]
    assert [wait_job(api, j["id"])["event"] for j in job["jobs"]] == [neighbour["id"]]
    assert history(api, secret["id"]) == []
    api.ok("update_event", {"id": event["id"], "enabled": False})
