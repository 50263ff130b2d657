"""Issue 8 point 7: no state change by a plain GET with cookie auth; cross-site cookie requests are
refused; the session cookie is `HttpOnly`, `SameSite=Lax`, `Path=/` and `Secure` over TLS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from cronwright.api.registry import READ_ONLY_ENDPOINTS
from cronwright.api.routes import all_endpoints
from tests.api.helpers import create_event, run_wait, script_event, uid, wait_job
from tests.conftest import StartServer
from tests.support.server import ADMIN_PASSWORD, Api, Server


def login(server: Server, headers: dict[str, str] | None = None) -> httpx.Response:
    response = httpx.post(
        f"{server.url}/api/user/login/v1",
        json={"username": "admin", "password": ADMIN_PASSWORD},
        headers=headers or {},
        timeout=30,
    )
    assert response.json()["code"] == 0, response.text
    return response


@pytest.fixture(scope="module")
def cookie(server: Server) -> str:
    """An administrator's session id, to be sent as the `session_id` cookie."""
    return str(login(server).json()["session_id"])


def by_cookie(
    server: Server,
    session_id: str,
    name: str,
    params: dict[str, Any] | None = None,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    namespace: str = "app",
    versioned: bool = True,
) -> tuple[int, dict[str, Any]]:
    """Call ``NAME`` authenticated only by the session cookie (as a browser would)."""
    path = f"/api/{namespace}/{name}" + ("/v1" if versioned else "")
    all_headers = {"Cookie": f"session_id={session_id}", **(headers or {})}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        if method == "GET":
            response = client.get(path, params=params or {}, headers=all_headers)
        else:
            response = client.request(method, path, json=params or {}, headers=all_headers)
    return response.status_code, response.json()


def job_count(api: Api, event_id: str) -> int:
    """Completed plus active jobs of an event."""
    completed = int(api.ok("get_jobs", {"event": event_id})["list"]["length"])
    return completed + len(api.ok("get_active_jobs", {"event": event_id})["rows"])


def test_cookie_get_cannot_run_an_event(server: Server, api: Api, cookie: str, tmp_path: Path) -> None:
    """A cookie-authenticated `GET run_event?id=…` answers 403 `csrf` and starts no job (marker file never written)."""
    marker = tmp_path / "ran"
    event = script_event(api, f"touch {marker}")
    status, body = by_cookie(server, cookie, "run_event", {"id": event["id"]})
    assert (status, body["code"]) == (403, "csrf"), body
    assert "POST" in body["description"]
    status, body = by_cookie(server, cookie, "run_event", {"id": event["id"]}, versioned=False)
    assert (status, body["code"]) == (200, "csrf"), body
    control = create_event(api)
    run_wait(api, control["id"])  # the server has handled everything sent before this
    assert job_count(api, event["id"]) == 0
    assert not marker.exists()


@pytest.mark.parametrize(
    ("namespace", "name"),
    [
        ("app", "delete_event"),
        ("app", "create_tag"),
        ("app", "update_global_state"),
        ("app", "abort_job"),
        ("app", "delete_job"),
        ("app", "flush_event_queue"),
        ("app", "resume_job"),
        ("app", "job_skip_delay"),
        ("app", "test_web_hook"),
        ("user", "logout"),
        ("user", "admin_delete"),
        ("user", "update"),
    ],
)
def test_cookie_get_of_state_changing_calls_is_refused(
    server: Server, api: Api, cookie: str, namespace: str, name: str
) -> None:
    """Every call outside the read-only list answers 403 `csrf` to a cookie GET, before its handler runs."""
    event = create_event(api)
    params = {"id": event["id"], "username": "admin", "title": uid("tag")}
    status, body = by_cookie(server, cookie, name, params, namespace=namespace)
    assert (status, body["code"]) == (403, "csrf"), body
    assert api.ok("get_event", {"id": event["id"]})["event"]["id"] == event["id"]
    status, body = by_cookie(server, cookie, "get_tags")
    assert (status, body["code"]) == (200, 0), "the session survives"


@pytest.mark.parametrize("name", ["get_events", "get_tags", "get_active_jobs", "search_activity", "get_categories"])
def test_cookie_get_of_read_only_calls_works(server: Server, cookie: str, name: str) -> None:
    """Read-only calls keep answering a cookie-authenticated GET."""
    status, body = by_cookie(server, cookie, name)
    assert (status, body["code"]) == (200, 0), body


def test_cookie_post_changes_state(server: Server, api: Api, cookie: str) -> None:
    """A same-origin cookie POST works (with or without `Origin` / `Sec-Fetch-Site: same-origin`)."""
    host = server.url.split("://", 1)[1]
    for headers in ({}, {"Origin": f"http://{host}"}, {"Sec-Fetch-Site": "same-origin"}):
        tag_id = uid("tag")
        status, body = by_cookie(
            server, cookie, "create_tag", {"id": tag_id, "title": "T"}, method="POST", headers=headers
        )
        assert (status, body["code"]) == (200, 0), (headers, body)
        assert api.ok("get_tag", {"id": tag_id})["tag"]["id"] == tag_id


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://["},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_cross_site_cookie_post_is_refused(server: Server, api: Api, cookie: str, headers: dict[str, str]) -> None:
    """A cookie POST from another site (`Origin` of another host, `Sec-Fetch-Site` not same-origin) is 403 `csrf`."""
    tag_id = uid("tag")
    status, body = by_cookie(server, cookie, "create_tag", {"id": tag_id, "title": "T"}, method="POST", headers=headers)
    assert (status, body["code"]) == (403, "csrf"), body
    assert api.error("get_tag", {"id": tag_id})[1] != 0


def test_cross_site_login_is_refused(server: Server) -> None:
    """A login posted from another site's page (login CSRF), or with a malformed Origin, is 403
    `csrf` and sets no cookie."""
    for headers in ({"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, {"Origin": "http://]"}):
        response = httpx.post(
            f"{server.url}/api/user/login/v1",
            json={"username": "admin", "password": ADMIN_PASSWORD},
            headers=headers,
            timeout=30,
        )
        assert (response.status_code, response.json()["code"]) == (403, "csrf"), response.text
        assert "session_id" not in response.cookies


def test_api_key_get_keeps_working(api: Api, tmp_path: Path) -> None:
    """Compatibility: an API key (header or query) may still run an event with GET."""
    marker = tmp_path / "ran"
    event = script_event(api, f"touch {marker}")
    job_id = api.ok("run_event", {"id": event["id"]}, method="GET")["id"]
    assert wait_job(api, job_id)["code"] == 0
    assert marker.exists()
    query_client = api.with_key(None)
    assert query_client.ok("get_events", method="GET", query={"api_key": api.key})["code"] == 0


def test_header_session_and_custom_header_get_keep_working(server: Server, api: Api, cookie: str) -> None:
    """A GET whose session comes from `X-Session-ID`, or a cookie GET carrying `X-Requested-With`, may run an event."""
    event = script_event(api, "true")
    response = httpx.get(
        f"{server.url}/api/app/run_event/v1", params={"id": event["id"]}, headers={"X-Session-ID": cookie}, timeout=30
    )
    assert response.json()["code"] == 0, response.text
    wait_job(api, response.json()["id"])
    status, body = by_cookie(server, cookie, "run_event", {"id": event["id"]}, headers={"X-Requested-With": "fetch"})
    assert (status, body["code"]) == (200, 0), body
    wait_job(api, body["id"])
    assert job_count(api, event["id"]) == 2


# the cookie itself


def set_cookie(response: httpx.Response) -> str:
    values = [v for k, v in response.headers.multi_items() if k.lower() == "set-cookie" and "session_id=" in v]
    assert len(values) == 1, response.headers
    return values[0]


def flags(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(";")[1:]}


def test_login_and_logout_cookie_flags(server: Server) -> None:
    """Login sets `HttpOnly; SameSite=Lax; Path=/` (no `Secure` over plain HTTP); logout clears it with the same flags."""
    response = login(server)
    header = set_cookie(response)
    assert {"httponly", "samesite=lax", "path=/"} <= flags(header), header
    assert "secure" not in flags(header)
    logout = httpx.post(
        f"{server.url}/api/user/logout/v1", headers={"X-Session-ID": response.json()["session_id"]}, timeout=30
    )
    cleared = set_cookie(logout)
    assert {"httponly", "samesite=lax", "path=/", "max-age=0"} <= flags(cleared), cleared


def test_cookie_is_secure_behind_a_trusted_tls_proxy(server_factory: StartServer, server: Server) -> None:
    """`X-Forwarded-Proto: https` from a listed proxy adds `Secure` (login and logout); from anyone else it is ignored."""
    proxied = server_factory("sqlite", env={"CRONWRIGHT_TRUSTED_PROXIES": "127.0.0.1,::1"})
    tls = {"X-Forwarded-Proto": "https"}
    response = login(proxied, tls)
    assert {"secure", "httponly", "samesite=lax"} <= flags(set_cookie(response))
    logout = httpx.post(
        f"{proxied.url}/api/user/logout/v1",
        headers={"X-Session-ID": response.json()["session_id"], **tls},
        timeout=30,
    )
    assert {"secure", "httponly", "max-age=0"} <= flags(set_cookie(logout))
    assert "secure" not in flags(set_cookie(login(server, tls)))


def test_read_only_list_names_real_read_calls() -> None:
    """The read-only allow-list names only existing calls, and none of the calls that change state."""
    names = {(e.namespace, e.name) for e in all_endpoints()}
    assert names >= READ_ONLY_ENDPOINTS, READ_ONLY_ENDPOINTS - names
    changing = {"run_event", "abort_job", "delete_job", "resume_job", "job_skip_delay", "flush_event_queue", "logout"}
    assert not {name for _, name in READ_ONLY_ENDPOINTS} & changing
    assert ("app", "get_events") in READ_ONLY_ENDPOINTS and ("user", "admin_get_users") in READ_ONLY_ENDPOINTS
