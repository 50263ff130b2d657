"""Issue 8 point 1: a plugin's locked params (the Shell plugin's `script`) are set by admins only, by
every path: params, trigger params, plugin switches, job overrides, run overrides, job output,
action plugins and magic links. Each attack tries to run a script that writes a marker file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.helpers import DEFAULT_SCRIPT, create_event, make_key, run_wait, uid, wait_job
from tests.conftest import StartServer
from tests.support.server import Api, Server

BASE = 1893456000  # 2030-01-01 00:00 UTC (the clock server's start)
EDITOR = {"create_events": True, "edit_events": True, "run_jobs": True}


def marker_script(marker: Path) -> str:
    return f"#!/bin/sh\ntouch {marker}\necho attacked\n"


@pytest.fixture(scope="module")
def clock_server(server_factory: StartServer) -> Server:
    return server_factory(
        "sqlite", env={"CRONWRIGHT_TEST_API": "1", "CRONWRIGHT_CLOCK_START": str(BASE), "CRONWRIGHT_TZ": "UTC"}
    )


def _launched_job(api: Api, event_id: str, timeout_s: float = 15) -> dict[str, Any]:
    deadline = time.time() + timeout_s
    while True:
        fires = api.ok("get_event_fires", {"id": event_id, "limit": 10})["rows"]
        launched = [f["job_id"] for f in fires if f["status"] == "launched"]
        if launched:
            return wait_job(api, launched[0])
        assert time.time() < deadline, f"the scheduler never launched {event_id}: {fires}"
        time.sleep(0.05)


def test_schedule_trigger_params_cannot_carry_a_script(clock_server: Server, tmp_path: Path) -> None:
    """A non-admin's `script` inside a schedule trigger's params is dropped: the scheduled job runs the
    plugin's default script, never the attacker's."""
    admin = clock_server.client()
    editor, _ = make_key(admin, EDITOR)
    marker = tmp_path / "scheduled"
    minute = BASE + 7200
    event = create_event(
        editor,
        triggers=[
            {
                "type": "schedule",
                "enabled": True,
                "minutes": [(minute // 60) % 60],
                "hours": [(minute // 3600) % 24],
                "params": {"script": marker_script(marker), "note": "kept"},
            }
        ],
    )
    stored = admin.ok("get_event", {"id": event["id"]})["event"]
    assert "script" not in stored["triggers"][0]["params"] and stored["triggers"][0]["params"]["note"] == "kept"
    admin.ok("test_set_clock", {"now": minute - 1})
    job = _launched_job(admin, event["id"])
    assert job["params"]["script"] == DEFAULT_SCRIPT and job["params"]["note"] == "kept"
    assert not marker.exists()
    admin.ok("update_event", {"id": event["id"], "enabled": False})


def test_plugin_trigger_params_cannot_launder_a_script(clock_server: Server, tmp_path: Path) -> None:
    """A `script` stored in a scheduler-plugin trigger's params (which go to the gate plugin, not the
    job) does not count as "already stored" for a launching trigger: the scheduled job runs the
    plugin's default script, never the attacker's."""
    admin = clock_server.client()
    gate = admin.ok("create_plugin", {"title": "Gate", "type": "scheduler", "command": "/bin/sh", "script": "exit 0"})
    editor, _ = make_key(admin, {"create_events": True, "edit_events": True})
    marker = tmp_path / "laundered"
    evil = marker_script(marker)
    minute = BASE + 3 * 3600
    event = create_event(admin, triggers=[{"type": "manual", "enabled": True}])
    plugin_trigger = {"type": "plugin", "enabled": False, "plugin_id": gate["plugin"]["id"], "params": {"script": evil}}
    editor.ok("update_event", {"id": event["id"], "triggers": [{"type": "manual", "enabled": True}, plugin_trigger]})
    single = {"type": "single", "enabled": True, "epoch": minute, "params": {"script": evil}}
    editor.ok(
        "update_event",
        {"id": event["id"], "triggers": [{"type": "manual", "enabled": True}, plugin_trigger, single]},
    )
    stored = admin.ok("get_event", {"id": event["id"]})["event"]
    assert "script" not in stored["triggers"][2]["params"]
    admin.ok("test_set_clock", {"now": minute - 1})
    job = _launched_job(admin, event["id"])
    assert job["params"]["script"] == event["params"]["script"] and job["code"] == 0
    assert not marker.exists()
    admin.ok("update_event", {"id": event["id"], "enabled": False})


def test_update_cannot_add_script_to_trigger_params(api: Api) -> None:
    """update_event by a non-admin drops a new locked value in trigger params, but keeps one an admin stored."""
    editor, _ = make_key(api, EDITOR)
    admin_value = "#!/bin/sh\necho from-admin\n"
    event = create_event(
        api,
        triggers=[{"type": "manual", "enabled": True, "params": {"script": admin_value}}],
        params={"script": admin_value},
    )
    editor.ok(
        "update_event",
        {
            "id": event["id"],
            "triggers": [
                {"type": "manual", "enabled": True, "params": {"script": admin_value}},
                {"type": "single", "enabled": True, "epoch": 4102444800, "params": {"script": "#!/bin/sh\nid\n"}},
            ],
        },
    )
    triggers = api.ok("get_event", {"id": event["id"]})["event"]["triggers"]
    assert triggers[0]["params"]["script"] == admin_value
    assert "script" not in triggers[1]["params"]


def test_plugin_switch_resets_locked_params(api: Api, tmp_path: Path) -> None:
    """A non-admin who parks a script in a Test-plugin event and then switches the event to the Shell
    plugin (without sending params) runs the Shell plugin's default script, not theirs."""
    editor, _ = make_key(api, EDITOR)
    marker = tmp_path / "switched"
    event = create_event(editor, plugin="testplug", params={"duration": 0, "script": marker_script(marker)})
    editor.ok("update_event", {"id": event["id"], "plugin": "shellplug"})
    stored = api.ok("get_event", {"id": event["id"]})["event"]
    assert stored["params"]["script"] == DEFAULT_SCRIPT
    job = run_wait(editor, event["id"])
    assert job["params"]["script"] == DEFAULT_SCRIPT and not marker.exists()


def test_run_overrides_cannot_set_a_script(api: Api, tmp_path: Path) -> None:
    """run_event params and a plugin override by a non-admin both end with the locked default/stored script."""
    runner, _ = make_key(api, {"run_jobs": True})
    marker = tmp_path / "run"
    shell = create_event(api, params={"script": "#!/bin/sh\necho stored\n"})
    job = run_wait(runner, shell["id"], params={"script": marker_script(marker)})
    assert "stored" in job["output"]
    other = create_event(api, plugin="testplug", params={"duration": 0})
    job = run_wait(runner, other["id"], plugin="shellplug", params={"script": marker_script(marker)})
    assert job["params"]["script"] == DEFAULT_SCRIPT
    assert not marker.exists()


def test_job_output_cannot_change_locked_params(api: Api, tmp_path: Path) -> None:
    """`update_event` printed by a job cannot rewrite the event's script, whoever ran it: a job acts
    for its launcher capped by its event's own authority (an editor may have shaped its output)."""
    runner, _ = make_key(api, {"run_jobs": True})
    marker = tmp_path / "output"
    evil = marker_script(marker).replace("\n", "\\n")
    record = '{"xy":1,"update_event":{"params":{"script":"EVIL"}}}'.replace("EVIL", evil)
    script = f"#!/bin/sh\ncat <<'EOF'\n{record}\nEOF\n"
    event = create_event(api, params={"script": script})
    job = run_wait(runner, event["id"])
    assert any("refused" in row["msg"] for row in job["activity"]), job["activity"]
    assert api.ok("get_event", {"id": event["id"]})["event"]["params"]["script"] == script
    run_wait(api, event["id"])  # not even an administrator's run
    assert api.ok("get_event", {"id": event["id"]})["event"]["params"]["script"] == script
    run_wait(api, event["id"])
    assert not marker.exists()


def test_action_plugin_locked_params(api: Api, tmp_path: Path) -> None:
    """A non-admin's plugin action cannot change the action plugin's locked param."""
    editor, _ = make_key(api, EDITOR)
    out = tmp_path / "notified"
    plugin_id = uid("ap")
    api.ok(
        "create_plugin",
        {
            "id": plugin_id,
            "title": "Notifier",
            "type": "action",
            "command": f"/bin/sh -c 'echo $target >> {out}'",
            "params": [{"id": "target", "title": "Target", "type": "text", "value": "safe", "locked": True}],
        },
    )
    action = {
        "enabled": True,
        "condition": "complete",
        "type": "plugin",
        "plugin_id": plugin_id,
        "params": {"target": "evil"},
    }
    event = create_event(editor, actions=[action])
    assert api.ok("get_event", {"id": event["id"]})["event"]["actions"][0]["params"]["target"] == "safe"
    run_wait(editor, event["id"], actions=[action])
    assert out.read_text().split() == ["safe"]


def test_magic_link_keeps_locked_params_and_refuses_overrides(api: Api, server: Server, tmp_path: Path) -> None:
    """A magic link caller can set neither a locked param nor a job override other than the label."""
    marker = tmp_path / "magic"
    key = "magic-" + uid("k").replace("_", "-")
    event = create_event(api, triggers=[{"type": "magic", "enabled": True, "key": key}])
    url = f"{server.url}/api/app/magic/v1/{key}/wait"
    job = httpx.post(url, json={"script": marker_script(marker), "_xy_override_label": "Hi"}, timeout=30).json()["job"]
    assert job["label"] == "Hi" and "hello" in job["output"] and not marker.exists()
    refused = httpx.post(url, json={"_xy_override_targets": "elsewhere"}, timeout=30)
    assert refused.status_code == 403 and refused.json()["code"] == "access"
    refused = httpx.post(url, json={"_xy_override_algo": "round_robin"}, timeout=30)
    assert refused.status_code == 403 and refused.json()["code"] == "access"
    assert api.ok("get_event", {"id": event["id"]})["event"]["id"] == event["id"]


def test_overrides_set_only_listed_fields(api: Api) -> None:
    """`_xy_override_*` params may set label/icon/algo/targets/tags; anything else (username, source,
    test, state ...) is ignored at launch and noted in the job's meta log."""
    event = create_event(
        api,
        params={
            "script": "#!/bin/sh\necho hi\n",
            "_xy_override_label": "Nightly",
            "_xy_override_username": "admin",
            "_xy_override_source": "scheduler",
            "_xy_override_test": "1",
        },
    )
    runner, record = make_key(api, {"run_jobs": True})
    job = run_wait(runner, event["id"])
    assert job["label"] == "Nightly"
    assert job["username"] == record["id"] and job["source"] == "key" and not job.get("test")
    assert sum("Ignored job override" in row["msg"] for row in job["activity"]) == 3


def test_override_targets_need_group_scope(api: Api) -> None:
    """A key limited to group `main` cannot aim a job at another group with `_xy_override_targets`,
    neither in run params nor stored in the event."""
    group = uid("g")
    api.ok("create_group", {"id": group, "title": "Other", "hostname_match": "^nomatch$"})
    limited, _ = make_key(api, {**EDITOR}, groups=["main"])
    event = create_event(api)
    status, code, _ = limited.error("run_event", {"id": event["id"], "params": {"_xy_override_targets": group}})
    assert (status, code) == (403, "access")
    params = {"script": "#!/bin/sh\necho hi\n", "_xy_override_targets": group}
    status, code, _ = limited.error("update_event", {"id": event["id"], "params": params})
    assert (status, code) == (403, "access")
    assert limited.ok("run_event", {"id": event["id"], "params": {"_xy_override_targets": "main"}})["id"]
