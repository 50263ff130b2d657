"""Limits and actions with real components: a local SMTP sink, a local HTTP receiver, real processes
(conformance sections J and M)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.api.helpers import create_event, run_wait, start_job, uid, wait_job, wait_state
from tests.conftest import StartServer
from tests.support.server import ADMIN_KEY, Api, Server
from tests.support.sinks import HttpReceiver, SmtpSink

SLEEP3 = "#!/bin/sh\necho start\nsleep 3\n"


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    """A recording SMTP server on 127.0.0.1, shared by the module (tests count mails from `before`)."""
    with SmtpSink() as sink:
        yield sink


@pytest.fixture(scope="module")
def receiver() -> Iterator[HttpReceiver]:
    """A recording HTTP server on 127.0.0.1, shared by the module (tests use their own paths)."""
    with HttpReceiver() as recv:
        yield recv


@pytest.fixture(scope="module")
def action_server(server_factory: StartServer, smtp: SmtpSink) -> Server:
    env = {
        "CRONWRIGHT_SMTP_HOST": "127.0.0.1",
        "CRONWRIGHT_SMTP_PORT": str(smtp.port),
        "CRONWRIGHT_EMAIL_FROM": "cron@test.local",
        "CRONWRIGHT_SMTP_TIMEOUT_S": "2",
        "CRONWRIGHT_JOB_SAMPLE_INTERVAL_S": "0.25",
    }
    return server_factory("sqlite", env=env)


@pytest.fixture
def aapi(action_server: Server) -> Api:
    return action_server.client()


def hook(api: Api, receiver: HttpReceiver, path: str, **fields: object) -> str:
    hook_id = uid("hook")
    body = {
        "id": hook_id,
        "title": f"Hook {hook_id}",
        "method": "POST",
        "url": receiver.url + path,
        "headers": [{"name": "Content-Type", "value": "text/plain"}],
        "body": "{{text}}",
        "timeout": 2,
        **fields,
    }
    api.ok("create_web_hook", body)
    return hook_id


def event(api: Api, script: str = "#!/bin/sh\necho ok\n", **fields: object) -> dict:
    return create_event(api, params={"script": script}, **fields)


def action(condition: str, kind: str, **fields: object) -> dict:
    return {"enabled": True, "condition": condition, "type": kind, **fields}


# ---- runtime limits


def test_time_limit_without_abort_records_and_continues(aapi: Api) -> None:
    """A time limit without abort fires once, is recorded, and the job still succeeds (case 171)."""
    job = run_wait(
        aapi, event(aapi, SLEEP3, limits=[{"enabled": True, "type": "time", "duration": 1, "tags": ["flag"]}])["id"]
    )
    limit = job["limits"][0]
    assert job["code"] == 0 and limit["code"] == 0 and limit["date"] and "flag" in job["tags"]
    assert limit["msg"] == "Job elapsed time has exceeded maximum limit of 1 second."


def test_time_limit_with_abort(aapi: Api) -> None:
    """A time limit with abort ends the job `abort` with the limit message (case 172)."""
    job = run_wait(
        aapi, event(aapi, SLEEP3, limits=[{"enabled": True, "type": "time", "duration": 1, "abort": True}])["id"]
    )
    assert job["code"] == "abort" and job["description"].startswith("Job elapsed time has exceeded maximum limit")
    assert job["elapsed"] < 3


def test_log_limit_aborts(aapi: Api) -> None:
    """A job printing more than its log limit is aborted (case 173)."""
    script = "#!/bin/sh\nfor i in $(seq 1 40); do echo 0123456789012345678901234567890; done\nsleep 3\n"
    job = run_wait(
        aapi, event(aapi, script, limits=[{"enabled": True, "type": "log", "amount": 100, "abort": True}])["id"]
    )
    assert job["code"] == "abort" and "Job output size has exceeded maximum limit" in job["description"]


def test_memory_limit_sustained(aapi: Api) -> None:
    """A process tree holding more memory than allowed for longer than `duration` is aborted."""
    script = "#!/usr/bin/env python3\nimport time\nblock = bytearray(120 * 1024 * 1024)\nfor i in range(0, len(block), 4096): block[i] = 1\ntime.sleep(8)\n"
    limits = [{"enabled": True, "type": "mem", "amount": 50 * 1024 * 1024, "duration": 1, "abort": True}]
    job = run_wait(aapi, event(aapi, script, limits=limits)["id"])
    assert job["code"] == "abort" and "Job memory usage has exceeded maximum limit" in job["description"]
    assert job["mem"]["max"] > 50 * 1024 * 1024 and job["elapsed"] < 8


def test_cpu_limit_sustained(aapi: Api) -> None:
    """A process burning a core above the CPU limit for longer than `duration` is aborted."""
    script = "#!/usr/bin/env python3\nimport time\nend = time.time() + 8\nwhile time.time() < end: pass\n"
    limits = [{"enabled": True, "type": "cpu", "amount": 30, "duration": 1, "abort": True}]
    job = run_wait(aapi, event(aapi, script, limits=limits)["id"])
    assert job["code"] == "abort" and "Job CPU usage has exceeded maximum limit of 30%" in job["description"]


def test_limit_web_hook_and_email(aapi: Api, receiver: HttpReceiver, smtp: SmtpSink) -> None:
    """A fired limit sends exactly one web hook (text ending with the limit's text) and one email (case 210)."""
    hook_id = hook(aapi, receiver, "/limit", body="{{text}}|{{job.id}}|{{event.id}}")
    before = len(smtp.mails)
    limits = [
        {
            "enabled": True,
            "type": "time",
            "duration": 1,
            "web_hook": hook_id,
            "text": "T-limit",
            "email": "ops@test.local",
        }
    ]
    ev = event(aapi, SLEEP3, limits=limits)
    job = run_wait(aapi, ev["id"])
    (request,) = receiver.wait("/limit", 1)
    text, job_id, event_id = request.body.decode().split("|")
    assert text.endswith("T-limit") and job_id == job["id"] and event_id == ev["id"]
    mails = smtp.wait(before + 1)
    assert any("ops@test.local" in m.recipients for m in mails[before:])
    time.sleep(0.3)
    assert len(receiver.matching("/limit")) == 1 and job["limits"][0]["description"]


# ---- start-time limits


def test_file_limit_prunes_uploads(aapi: Api, action_server: Server) -> None:
    """A `file` limit keeps `amount` files and only accepted extensions (case 175)."""
    ev = event(aapi, "#!/bin/sh\nls\n", limits=[{"enabled": True, "type": "file", "amount": 1}])
    response = httpx.post(
        f"{action_server.url}/api/app/run_event/v1",
        data={"json": json.dumps({"id": ev["id"]})},
        files=[("f1", ("a.csv", b"1")), ("f2", ("b.txt", b"2"))],
        headers={"X-API-Key": ADMIN_KEY},
    )
    job = wait_job(aapi, response.json()["id"])
    assert len(job["input"]["files"]) == 1
    csv_only = event(aapi, "#!/bin/sh\nls\n", limits=[{"enabled": True, "type": "file", "accept": ".csv"}])
    response = httpx.post(
        f"{action_server.url}/api/app/run_event/v1",
        data={"json": json.dumps({"id": csv_only["id"]})},
        files=[("f1", ("keep.csv", b"1")), ("f2", ("drop.txt", b"2"))],
        headers={"X-API-Key": ADMIN_KEY},
    )
    job = wait_job(aapi, response.json()["id"])
    assert [f["filename"] for f in job["input"]["files"]] == ["keep.csv"] and "keep.csv" in job["output"]


def test_tag_limit_at_launch_and_finish(aapi: Api) -> None:
    """A `tag` limit keeps the first tags at launch (visible while running) and at finish (case 176)."""
    for tag_id in ("t1", "t2", "t3"):
        aapi.call("create_tag", {"id": tag_id, "title": tag_id})
    ev = event(aapi, "#!/bin/sh\nsleep 1\n", limits=[{"enabled": True, "type": "tag", "amount": 1}])
    job_id = start_job(aapi, ev["id"], tags=["t1", "t2", "t3"])
    running = wait_state(aapi, job_id, "active")
    assert [t for t in running["tags"] if not t.startswith("_")] == ["t1"]
    final = wait_job(aapi, job_id)
    assert [t for t in final["tags"] if not t.startswith("_")] == ["t1"]


def test_day_limit_applies_to_magic_not_to_keys(aapi: Api, action_server: Server) -> None:
    """After one completed job today, a `day` limit refuses magic launches but not API-key runs (cases 174, 215)."""
    limits = [{"enabled": True, "type": "day", "condition": "complete", "amount": 1}]
    ev = event(
        aapi,
        triggers=[
            {"type": "manual", "enabled": True},
            {"type": "magic", "enabled": True, "key": "daily-key-0123456789ab"},
        ],
        limits=limits,
    )
    first = httpx.post(f"{action_server.url}/api/app/magic/v1/daily-key-0123456789ab/wait").json()
    assert first["code"] == 0 and first["job"]["code"] == 0
    second = httpx.post(f"{action_server.url}/api/app/magic/v1/daily-key-0123456789ab").json()
    assert second["code"] == "event"
    assert (
        second["description"]
        == f"Failed to launch job: Maximum daily 'complete' count of 1 has been reached for event: {ev['id']}"
    )
    assert run_wait(aapi, ev["id"])["code"] == 0


# ---- actions


def test_duplicate_emails_collapse(aapi: Api, smtp: SmtpSink) -> None:
    """`complete` and `error` emails to the same address send one message (case 177)."""
    before = len(smtp.mails)
    actions = [action("complete", "email", email="dup@test.local"), action("error", "email", email="dup@test.local")]
    job = run_wait(aapi, event(aapi, "#!/bin/sh\nexit 2\n", actions=actions)["id"])
    ran = [a for a in job["actions"] if "code" in a]
    assert len(ran) == 1 and ran[0]["code"] == 0
    mails = smtp.wait(before + 1)[before:]
    time.sleep(0.3)
    assert len(smtp.mails) - before == 1 and mails[0].recipients == ["dup@test.local"]
    assert "Test Event" in mails[0].subject and job["id"] in mails[0].text


def test_custom_email_body(aapi: Api, smtp: SmtpSink) -> None:
    """A custom body's Subject directive sets the subject and leaves the text (case 214)."""
    before = len(smtp.mails)
    body = "<!-- Subject: S {{event.title}} -->\nHello from {{job.id}}"
    ev = event(aapi, title="Mailer", actions=[action("success", "email", email="x@test.local", body=body)])
    job = run_wait(aapi, ev["id"])
    mail = smtp.wait(before + 1)[before]
    assert mail.subject == "S Mailer" and "<!--" not in mail.text and f"Hello from {job['id']}" in mail.text


def test_disable_action_is_visible_at_final(aapi: Api) -> None:
    """An `error` disable action has disabled the event when the final record appears (cases 178, 209)."""
    ev = event(aapi, "#!/bin/sh\nexit 1\n", actions=[action("error", "disable")])
    job = run_wait(aapi, ev["id"])
    stored = aapi.ok("get_event", {"id": ev["id"]})["event"]
    assert stored["enabled"] is False and stored["revision"] == ev["revision"] + 1
    assert job["actions"][0]["description"] == "Successfully disabled event."
    row = aapi.ok("get_event_history", {"id": ev["id"]})["rows"][0]
    assert row["action"] == "event_update" and row["reason"] == "job"
    assert aapi.error("run_event", {"id": ev["id"]})[2].startswith("Event is disabled")


def test_delete_action(aapi: Api) -> None:
    """A `success` delete action removes the event; the job stays (cases 179, 209)."""
    ev = event(aapi, actions=[action("success", "delete")])
    job = run_wait(aapi, ev["id"])
    assert aapi.error("get_event", {"id": ev["id"]})[:2] == (404, "notfound")
    assert aapi.ok("get_job", {"id": job["id"]})["job"]["id"] == job["id"]


def test_run_event_chain_passes_data(aapi: Api) -> None:
    """A `success` run_event action starts B with A's output data and a parent link (case 180)."""
    b = event(aapi, '#!/bin/sh\necho "x=$data_x"\n')
    a = event(
        aapi,
        '#!/bin/sh\necho \'{"xy":1,"data":{"x":1}}\'\n',
        actions=[action("success", "run_event", event_id=b["id"])],
    )
    job_a = run_wait(aapi, a["id"])
    child = job_a["jobs"][0]
    assert (
        child["reason"] == "action"
        and job_a["actions"][0]["description"] == f"Successfully launched job: {child['id']}"
    )
    job_b = wait_job(aapi, child["id"])
    assert job_b["source"] == "action" and job_b["parent"]["job"] == job_a["id"] and job_b["input"]["data"]["x"] == 1
    assert "x=1" in job_b["output"]


def test_run_event_without_manual_trigger(aapi: Api) -> None:
    """A run_event action on an event without a manual trigger records `event`; the job is unaffected (case 181)."""
    target = event(aapi, triggers=[])
    job = run_wait(aapi, event(aapi, actions=[action("success", "run_event", event_id=target["id"])])["id"])
    assert job["code"] == 0 and job["actions"][0]["code"] == "event"


def test_web_hook_actions(aapi: Api, receiver: HttpReceiver) -> None:
    """A success hook has been sent exactly once when the job is final; a disabled hook records `webhook` (cases 182, 208, 210)."""
    ok_hook = hook(aapi, receiver, "/success")
    off_hook = hook(aapi, receiver, "/disabled", enabled=False)
    actions = [
        action("success", "web_hook", web_hook=ok_hook, text="T-action"),
        action("success", "web_hook", web_hook=off_hook),
        action("error", "web_hook", web_hook=ok_hook),
    ]
    job = run_wait(aapi, event(aapi, actions=actions)["id"])
    sent = receiver.matching("/success")
    assert (
        len(sent) == 1
        and sent[0].body.decode().endswith("T-action")
        and sent[0].headers["content-type"] == "text/plain"
    )
    ok_entry, off_entry, error_entry = job["actions"]
    assert ok_entry["code"] == 0 and ok_entry["description"].startswith("Success (HTTP 200")
    assert off_entry["code"] == "webhook" and "Web Hook is disabled" in off_entry["description"]
    assert "code" not in error_entry and not receiver.matching("/disabled")


def test_web_hook_templates_and_get(aapi: Api, receiver: HttpReceiver) -> None:
    """URL, header and body macros render; a GET hook sends no body (case 211)."""
    tpl = hook(
        aapi,
        receiver,
        "/tpl?job={{job.id}}&event={{event.id}}",
        headers=[{"name": "X-Event", "value": "{{event.id}}"}],
        body="code={{job.code}}|param={{job.params.greeting}}|data={{job.data.answer}}",
    )
    get = hook(aapi, receiver, "/get-hook", method="GET", body="ignored")
    script = '#!/bin/sh\necho \'{"xy":1,"data":{"answer":42}}\'\n'
    ev = create_event(
        aapi,
        params={"script": script, "greeting": "hi"},
        actions=[action("success", "web_hook", web_hook=tpl), action("complete", "web_hook", web_hook=get)],
    )
    job = run_wait(aapi, ev["id"])
    (request,) = receiver.matching(f"/tpl?job={job['id']}")
    assert request.path == f"/tpl?job={job['id']}&event={ev['id']}" and request.headers["x-event"] == ev["id"]
    assert request.body == b"code=0|param=hi|data=42"
    (got,) = receiver.matching("/get-hook")
    assert got.method == "GET" and got.body == b""


def test_failing_peers_are_recorded(aapi: Api, receiver: HttpReceiver) -> None:
    """A hook answering 500, a hook that never answers and a refused connection record `webhook` in time."""
    bad = hook(aapi, receiver, "/status/500")
    slow = hook(aapi, receiver, "/slow", timeout=1)
    down = uid("hook")
    aapi.ok(
        "create_web_hook", {"id": down, "title": "Down", "method": "POST", "url": "http://127.0.0.1:9/x", "timeout": 1}
    )
    actions = [action("complete", "web_hook", web_hook=h) for h in (bad, slow, down)]
    started = time.time()
    job = run_wait(aapi, event(aapi, actions=actions)["id"])
    assert time.time() - started < 6 and job["code"] == 0
    assert [a["code"] for a in job["actions"]] == ["webhook"] * 3
    assert all(a["description"] for a in job["actions"])


def test_smtp_down_is_recorded(aapi: Api, server_factory: StartServer) -> None:
    """An unreachable SMTP server records `email` within its timeout and the job stays complete."""
    server = server_factory(
        "sqlite",
        env={"CRONWRIGHT_SMTP_HOST": "127.0.0.1", "CRONWRIGHT_SMTP_PORT": "9", "CRONWRIGHT_SMTP_TIMEOUT_S": "1"},
    )
    api = server.client()
    job = run_wait(api, event(api, actions=[action("complete", "email", email="nobody@test.local")])["id"])
    assert job["code"] == 0 and job["final"] and job["actions"][0]["code"] == "email"
    assert job["actions"][0]["description"].startswith("Failed to send e-mail")


def test_category_and_event_actions(aapi: Api, receiver: HttpReceiver, smtp: SmtpSink) -> None:
    """A category `start` hook and an event `success` email both run; the category one is marked (case 148)."""
    hook_id = hook(aapi, receiver, "/category-start")
    category = uid("cat")
    aapi.ok(
        "create_category",
        {"id": category, "title": "Hooked", "actions": [action("start", "web_hook", web_hook=hook_id)]},
    )
    job = run_wait(
        aapi, event(aapi, category=category, actions=[action("success", "email", email="c@test.local")])["id"]
    )
    codes = {a["type"]: (a["code"], a.get("source")) for a in job["actions"]}
    assert codes["web_hook"] == (0, "category") and codes["email"][0] == 0


def test_abort_action_on_queued_job(aapi: Api, receiver: HttpReceiver) -> None:
    """An `abort` action runs when a queued job is aborted (case 183)."""
    hook_id = hook(aapi, receiver, "/aborted")
    limits = [{"enabled": True, "type": "job", "amount": 1}, {"enabled": True, "type": "queue", "amount": 5}]
    ev = event(aapi, "#!/bin/sh\nsleep 2\n", limits=limits, actions=[action("abort", "web_hook", web_hook=hook_id)])
    running = start_job(aapi, ev["id"])
    wait_state(aapi, running, "active")
    queued = start_job(aapi, ev["id"])
    wait_state(aapi, queued, "queued")
    aapi.ok("abort_job", {"id": queued})
    job = wait_job(aapi, queued)
    assert job["code"] == "abort" and job["actions"][0]["code"] == 0 and len(receiver.wait("/aborted", 1)) == 1


def test_tag_label_and_plugin_actions(aapi: Api) -> None:
    """Tag, label and action-plugin actions run and record their results."""
    plugin = aapi.ok(
        "create_plugin",
        {
            "title": "Notifier",
            "type": "action",
            "command": "/bin/sh",
            "script": 'read x\necho \'{"xy":1,"code":0,"description":"notified"}\'\n',
        },
    )["plugin"]
    actions = [
        action("success", "tag", tags=["flag"]),
        action("success", "label", label="Build {{job.id}}"),
        action("success", "plugin", plugin_id=plugin["id"], params={}),
    ]
    job = run_wait(aapi, event(aapi, actions=actions)["id"])
    assert "flag" in job["tags"] and job["label"] == f"Build {job['id']}"
    assert job["actions"][2]["code"] == 0 and job["actions"][2]["description"] == "notified"


def test_suspend_and_resume(aapi: Api) -> None:
    """A `start` suspend action holds the job until `resume_job`."""
    ev = event(aapi, actions=[action("start", "suspend")])
    job_id = start_job(aapi, ev["id"])
    held = wait_state(aapi, job_id, "suspended")
    assert held["actions"][0]["code"] == 0
    time.sleep(0.5)
    assert aapi.ok("get_job", {"id": job_id})["job"]["state"] == "suspended"
    aapi.ok("resume_job", {"id": job_id})
    assert wait_job(aapi, job_id)["code"] == 0
    assert aapi.error("resume_job", {"id": job_id})[1] == "job"


def test_actions_are_in_the_activity_log(aapi: Api) -> None:
    """Each action result is also an activity record."""
    job = run_wait(aapi, event(aapi, actions=[action("success", "tag", tags=["flag"])])["id"])
    rows = aapi.ok("search_activity", {"query": f"action:job_action keywords:{job['id']}"})["rows"]
    assert len(rows) == 1 and rows[0]["code"] == 0


# ---- web hooks API


def test_web_hook_crud_and_validation(aapi: Api, receiver: HttpReceiver) -> None:
    """Web hooks validate URL, headers and body macros; updates revalidate (cases 201, 213)."""
    assert aapi.error("create_web_hook", {"title": "x", "method": "POST", "url": "ftp://x"})[:2] == (400, "api")
    assert (
        aapi.error("create_web_hook", {"title": "x", "method": "POST", "url": "http://x", "body": "{{ 1 + }}"})[1]
        == "web_hook"
    )
    assert (
        aapi.error("create_web_hook", {"title": "x", "method": "POST", "url": "http://x", "headers": "nope"})[1]
        == "web_hook"
    )
    hook_id = hook(aapi, receiver, "/crud")
    stored = aapi.ok("get_web_hook", {"id": hook_id})["web_hook"]
    assert stored["enabled"] is True and stored["retries"] == 0
    assert aapi.error("update_web_hook", {"id": hook_id, "body": "{{ ### }}"})[1] == "web_hook"
    assert aapi.ok("get_web_hook", {"id": hook_id})["web_hook"]["revision"] == 1
    assert aapi.error("update_web_hook", {"id": "nope_hook", "title": "x"})[:2] == (404, "web_hook")
    templated = aapi.ok("create_web_hook", {"title": "T", "method": "POST", "url": "{{job.params.hook_url}}"})[
        "web_hook"
    ]
    assert templated["url"] == "{{job.params.hook_url}}"


def test_test_web_hook(aapi: Api, receiver: HttpReceiver) -> None:
    """`test_web_hook` sends one request from the given definition and stores nothing (case 212)."""
    saved = hook(aapi, receiver, "/saved")
    body = {"id": saved, "title": "Trial", "method": "PUT", "url": receiver.url + "/trial", "body": "{{text}}"}
    result = aapi.ok("test_web_hook", body)["result"]
    assert result["code"] == 0 and result["description"] and "PUT" in result["details"]
    assert len(receiver.matching("/trial")) == 1
    assert aapi.ok("get_web_hook", {"id": saved})["web_hook"]["url"].endswith("/saved")
    assert aapi.error("test_web_hook", {"method": "POST", "url": receiver.url + "/untitled"})[1] == "api"
    assert not receiver.matching("/untitled")
    down = aapi.ok("test_web_hook", {"title": "Down", "method": "POST", "url": "http://127.0.0.1:9/x", "timeout": 1})[
        "result"
    ]
    assert down["code"] == "webhook"


def test_universal_limits_and_actions(server_factory: StartServer, receiver: HttpReceiver) -> None:
    """Universal limits and actions from the configuration apply to every job, after the event's."""
    env = {
        "CRONWRIGHT_JOB_UNIVERSAL_LIMITS": json.dumps(
            {"default": [{"enabled": True, "type": "time", "duration": 1, "abort": True}]}
        ),
        "CRONWRIGHT_JOB_UNIVERSAL_ACTIONS": json.dumps(
            {"default": [{"enabled": True, "condition": "abort", "type": "tag", "tags": ["flag"]}]}
        ),
    }
    api = server_factory("sqlite", env=env).client()
    job = run_wait(api, event(api, SLEEP3)["id"])
    assert job["code"] == "abort" and job["limits"][-1]["source"] == "universal"
    assert job["actions"][-1]["source"] == "universal" and "flag" in job["tags"]


def test_malformed_universal_configuration_stops_the_server(tmp_path: object) -> None:
    """A malformed universal limit stops `serve` with a message naming it (no traceback)."""
    env = {**os.environ, "CRONWRIGHT_JOB_UNIVERSAL_LIMITS": json.dumps({"default": [{"type": "time"}]})}
    result = subprocess.run(
        [sys.executable, "-m", "cronwright", "serve", "--port", "0", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode != 0 and "Invalid job_universal_limits.default" in result.stderr
    assert "Missing enabled flag" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("script", "condition", "fires"),
    [
        ('echo \'{"xy":1,"code":"warning"}\'', "warning", True),
        ('echo \'{"xy":1,"code":"critical"}\'', "critical", True),
        ("exit 3", "user", True),
        ("exit 3", "warning", False),
        ("true", "error", False),
        ("true", "tag:important", True),
        ("true", "tag:flag", False),
    ],
)
def test_every_condition(aapi: Api, script: str, condition: str, fires: bool) -> None:
    """Each completion condition fires exactly when its outcome occurs (limits-actions.md §3.2)."""
    ev = event(
        aapi,
        "#!/bin/sh\n" + script + "\n",
        tags=["important"],
        actions=[action(condition, "label", label=f"fired {condition}")],
    )
    job = run_wait(aapi, ev["id"])
    assert ("code" in job["actions"][0]) is fires
    assert (job.get("label") == f"fired {condition}") is fires


def test_run_event_chain_passes_files(aapi: Api) -> None:
    """A chained job receives the first job's output files as input files in its working directory (issue 5 §2)."""
    b = event(aapi, "#!/bin/sh\ncat report.txt\n")
    script = '#!/bin/sh\necho chained-content > report.txt\necho \'{"xy":1,"files":["report.txt"]}\'\n'
    a = event(aapi, script, actions=[action("success", "run_event", event_id=b["id"])])
    job_a = run_wait(aapi, a["id"])
    job_b = wait_job(aapi, job_a["jobs"][0]["id"])
    assert [f["filename"] for f in job_b["input"]["files"]] == ["report.txt"]
    assert job_b["code"] == 0 and "chained-content" in job_b["output"]


def test_email_to_users(aapi: Api, action_server: Server, smtp: SmtpSink) -> None:
    """An email action addressed to `users` reaches those users' addresses; unknown users are skipped."""
    username = uid("mailuser")
    status = httpx.post(
        f"{action_server.url}/api/user/admin_create",
        json={"username": username, "password": "long-enough-pw", "email": f"{username}@test.local"},
        headers={"X-API-Key": ADMIN_KEY},
    ).json()
    assert status["code"] == 0
    before = len(smtp.mails)
    job = run_wait(aapi, event(aapi, actions=[action("success", "email", users=[username, "ghost_user"])])["id"])
    assert job["actions"][0]["code"] == 0
    mail = smtp.wait(before + 1)[before]
    assert mail.recipients == [f"{username}@test.local"]
