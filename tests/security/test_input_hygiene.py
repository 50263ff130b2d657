"""Cheap answers to costly input (issue 8 review): requests that are validated before they are
authenticated must not let an anonymous client stall the server, and names that end up in paths
cannot climb out of the storage directory."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import httpx

from cronwright.engine.jobs.filestore import FileStore
from tests.api.helpers import event_payload, uid
from tests.support.server import Api, Server

#: a client-side deadline: the requests below used to take hours (regex) or minutes (query)
DEADLINE_S = 30


def test_anonymous_catastrophic_regex_cannot_stall_the_server(server: Server, api: Api) -> None:
    """An anonymous `create_event` whose field regex backtracks catastrophically on its own trigger
    params is answered at once (user regexes run in linear time), and other calls go on meanwhile."""
    payload = event_payload(
        id=uid("ev"),
        plugin="testplug",
        params={"duration": 0},
        fields=[{"id": "zz", "title": "Z", "type": "text", "regex": "^(a+)+$", "value": ""}],
        triggers=[{"type": "manual", "enabled": True, "params": {"zz": "a" * 40 + "!"}}],
    )
    answers: list[httpx.Response] = []
    thread = threading.Thread(
        target=lambda: answers.append(
            httpx.post(f"{server.url}/api/app/create_event/v1", json=payload, timeout=DEADLINE_S)
        )
    )
    thread.start()
    assert api.ok("get_events")["code"] == 0
    thread.join(DEADLINE_S)
    assert answers, "the anonymous request did not finish"
    assert answers[0].json()["code"] == "api" and "value is invalid" in answers[0].json()["description"]


def test_huge_activity_queries_are_refused_cheaply(server: Server) -> None:
    """A 60,000-character `search_activity` query (anonymous, parsed before authentication) answers
    a 400 `api` at once instead of scanning it in quadratic time."""
    response = httpx.get(f"{server.url}/api/app/search_activity/v1", params={"query": "x" * 60_000}, timeout=DEADLINE_S)
    assert response.status_code == 400 and "longer than" in response.json()["description"]


def test_user_names_cannot_climb_out_of_storage(api: Api, tmp_path: Path) -> None:
    """New user names must start with a letter, digit or `_`; and whatever names reach the file store
    (older users) become a `~<digest>` segment, so `..` never becomes a path part of an upload."""
    for name in ("..", ".", ".git", "-rf"):
        response = api.http.post(
            "/api/user/admin_create/v1",
            json={"username": name, "password": "long-enough-pw-1"},
            headers={"X-API-Key": str(api.key)},
        )
        assert response.status_code == 400 and response.json()["code"] == "api", name
    store = FileStore(tmp_path)
    for owner in ("..", "../..", "a/../.."):
        input_key, _size = store.input_batch(owner).store(io.BytesIO(b"data"), "x.txt")
        user_key, _size = store.store_user_file(io.BytesIO(b"data"), owner=owner, filename="x.txt")
        for key in (input_key, user_key):
            path = store.path_of(key)
            assert ".." not in key.split("/") and key.split("/")[1].startswith("~"), key
            assert path is not None and path.is_file()
            assert path.resolve().is_relative_to((tmp_path / "files").resolve())


def test_anonymous_nested_repeat_regex_is_answered_at_once(server: Server) -> None:
    """A short field regex of 38 nested repeats (compiling it used to double in cost per level: hours
    at this depth) is answered, before authentication, with the ordinary anonymous refusal."""
    depth = 38
    payload = event_payload(
        id=uid("ev"),
        plugin="testplug",
        params={"duration": 0},
        fields=[{"id": "zz", "title": "Z", "type": "text", "regex": "(" * depth + "a" + "){1}" * depth, "value": ""}],
        triggers=[{"type": "manual", "enabled": True}],
    )
    response = httpx.post(f"{server.url}/api/app/create_event/v1", json=payload, timeout=DEADLINE_S)
    assert response.status_code == 403 and response.json()["code"] == "session"


def test_form_bodies_with_too_many_fields_are_refused(server: Server) -> None:
    """A urlencoded body of 100,000 repeated keys is refused with a clear 400 (parsing it used to
    copy a growing list per key, minutes of blocked event loop per request); a query string the same."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = httpx.post(
        f"{server.url}/api/app/ping/v1", content=b"a=&" * 100_000, headers=headers, timeout=DEADLINE_S
    )
    assert response.status_code == 400
    assert response.json() == {"code": "api", "description": "Too many fields in the form body (limit 10000)."}
    response = httpx.get(f"{server.url}/api/app/ping/v1?" + "a=&" * 12_000, timeout=DEADLINE_S)
    assert response.status_code == 400 and "query string" in response.json()["description"]
    fine = httpx.post(f"{server.url}/api/app/ping/v1", content=b"a=1&" * 5_000, headers=headers, timeout=DEADLINE_S)
    assert fine.json()["code"] == 0
