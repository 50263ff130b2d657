"""API conventions and authentication (conformance section A, api-conventions.md)."""

from __future__ import annotations

import time

import httpx

from tests.api.helpers import create_event, event_payload, make_key, uid
from tests.support.server import ADMIN_KEY, ADMIN_PASSWORD, Api


def test_no_credentials_is_session_error(api: Api) -> None:
    """A call without credentials fails with code `session` and HTTP 403 (case 1)."""
    status, code, desc = api.with_key(None).error("get_events", method="GET")
    assert (status, code) == (403, "session")
    assert "No Session ID or API Key" in desc


def test_header_key_succeeds(api: Api) -> None:
    """A valid key in `X-API-Key` is accepted (case 2)."""
    assert api.ok("get_events", method="GET")["code"] == 0


def test_key_in_body_and_query_are_not_filters(api: Api) -> None:
    """`api_key` in the body or the query authenticates and is never a filter (case 3)."""
    create_event(api)
    expected = api.ok("get_events", method="GET")["list"]["length"]
    anon = api.with_key(None)
    by_body = anon.ok("get_events", {"api_key": ADMIN_KEY})
    by_query = anon.ok("get_events", method="GET", query={"api_key": ADMIN_KEY})
    assert by_body["list"]["length"] == by_query["list"]["length"] == expected
    assert len(by_query["rows"]) == expected > 0


def test_inactive_key_is_invalid(api: Api) -> None:
    """A key with `active: 0` answers `session` "Invalid API Key" (case 4)."""
    client, key = make_key(api, {"admin": True})
    api.ok("update_api_key", {"id": key["id"], "active": 0})
    status, code, desc = client.error("get_events", method="GET")
    assert (status, code, desc) == (403, "session", "Invalid API Key")


def test_expired_key(api: Api) -> None:
    """A key past `expires` is rejected; one expiring later works (case 5)."""
    expired, _ = make_key(api, {}, expires=int(time.time()) - 1)
    assert expired.error("get_events")[1] == "session"
    valid, _ = make_key(api, {}, expires=int(time.time()) + 3600)
    valid.ok("get_events")


def test_rate_limit(api: Api) -> None:
    """A key with `max_per_sec: 2` gets `rate` / HTTP 429 on its third call in one second (case 6)."""
    client, _ = make_key(api, {}, max_per_sec=2)
    time.sleep(1 - time.time() % 1 + 0.01)  # start right after a second boundary
    results = [client.call("get_tags", method="GET") for _ in range(3)]
    assert [r[1]["code"] for r in results[:2]] == [0, 0]
    assert results[2][0] == 429 and results[2][1]["code"] == "rate"


def test_missing_privilege_names_it(api: Api) -> None:
    """A key without `delete_tags` gets `access` naming "Delete Tags" (case 7)."""
    client, _ = make_key(api, {})
    status, code, desc = client.error("delete_tag", {"id": "nope"})
    assert (status, code) == (403, "access")
    assert "Delete Tags" in desc


def test_privilege_passes_then_entity_missing(api: Api) -> None:
    """With `delete_tags`, deleting an unknown tag answers the entity code `tag` (case 8)."""
    client, _ = make_key(api, {"delete_tags": True})
    status, code, _ = client.error("delete_tag", {"id": "nope"})
    assert code == "tag" and status == 404


def test_role_grants_privilege_until_disabled(api: Api) -> None:
    """A role grants its privileges to a key, and stops when disabled (case 9)."""
    role_id = uid("r")
    api.ok("create_role", {"id": role_id, "title": "Deleters", "privileges": {"delete_tags": True}})
    client, _ = make_key(api, {}, roles=[role_id])
    assert client.error("delete_tag", {"id": "nope"})[1] == "tag"
    api.ok("update_role", {"id": role_id, "enabled": False})
    assert client.error("delete_tag", {"id": "nope"})[1] == "access"


def test_unversioned_errors_are_http_200(api: Api) -> None:
    """Without `/v1` an error is HTTP 200 with the envelope (case 10)."""
    status, body = api.call("get_event", {"id": "no_such_event"}, method="GET", versioned=False)
    assert status == 200 and body["code"] == "notfound"


def test_versioned_notfound_is_404(api: Api) -> None:
    """With `/v1` an unknown event id is HTTP 404 `notfound` (case 11)."""
    status, code, desc = api.error("get_event", {"id": "no_such_event"}, method="GET")
    assert (status, code) == (404, "notfound")
    assert desc == "Failed to locate event: no_such_event"


def test_missing_and_malformed_id(api: Api) -> None:
    """Missing, malformed and reserved ids are `api` / HTTP 400 (cases 12–14)."""
    assert api.error("get_event", {}, method="GET") == (400, "api", "Missing parameter: id")
    assert api.error("get_event", {"id": "Bad-ID"}, method="GET")[:2] == (400, "api")
    assert "Malformed parameter: id" in api.error("get_event", {"id": "Bad-ID"})[2]
    assert api.error("get_event", {"id": "constructor"})[:2] == (400, "api")


def test_illegal_top_level_key(api: Api) -> None:
    """`__proto__` as a top-level key is rejected with `api` (case 15)."""
    body = event_payload()
    body["__proto__"] = {"admin": True}
    assert api.error("create_event", body)[1] == "api"


def test_delete_unknown_event_is_404(api: Api) -> None:
    """Deleting an unknown event answers `event` with HTTP 404, not 500 (case 16)."""
    assert api.error("delete_event", {"id": "nope"})[:2] == (404, "event")


def test_login_session_and_logout(server_url: str) -> None:
    """Login sets a `session_id` cookie whose id authenticates via `X-Session-ID`; logout ends it (case 17)."""
    response = httpx.post(server_url + "/api/user/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    body = response.json()
    assert body["code"] == 0 and "password" not in body["user"]
    assert response.cookies.get("session_id") == body["session_id"]
    headers = {"X-Session-ID": body["session_id"]}
    with httpx.Client(base_url=server_url) as fresh:
        assert fresh.get("/api/app/get_events/v1", headers=headers).json()["code"] == 0
        assert fresh.post("/api/user/logout", headers=headers).json()["code"] == 0
        assert fresh.get("/api/app/get_events/v1", headers=headers).json()["code"] == "session"


def test_wrong_password(server_url: str) -> None:
    """A wrong password is refused with a clear error and no session."""
    response = httpx.post(server_url + "/api/user/login", json={"username": "admin", "password": "nope"})
    body = response.json()
    assert body["code"] == "login" and "session_id" not in body and "session_id" not in response.cookies


def test_invalid_session_does_not_fall_back_to_key(api: Api) -> None:
    """An unknown session id fails with `session` even beside a valid key (case 18)."""
    _status, code, desc = api.error("get_events", headers={"X-Session-ID": "nope"})
    assert code == "session" and "Session" in desc


def test_create_api_key_shapes(api: Api) -> None:
    """`plain_key` is long, the stored `key` is a 64-hex hash and `mask` shows its ends (case 19)."""
    body = api.ok("create_api_key", {"title": "Shapes"})
    plain, record = body["plain_key"], body["api_key"]
    assert len(plain) >= 16
    assert len(record["key"]) == 64 and all(c in "0123456789abcdef" for c in record["key"])
    assert record["key"] != plain
    assert record["mask"] == plain[:4] + "********" + plain[-4:]
    assert record["id"].startswith("k")


def test_update_api_key_cannot_change_hash(api: Api) -> None:
    """`update_api_key` ignores a `key` value (case 20)."""
    client, record = make_key(api, {})
    api.ok("update_api_key", {"id": record["id"], "key": "x", "title": "Renamed"})
    stored = api.ok("get_api_key", {"id": record["id"]})["api_key"]
    assert stored["key"] == record["key"] and stored["title"] == "Renamed"
    client.ok("get_events")


def test_api_keys_are_admin_only(api: Api) -> None:
    """A non-admin caller cannot create or list API keys (case 21)."""
    client, _ = make_key(api, {"create_events": True})
    assert client.error("create_api_key", {"title": "x"})[:2] == (403, "access")
    assert client.error("get_api_keys")[:2] == (403, "access")


def test_created_stamps(api: Api) -> None:
    """Created records carry `created == modified`, `revision 1` and the caller as `username` (case 22)."""
    client, key = make_key(api, {"create_tags": True, "create_events": True})
    tag = client.ok("create_tag", {"id": uid("tag"), "title": "T"})["tag"]
    event = create_event(client)
    for doc in (tag, event):
        assert isinstance(doc["created"], int) and doc["created"] == doc["modified"]
        assert doc["revision"] == 1 and doc["username"] == key["id"]


def test_unknown_endpoint(api: Api) -> None:
    """An unknown API name answers a JSON `api` error with HTTP 404."""
    assert api.error("no_such_call")[:2] == (404, "api")


def test_malformed_json_body(server_url: str) -> None:
    """Malformed JSON, or JSON that is not an object, is a clear `api` error (HTTP 400)."""
    for raw in (b"{not json", b"[1,2]", b'"text"', b'{"a": 1e999}'):
        response = httpx.post(
            server_url + "/api/app/create_event/v1",
            content=raw,
            headers={"Content-Type": "application/json", "X-API-Key": ADMIN_KEY},
        )
        body = response.json()
        assert response.status_code == 400 and body["code"] == "api", raw
        assert "JSON" in body["description"]


def test_oversized_body_is_rejected(server_url: str) -> None:
    """A body over the configured limit (16 MiB by default) is refused with HTTP 413 and JSON."""
    big = b'{"title": "' + b"x" * (17 * 1024 * 1024) + b'"}'
    response = httpx.post(
        server_url + "/api/app/create_event/v1",
        content=big,
        headers={"Content-Type": "application/json", "X-API-Key": ADMIN_KEY},
        timeout=60,
    )
    assert response.status_code == 413 and response.json()["code"] == "api"


def test_wrong_types_are_api_errors(api: Api) -> None:
    """Wrong JSON types in known fields are `api` errors, never server errors."""
    for bad in (
        {"targets": "main"},
        {"triggers": {}},
        {"limits": "x"},
        {"params": []},
        {"title": 5},
        {"enabled": [1]},
        {"tags": "important"},
        {"fields": {}},
    ):
        status, code, _ = api.error("create_event", event_payload(**bad))
        assert (status, code) == (400, "api"), bad


def test_form_body_and_cachebust(server_url: str) -> None:
    """Urlencoded bodies work (`enabled=1`), and `cachebust` is ignored."""
    response = httpx.post(
        server_url + "/api/app/create_tag/v1?cachebust=123",
        data={"id": uid("tag"), "title": "Form Tag"},
        headers={"X-API-Key": ADMIN_KEY},
    )
    body = response.json()
    assert body["code"] == 0 and "cachebust" not in body["tag"]


def test_non_api_paths_answer_json(server_url: str) -> None:
    """Unknown paths and methods answer JSON envelopes, not HTML."""
    for response in (httpx.get(server_url + "/nope"), httpx.delete(server_url + "/api/app/get_events/v1")):
        assert response.status_code in (404, 405)
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["code"] == "api"


def test_ping_and_error(api: Api) -> None:
    """`ping` needs no credentials; `error` answers code `test`."""
    assert api.with_key(None).ok("ping")["code"] == 0
    assert api.error("error")[1] == "test"


def test_credentials_never_stored(api: Api) -> None:
    """A key sent in the body of `create_event`/`update_event` leaves no trace in the stored event (case 207)."""
    anon = api.with_key(None)
    event = anon.ok("create_event", {**event_payload(id=uid("ev")), "api_key": ADMIN_KEY})["event"]
    anon.ok("update_event", {"id": event["id"], "title": "Renamed", "api_key": ADMIN_KEY})
    stored = api.ok("get_event", {"id": event["id"]})["event"]
    history = api.ok("get_event_history", {"id": event["id"], "limit": 10})["rows"]
    text = repr(stored) + repr(history)
    assert ADMIN_KEY not in text and "api_key" not in stored
