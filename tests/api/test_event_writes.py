"""create_event, update_event and delete_event through HTTP (conformance sections C, D, E)."""

from __future__ import annotations

import hashlib
import re
import time

import pytest

from cronwright.store.sql.store import SqlStore
from tests.api.helpers import DEFAULT_SCRIPT, SCRIPT, create_event, event_payload, make_key, uid
from tests.support.server import Api


def test_generated_id(api: Api) -> None:
    """Without `id` the server generates `e` + 15 lower-case alphanumerics (case 30)."""
    event = api.ok("create_event", event_payload())["event"]
    assert re.fullmatch(r"e[a-z0-9]{15}", event["id"])


def test_custom_id_and_duplicate(api: Api) -> None:
    """A custom id is kept; creating it again is `event` "That Event ID already exists" / 409 (case 31)."""
    event_id = uid("my_event")
    assert create_event(api, id=event_id)["id"] == event_id
    status, code, desc = api.error("create_event", event_payload(id=event_id))
    assert (status, code) == (409, "event") and desc == f"That Event ID already exists: {event_id}"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"plugin": None}, "Event has no plugin specified."),
        ({"targets": None}, "Event has no targets specified."),
        ({"targets": []}, "Event has no targets specified."),
        ({"algo": None}, "Event has no algo specified."),
        ({"title": None}, "Missing parameter: title"),
        ({"title": "  "}, "Malformed parameter: title"),
        ({"enabled": None}, "Missing parameter: enabled"),
        ({"category": "nope"}, "Category not found: nope"),
        ({"plugin": "nope"}, "Plugin not found: nope"),
        ({"params": {}}, "Event Plugin: Parameter 'script' is required."),
        ({"targets": ["main", 5]}, "Malformed target: 5"),
        ({"tags": ["nope"]}, "Unknown tag: nope"),
    ],
)
def test_create_validation_messages(api: Api, overrides: dict[str, object], message: str) -> None:
    """Each invalid payload answers `api` / 400 with the xyOps message (cases 32–44)."""
    assert api.error("create_event", event_payload(**overrides)) == (400, "api", message)


@pytest.mark.parametrize(
    "overrides",
    [
        {"title": "<b>x</b>"},
        {"enabled": "yes"},
        {"enabled": "true"},
        {"params": "x"},
        {"params": {"script": SCRIPT, "_xy_override_uid": "0"}},
        {"limits": [{"enabled": True, "type": "time", "duration": "nope"}]},
        {"limits": [{"type": "time", "duration": 60}]},
        {"limits": [{"enabled": True, "type": "bogus"}]},
        {"limits": [{"enabled": True, "type": "queue", "amount": 5}]},
        {"actions": [{"enabled": True, "condition": "error", "type": "email"}]},
        {"actions": [{"enabled": True, "condition": "nope", "type": "email", "users": ["admin"]}]},
        {"actions": [{"enabled": True, "condition": "success", "type": "run_event", "event_id": "nope"}]},
        {"triggers": [{"type": "bogus", "enabled": True}]},
        {"triggers": [{"type": "schedule", "enabled": True, "minutes": [60]}]},
        {"triggers": [{"type": "schedule", "enabled": True, "hours": "2"}]},
        {"triggers": [{"type": "schedule", "enabled": True, "days": [0]}]},
        {"triggers": [{"type": "schedule", "enabled": True, "days": [-8]}]},
        {"triggers": [{"type": "schedule", "enabled": True, "timezone": "Mars/Base"}]},
        {"triggers": [{"type": "manual", "enabled": True}, {"type": "manual", "enabled": True}]},
        {
            "triggers": [
                {"type": "interval", "enabled": True, "start": 1, "duration": 60},
                {"type": "precision", "enabled": True, "seconds": [0]},
            ]
        },
        {
            "triggers": [
                {"type": "interval", "enabled": True, "start": 1, "duration": 60},
                {"type": "delay", "enabled": True, "duration": 5},
            ]
        },
        {
            "triggers": [
                {"type": "precision", "enabled": True, "seconds": [0]},
                {"type": "delay", "enabled": True, "duration": 5},
            ]
        },
        {"triggers": [{"type": "range", "enabled": True, "start": 2000000100, "end": 2000000000}]},
        {"triggers": [{"type": "blackout", "enabled": True, "start": 2000000100}]},
        {"triggers": [{"type": "single", "enabled": True, "epoch": "2000000000"}]},
        {"triggers": [{"type": "single", "enabled": True, "epoch": -5}]},
        {"triggers": [{"type": "nth", "enabled": True, "every": 1}]},
        {"triggers": [{"type": "quiet", "enabled": True}]},
    ],
)
def test_create_rejects(api: Api, overrides: dict[str, object]) -> None:
    """Invalid fields, limits, actions and triggers are `api` errors (cases 36–67)."""
    assert api.error("create_event", event_payload(**overrides))[:2] == (400, "api")


@pytest.mark.parametrize(
    "overrides",
    [
        {"targets": ["no_such_group"]},
        {"tags": ["important"]},
        {"params": {"script": SCRIPT, "_xy_override_label": "hi"}},
        {"actions": [{"enabled": True, "condition": "tag:important", "type": "web_hook", "web_hook": "example_hook"}]},
        {"triggers": [{"type": "schedule", "enabled": True, "days": [-7]}]},
        {"triggers": [{"type": "manual", "enabled": True}, {"type": "manual", "enabled": False}]},
        {"triggers": [{"type": "range", "enabled": True, "start": 1}, {"type": "range", "enabled": True, "end": 2}]},
        {"triggers": [{"type": "nth", "enabled": True, "every": 2}]},
        {"actions": [{"enabled": True, "condition": "error", "type": "email", "email": "ops@example.com"}]},
    ],
)
def test_create_accepts(api: Api, overrides: dict[str, object]) -> None:
    """Valid edge cases are accepted (cases 43, 44, 47, 55, 58, 60, 62, 66)."""
    create_event(api, **overrides)


def test_launch_context_keys_are_stripped(api: Api) -> None:
    """`command`, `uid`, `env` (and friends) never reach the stored event (case 48)."""
    event = create_event(api, command="rm -rf /", uid="0", env={"X": "1"}, script="x")
    stored = api.ok("get_event", {"id": event["id"]})["event"]
    assert not {"command", "uid", "env", "script"} & set(stored)


def test_minute_flooring(api: Api) -> None:
    """`single`, `range` and `blackout` epochs are floored to the minute (case 63)."""
    event = create_event(
        api,
        triggers=[
            {"type": "single", "enabled": True, "epoch": 2000000037},
            {"type": "range", "enabled": True, "start": 2000000098, "end": 2000003729},
            {"type": "blackout", "enabled": True, "start": 2000000159, "end": 2000007359},
        ],
    )
    single, rng, blackout = event["triggers"]
    assert single["epoch"] == 1999999980
    assert (rng["start"], rng["end"]) == (2000000040, 2000003700)
    assert (blackout["start"], blackout["end"]) == (2000000100, 2000007300)


def test_magic_key_is_hashed(api: Api) -> None:
    """A magic trigger's `key` is replaced by `token = sha256_hex(key + id)` (case 68)."""
    event_id = uid("ev")
    key = "k1-0123456789abcdef"
    event = create_event(api, id=event_id, triggers=[{"type": "magic", "enabled": True, "key": key}])
    trigger = event["triggers"][0]
    assert "key" not in trigger and trigger["token"] == hashlib.sha256(f"{key}{event_id}".encode()).hexdigest()


def test_create_needs_privilege_and_scope(api: Api) -> None:
    """Missing `create_events`, or a category/group outside the key's scope, is `access` (cases 69–71)."""
    editor, _ = make_key(api, {"edit_events": True})
    assert editor.error("create_event", event_payload())[:2] == (403, "access")
    category = uid("cat")
    api.ok("create_category", {"id": category, "title": "C1"})
    cat_limited, _ = make_key(api, {"create_events": True}, categories=[category])
    assert cat_limited.error("create_event", event_payload())[:2] == (403, "access")
    group_limited, _ = make_key(api, {"create_events": True}, groups=["g1"])
    assert group_limited.error("create_event", event_payload(targets=["main"]))[:2] == (403, "access")
    create_event(group_limited, targets=["g1", "srv1"])


def test_locked_script_for_non_admin_create(api: Api) -> None:
    """A non-admin's script is replaced by the plugin default (case 72)."""
    client, _ = make_key(api, {"create_events": True})
    event = create_event(client, params={"script": "#!/bin/sh\necho pwn"})
    assert event["params"]["script"] == DEFAULT_SCRIPT


def test_validation_precedes_auth(api: Api) -> None:
    """An anonymous invalid payload gets `api`, a valid one `session` (case 73)."""
    anon = api.with_key(None)
    assert anon.error("create_event", event_payload(title=None))[1] == "api"
    assert anon.error("create_event", event_payload())[1] == "session"


def test_create_writes_activity(api: Api) -> None:
    """`create_event` writes an `event_create` row keyed by the event id (case 74)."""
    event = create_event(api)
    rows = api.ok("search_activity", {"query": f"action:event_create keywords:{event['id']}", "limit": 5})["rows"]
    assert len(rows) == 1 and rows[0]["event"]["id"] == event["id"]


def test_create_update_state(api: Api) -> None:
    """`update_state` on create initializes the event state and is not stored on the event (case 75)."""
    event = create_event(api, update_state={"cursor": 1700000000})
    assert "update_state" not in event
    state = api.ok("get_global_state")["state"]["events"][event["id"]]
    assert state == {"cursor": 1700000000}


def test_update_requires_id_and_known_event(api: Api) -> None:
    """Update without `id` is `api`; an unknown id is `event` / 404 (cases 76–77)."""
    assert api.error("update_event", {"title": "x"})[:2] == (400, "api")
    assert api.error("update_event", {"id": "nope", "title": "x"})[:2] == (404, "event")


def test_update_merges_and_bumps_revision(api: Api) -> None:
    """A title change keeps other fields and bumps `revision` (case 78)."""
    event = create_event(api)
    time.sleep(1.05)
    updated = api.ok("update_event", {"id": event["id"], "title": "T2"})["event"]
    assert updated["title"] == "T2" and updated["revision"] == 2 and updated["modified"] > updated["created"]
    assert {k: v for k, v in updated.items() if k not in ("title", "revision", "modified")} == {
        k: v for k, v in event.items() if k not in ("title", "revision", "modified")
    }


def test_update_params_is_shallow(api: Api) -> None:
    """`params` is replaced wholesale; dropping the required script fails (case 79)."""
    event = create_event(api)
    updated = api.ok("update_event", {"id": event["id"], "params": {"script": "#!/bin/sh\necho 2"}})["event"]
    assert updated["params"] == {"script": "#!/bin/sh\necho 2"}
    assert api.error("update_event", {"id": event["id"], "params": {"annotate": True}})[:2] == (400, "api")


def test_locked_script_for_non_admin_update(api: Api) -> None:
    """A non-admin update keeps the stored script but applies other params (case 80)."""
    event = create_event(api)
    client, _ = make_key(api, {"edit_events": True})
    body = client.ok("update_event", {"id": event["id"], "title": "v3", "params": {"script": "evil", "annotate": True}})
    assert body["event"]["params"] == {"script": SCRIPT, "annotate": True} and body["event"]["title"] == "v3"
    assert api.ok("get_event", {"id": event["id"]})["event"]["params"]["script"] == SCRIPT


def test_type_is_immutable(api: Api) -> None:
    """`type` cannot be changed by update (case 81)."""
    event = create_event(api)
    updated = api.ok("update_event", {"id": event["id"], "type": "workflow"})["event"]
    assert "type" not in updated


def test_revision_compare_and_set(api: Api) -> None:
    """A stale `revision` is `event` "Event out of date" / 409; the current one succeeds (case 82)."""
    event = create_event(api)
    for title in ("a", "b"):
        api.ok("update_event", {"id": event["id"], "title": title})
    status, code, desc = api.error("update_event", {"id": event["id"], "revision": 2, "title": "x"})
    assert (status, code) == (409, "event") and "Event out of date" in desc
    assert api.ok("update_event", {"id": event["id"], "revision": 3, "title": "x"})["event"]["revision"] == 4


def test_update_floors_incoming_triggers(api: Api) -> None:
    """Incoming single epochs are floored on update (case 83)."""
    event = create_event(api)
    triggers = [{"type": "single", "enabled": True, "epoch": 2000100037}]
    updated = api.ok("update_event", {"id": event["id"], "triggers": triggers})["event"]
    assert updated["triggers"][0]["epoch"] == 2000100000


def test_invalid_update_changes_nothing(api: Api) -> None:
    """An invalid limit or action condition is `api` and the event is unchanged (case 84)."""
    event = create_event(api)
    bad_limit = {"id": event["id"], "limits": [{"enabled": True, "type": "file", "amount": "nope"}]}
    bad_action = {"id": event["id"], "actions": [{"enabled": True, "type": "disable", "condition": "nope"}]}
    for payload in (bad_limit, bad_action):
        assert api.error("update_event", payload)[:2] == (400, "api")
    assert api.ok("get_event", {"id": event["id"]})["event"] == event


def test_update_out_of_scope_category(api: Api) -> None:
    """Moving an event to a category the caller may not use is `access` (case 85)."""
    allowed, other = uid("cat"), uid("cat")
    for cat in (allowed, other):
        api.ok("create_category", {"id": cat, "title": cat})
    event = create_event(api, category=allowed)
    client, _ = make_key(api, {"edit_events": True}, categories=[allowed])
    assert client.error("update_event", {"id": event["id"], "category": other})[:2] == (403, "access")


def test_update_state_on_update(api: Api) -> None:
    """`update_state.cursor` updates the event state (floored to the minute) and not the event (case 86)."""
    event = create_event(api)
    body = api.ok("update_event", {"id": event["id"], "update_state": {"cursor": 1700000040}})
    assert "update_state" not in body["event"]
    state = api.ok("get_global_state")["state"]["events"][event["id"]]
    assert state["cursor"] == 1700000040
    api.ok("update_event", {"id": event["id"], "update_state": {"cursor": 1700000099}})
    assert api.ok("get_global_state")["state"]["events"][event["id"]]["cursor"] == 1700000040


def test_update_writes_activity_with_new_revision(api: Api) -> None:
    """Each update writes an `event_update` row holding the new revision (case 87)."""
    event = create_event(api)
    api.ok("update_event", {"id": event["id"], "title": "New"})
    row = api.ok("get_event_history", {"id": event["id"]})["rows"][0]
    assert row["action"] == "event_update" and row["event"]["revision"] == 2


def test_update_needs_privilege(api: Api) -> None:
    """Without `edit_events` an update is `access` (case 88)."""
    event = create_event(api)
    client, _ = make_key(api, {"create_events": True})
    assert client.error("update_event", {"id": event["id"], "title": "x"})[:2] == (403, "access")


def test_delete_event(api: Api) -> None:
    """Deleting an idle event removes it and its state and records `event_delete` (cases 89, 91)."""
    assert api.error("delete_event", {})[:2] == (400, "api")
    event = create_event(api, update_state={"cursor": 1700000040})
    api.ok("delete_event", {"id": event["id"]})
    assert api.error("get_event", {"id": event["id"]})[:2] == (404, "notfound")
    assert event["id"] not in api.ok("get_global_state")["state"]["events"]
    rows = api.ok("search_activity", {"query": f"action:event_delete keywords:{event['id']}"})["rows"]
    assert rows and rows[0]["event"]["id"] == event["id"]


def test_delete_needs_privilege(api: Api) -> None:
    """Without `delete_events` a delete is `access` (case 93)."""
    event = create_event(api)
    client, _ = make_key(api, {"edit_events": True})
    assert client.error("delete_event", {"id": event["id"]})[:2] == (403, "access")


def test_concurrent_updates_lose_nothing(api: Api) -> None:
    """Concurrent updates of different keys both land, with consecutive revisions in history."""
    from concurrent.futures import ThreadPoolExecutor

    event = create_event(api)
    updates = [{"id": event["id"], f"note_{i}": i} for i in range(20)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda body: api.ok("update_event", body), updates))
    stored = api.ok("get_event", {"id": event["id"]})["event"]
    assert all(stored[f"note_{i}"] == i for i in range(20)) and stored["revision"] == 21
    history = api.ok("get_event_history", {"id": event["id"], "limit": 100})["rows"]
    assert sorted(r["event"]["revision"] for r in history) == list(range(1, 22))


def test_delete_jobs_in_background(api: Api, server_store: SqlStore) -> None:
    """`delete_jobs: true` answers at once and removes the completed job history soon after (case 92)."""
    event = create_event(api)
    job_ids = [uid("j") for _ in range(3)]
    with server_store.write() as w:
        for job_id in job_ids:
            w.put_job({"id": job_id, "event": event["id"], "state": "complete", "started": 1.0, "completed": 2.0})
    api.ok("delete_event", {"id": event["id"], "delete_jobs": True})
    deadline = time.time() + 10
    while any(server_store.get_job(j) for j in job_ids) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(server_store.get_job(j) for j in job_ids)
