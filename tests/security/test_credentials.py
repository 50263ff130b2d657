"""Issue 8 point 5: a plain API key is never stored in a job, whatever the path, and web hook secrets
are shown only to those who may edit web hooks."""

from __future__ import annotations

import json

from sqlalchemy import text

from cronwright.store.sql.store import SqlStore
from tests.api.helpers import create_event, make_key, uid, wait_job
from tests.support.server import Api, Server
from tests.support.sinks import HttpReceiver


def _job_row_text(server: Server, job_id: str) -> str:
    store = SqlStore.open(server.database_url)
    try:
        with store.engine.connect() as conn:
            return str(conn.execute(text("SELECT doc FROM jobs WHERE id = :id"), {"id": job_id}).scalar_one())
    finally:
        store.close()


def test_plain_key_never_reaches_a_job(api: Api, server: Server) -> None:
    """An `api_key` inside the multipart `json` field, inside a JSON-string `json` param, or as a
    param-like body key is dropped before the job is built: neither the API nor the database row of
    the job contains the plain key."""
    runner, _ = make_key(api, {"run_jobs": True})
    plain = str(runner.key)
    event = create_event(api)
    headers = {"X-API-Key": plain}
    multipart = runner.http.post(
        "/api/app/run_event/v1",
        data={"json": json.dumps({"id": event["id"], "api_key": plain, "session_id": "s" * 20})},
        files={"upload": ("a.txt", b"data")},
        headers=headers,
    ).json()
    string_json = runner.http.post(
        "/api/app/run_event/v1",
        json={"json": json.dumps({"id": event["id"], "api_key": plain, "params": {"x": "1"}})},
        headers=headers,
    ).json()
    for answer in (multipart, string_json):
        assert answer["code"] == 0, answer
        job = wait_job(api, answer["id"])
        assert plain not in json.dumps(job)
        assert plain not in _job_row_text(server, job["id"])


def test_web_hook_secrets_are_masked_for_readers(api: Api) -> None:
    """Readers without `edit_web_hooks` see header values, the body template, URL user-info, path,
    query values and bare query items masked; admins and `edit_web_hooks` holders see the hook as stored."""
    hook_id = uid("wh")
    url = "https://user:pa55word@hooks.example.com/services/T000/B000/SECRETPATH?xoxb-BARE&token=SECRETQ&channel=ops"
    api.ok(
        "create_web_hook",
        {
            "id": hook_id,
            "title": "Chat",
            "method": "POST",
            "url": url,
            "headers": [{"name": "Authorization", "value": "Bearer SECRETH"}, {"name": "X-Plain", "value": "p"}],
            "body": '{"api_token": "SECRETB", "text": "{{text}}"}',
        },
    )
    reader, _ = make_key(api, {"run_jobs": True})
    editor, _ = make_key(api, {"edit_web_hooks": True})
    for answer in (
        reader.ok("get_web_hook", {"id": hook_id})["web_hook"],
        next(h for h in reader.ok("get_web_hooks")["rows"] if h["id"] == hook_id),
    ):
        shown = json.dumps(answer)
        for secret in ("pa55word", "SECRETPATH", "SECRETQ", "SECRETH", "user:", "BARE", "SECRETB"):
            assert secret not in shown, shown
        assert answer["url"].startswith("https://********@hooks.example.com/") and "channel=" in answer["url"]
        assert [h["name"] for h in answer["headers"]] == ["Authorization", "X-Plain"]
    for privileged in (api, editor):
        assert privileged.ok("get_web_hook", {"id": hook_id})["web_hook"]["url"] == url


def test_action_reports_hide_web_hook_secrets_from_job_readers(api: Api) -> None:
    """The request report of a web hook action is stored on the job for every reader of the job:
    it shows no URL path or query secret, no user-info and no custom header value."""
    receiver = HttpReceiver().start()
    try:
        hook_id = uid("wh")
        url = (receiver.url + "/services/T000/SECRETPATH?token=SECRETQ").replace("http://", "http://bot:SECRETPW@")
        api.ok(
            "create_web_hook",
            {
                "id": hook_id,
                "title": "Chat",
                "method": "POST",
                "url": url,
                "headers": [{"name": "X-Hook-Key", "value": "SECRETH"}],
            },
        )
        action = {"enabled": True, "condition": "complete", "type": "web_hook", "web_hook": hook_id}
        event = create_event(api, actions=[action])
        reader, _ = make_key(api, {"run_jobs": True})
        job_id = reader.ok("run_event", {"id": event["id"]})["id"]
        wait_job(api, job_id)
        assert receiver.requests and receiver.requests[0].headers["x-hook-key"] == "SECRETH"
        shown = json.dumps(reader.ok("get_job", {"id": job_id})["job"])
        assert "Request Headers" in shown
        for secret in ("SECRETPATH", "SECRETQ", "SECRETPW", "SECRETH"):
            assert secret not in shown, secret
    finally:
        receiver.stop()
