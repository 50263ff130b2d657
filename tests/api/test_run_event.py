"""The request checks of run_event (conformance section F): every check before a job starts."""

from __future__ import annotations

import httpx

from tests.api.helpers import create_event, make_key, uid
from tests.support.server import ADMIN_KEY, Api


def _valid(api: Api, params: dict[str, object]) -> None:
    assert api.ok("run_event", params)["id"].startswith("j")


def test_manual_trigger_required_unless_test(api: Api) -> None:
    """No manual trigger → `event` "does not allow manual job runs"; `test: true` passes (cases 95–96)."""
    event = create_event(api, triggers=[])
    status, code, desc = api.error("run_event", {"id": event["id"]})
    assert (status, code) == (409, "event") and "Event does not allow manual job runs" in desc
    _valid(api, {"id": event["id"], "test": True})
    disabled_manual = create_event(api, triggers=[{"type": "manual", "enabled": False}])
    assert "does not allow manual" in api.error("run_event", {"id": disabled_manual["id"]})[2]


def test_disabled_event(api: Api) -> None:
    """A disabled event is refused ("Event is disabled") unless `test` (case 97)."""
    event = create_event(api, enabled=False)
    assert "Event is disabled" in api.error("run_event", {"id": event["id"]})[2]
    _valid(api, {"id": event["id"], "test": True})


def test_selection(api: Api) -> None:
    """No criteria → "No criteria specified"; by title picks the event; unknown id → 404 (cases 98–99)."""
    _status, code, desc = api.error("run_event", {})
    assert code == "event" and "No criteria specified" in desc
    title = uid("Unique Title")
    create_event(api, title=title)
    _valid(api, {"title": title})
    assert api.error("run_event", {"id": "nope"})[:2] == (404, "event")


def test_needs_run_jobs(api: Api) -> None:
    """Without `run_jobs` the call is `access` (case 100)."""
    event = create_event(api)
    client, _ = make_key(api, {})
    assert client.error("run_event", {"id": event["id"]})[:2] == (403, "access")


def test_override_validation(api: Api) -> None:
    """Unknown tags, a non-object `input` and malformed `json` are `api` errors (cases 103, 105, 107)."""
    event = create_event(api)
    assert api.error("run_event", {"id": event["id"], "tags": ["nope"]})[:2] == (400, "api")
    assert api.error("run_event", {"id": event["id"], "input": "x"})[:2] == (400, "api")
    _valid(api, {"id": event["id"], "input": {"data": {"n": 1}}, "tags": ["flag"]})
    assert api.error("run_event", {"json": "{nope"})[:2] == (400, "api")
    _valid(api, {"json": f'{{"id":"{event["id"]}","params":{{"x":1}}}}'})


def test_flat_keys_and_post_data(server_url: str, api: Api) -> None:
    """`params/foo=bar` in the query and `?post_data=1` bodies are accepted (cases 106, 206)."""
    event = create_event(api)
    headers = {"X-API-Key": ADMIN_KEY}
    response = httpx.post(f"{server_url}/api/app/run_event/v1?id={event['id']}&params/foo=bar", headers=headers)
    assert response.json()["code"] == 0
    response = httpx.post(
        f"{server_url}/api/app/run_event/v1?post_data=1&id={event['id']}",
        json={"foo": "bar", "nested": {"a": 1}},
        headers=headers,
    )
    assert response.json()["code"] == 0


def test_required_event_field(api: Api) -> None:
    """A required user field without a value is `api` "Event: Parameter 'region' is required." (case 109)."""
    event = create_event(
        api, fields=[{"id": "region", "type": "text", "title": "Region", "required": True, "value": ""}]
    )
    assert api.error("run_event", {"id": event["id"]}) == (400, "api", "Event: Parameter 'region' is required.")
    _valid(api, {"id": event["id"], "params": {"region": "us"}})


def test_wait_suffix(api: Api) -> None:
    """A run with `/wait` is accepted as a path; an unknown suffix is 404 (events.md §3.7)."""
    event = create_event(api)
    status, body = api.call(f"run_event/v1/wait?id={event['id']}", versioned=False)
    assert status == 200 and body["job"]["final"] is True
    status, body = api.call(f"run_event/v1/bogus?id={event['id']}", versioned=False)
    assert status == 404 and body["code"] == "api"


def test_multipart_files(server_url: str, api: Api) -> None:
    """Multipart with a `json` field and a file is accepted; a zero-byte file is `api` (case 113)."""
    event = create_event(api)
    headers = {"X-API-Key": ADMIN_KEY}
    data = {"json": f'{{"id":"{event["id"]}"}}'}
    ok = httpx.post(
        f"{server_url}/api/app/run_event/v1", data=data, files={"file1": ("a.csv", b"0123456789")}, headers=headers
    )
    assert ok.json()["code"] == 0
    empty = httpx.post(
        f"{server_url}/api/app/run_event/v1", data=data, files={"file1": ("a.csv", b"")}, headers=headers
    )
    assert empty.status_code == 400 and empty.json()["code"] == "api"
