"""The server APIs over HTTP against real server processes (servers-agents.md §9): listing, one
server online or offline, updates with coercion and scope, deletion, and `local_worker = false`.
Offline servers are planted in the database as an earlier agent's join would have left them."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cronwright.engine.conductor import Conductor
from cronwright.store.sql.store import SqlStore
from tests.api.helpers import make_key, run_wait, script_event, uid
from tests.conftest import StartServer
from tests.support.server import Api, Server

LOCAL_REFUSED = "The conductor's own server cannot be deleted (set local_worker = false instead)."


@pytest.fixture(scope="module")
def own(server_factory: StartServer) -> Server:
    """A server of this module's own: its tests change the local server's record."""
    return server_factory("sqlite")


@pytest.fixture(scope="module")
def admin(own: Server) -> Api:
    return own.client()


@pytest.fixture
def plant(own: Server) -> Iterator[Callable[..., str]]:
    """Stores an offline server record (as a disconnected agent leaves it); returns its id."""
    store = SqlStore.open(own.database_url)

    def plant(**fields: Any) -> str:
        server_id = uid("s")
        doc = {
            "id": server_id,
            "hostname": f"host-{server_id}",
            "ip": "10.9.8.7",
            "enabled": True,
            "autoGroup": False,
            "groups": ["main"],
            "maxJobs": 0,
            "userData": {},
            "created": 1_700_000_000,
            "modified": 1_700_000_000,
            "info": {"cpu": {"brand": "EPYC"}},
            **fields,
        }
        with store.write() as writer:
            writer.insert_doc("servers", doc)
        return server_id

    yield plant
    store.close()


def local_server(api: Api) -> dict[str, Any]:
    return api.ok("get_server", {"id": api.ok("get_active_servers")["rows"][0]["id"]})["server"]


def wait_for(what: str, check: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# ---- reading (the shared servers: nothing is changed)


def test_active_servers_and_one_server(api: Api) -> None:
    """get_active_servers lists the local server with live figures; get_active_server and get_server
    answer it (`online: true`, `data: {}` without a minute sample)."""
    rows = api.ok("get_active_servers")["rows"]
    local = rows[0]
    assert local["info"]["cpu"]["cores"] >= 1 and local["enabled"] is True
    assert api.ok("get_active_server", {"id": local["id"]})["server"]["id"] == local["id"]
    body = api.ok("get_server", {"id": local["id"]})
    assert body["online"] is True and body["data"] == {} and body["server"]["id"] == local["id"]
    assert body["server"]["info"]["cpu"]["cores"] >= 1
    assert api.ok("get_server", method="GET", query={"id": local["id"]})["online"] is True


@pytest.mark.parametrize("endpoint", ["get_active_server", "get_server", "update_server", "delete_server"])
@pytest.mark.parametrize(
    "bad_id", [None, "", "Bad-Id", "../x", 5, True, ["a"], {"a": 1}, "x\u00e9", "x" * 10_000 + "!"]
)
def test_bad_ids_are_api_errors(api: Api, endpoint: str, bad_id: Any) -> None:
    """A missing or malformed `id` is `api` (400), never a 5xx."""
    params = {} if bad_id is None else {"id": bad_id}
    status, code, _ = api.error(endpoint, params)
    assert (status, code) == (400, "api")


@pytest.mark.parametrize("endpoint", ["get_active_server", "get_server", "update_server", "delete_server"])
@pytest.mark.parametrize("length", [10, 10_000])
def test_unknown_server(api: Api, endpoint: str, length: int) -> None:
    """An unknown id (even a huge one) is `notfound` "Failed to locate server: ID"."""
    missing = uid("snope").ljust(length, "z")
    assert api.error(endpoint, {"id": missing}) == (404, "notfound", f"Failed to locate server: {missing}")


def test_privileges(api: Api) -> None:
    """Reading needs any identity; update_server needs `update_servers`; delete_server `admin`;
    no credentials is `session`."""
    local_id = api.ok("get_active_servers")["rows"][0]["id"]
    reader, _ = make_key(api, {})
    reader.ok("get_active_servers")
    reader.ok("get_server", {"id": local_id})
    status, code, text = reader.error("update_server", {"id": local_id, "title": "x"})
    assert (status, code) == (403, "access") and "Update Servers" in text
    updater, _ = make_key(api, {"update_servers": True})
    assert updater.error("delete_server", {"id": local_id})[:2] == (403, "access")
    anonymous = api.with_key(None)
    for endpoint in ("get_active_servers", "get_server", "update_server", "delete_server"):
        assert anonymous.error(endpoint, {"id": local_id})[1] == "session"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"enabled": "maybe"}, "Malformed server parameter: enabled"),
        ({"autoGroup": 7}, "Malformed server parameter: autoGroup"),
        ({"maxJobs": -1}, "Malformed server parameter: maxJobs"),
        ({"maxJobs": 1.5}, "Malformed server parameter: maxJobs"),
        ({"maxJobs": 10**40}, "Malformed server parameter: maxJobs"),
        ({"maxJobs": "lots"}, "Malformed server parameter: maxJobs"),
        ({"groups": "main"}, "Malformed server parameter: groups (must be array)"),
        ({"groups": [{"id": "main"}]}, "Malformed server parameter: groups"),
        ({"userData": "x"}, "Malformed server parameter: userData"),
        ({"title": ["x"]}, "Malformed server parameter: title"),
    ],
)
def test_update_server_malformed(api: Api, params: dict[str, Any], message: str) -> None:
    """A bad value is `api` with the spec's text, and nothing is changed."""
    local_id = api.ok("get_active_servers")["rows"][0]["id"]
    assert api.error("update_server", {"id": local_id, **params}) == (400, "api", message)


def test_local_server_not_deletable(api: Api) -> None:
    """Deleting the conductor's own server is a `server` error (400) naming the setting to use."""
    local_id = api.ok("get_active_servers")["rows"][0]["id"]
    assert api.error("delete_server", {"id": local_id}) == (400, "server", LOCAL_REFUSED)
    assert api.ok("get_active_server", {"id": local_id})["server"]["id"] == local_id


# ---- changing records (this module's own server)


def test_update_local_server(admin: Api) -> None:
    """update_server coerces the booleans, applies only its fields, is seen at once by
    get_active_servers, and logs `server_update`."""
    local = local_server(admin)
    admin.ok(
        "update_server",
        {"id": local["id"], "enabled": "false", "maxJobs": "3", "title": "Here", "hostname": "evil", "ip": "1.1.1.1"},
    )
    active = admin.ok("get_active_servers")["rows"][0]
    assert (active["enabled"], active["maxJobs"], active["title"]) == (False, 3, "Here")
    assert (active["hostname"], active["ip"]) == (local["hostname"], local["ip"])
    admin.ok("update_server", {"id": local["id"], "enabled": "1", "maxJobs": 0, "userData": {"rack": "a1"}})
    active = admin.ok("get_active_servers")["rows"][0]
    assert (active["enabled"], active["maxJobs"], active["userData"]) == (True, 0, {"rack": "a1"})
    rows = admin.ok("search_activity", {"query": f"action:server_update keywords:{local['id']}", "limit": 5})["rows"]
    assert rows and rows[0]["updates"] == {"enabled": True, "maxJobs": 0, "userData": {"rack": "a1"}}


def test_server_user_data_reaches_its_jobs(admin: Api) -> None:
    """A server's `userData` is given to the jobs it runs as `serverData` (`server_data_<key>`)."""
    local = local_server(admin)
    admin.ok("update_server", {"id": local["id"], "userData": {"rack": "b7", "zone": "cold aisle"}})
    try:
        event = script_event(admin, 'echo "rack=$server_data_rack zone=$server_data_zone"', targets=[local["id"]])
        job = run_wait(admin, event["id"])
        token = admin.ok("get_job", {"id": job["id"]})["token"]
        text = admin.http.get("/api/app/view_job_log/v1", params={"id": job["id"], "t": token}).text
        assert text == "rack=b7 zone=cold aisle\n"
    finally:
        admin.ok("update_server", {"id": local["id"], "userData": {}})


def test_manual_then_auto_groups(admin: Api) -> None:
    """`autoGroup: false` with `groups` assigns them; `autoGroup: true` recomputes from the host name."""
    group = uid("g")
    admin.ok("create_group", {"id": group, "title": "Manual", "hostname_match": "^no-such-host$"})
    local_id = local_server(admin)["id"]
    admin.ok("update_server", {"id": local_id, "autoGroup": False, "groups": [group, "main"]})
    assert admin.ok("get_active_servers")["rows"][0]["groups"] == [group, "main"]
    admin.ok("update_server", {"id": local_id, "autoGroup": "true"})
    groups = admin.ok("get_active_servers")["rows"][0]["groups"]
    assert "main" in groups and group not in groups


def test_group_limited_scope(admin: Api, plant: Callable[..., str]) -> None:
    """A key limited to group G sees and updates G's servers only, and may assign only G."""
    group = uid("g")
    admin.ok("create_group", {"id": group, "title": "Mine", "hostname_match": "^no-such-host$"})
    mine, other = plant(groups=[group]), plant(groups=["main"])
    limited, _ = make_key(admin, {"update_servers": True}, groups=[group])
    body = limited.ok("get_server", {"id": mine})
    assert body["online"] is False and body["server"]["info"]["cpu"]["brand"] == "EPYC"
    assert limited.error("get_server", {"id": other}) == (
        403,
        "access",
        "You do not have the required account privileges to access targets: main.",
    )
    local_id = admin.ok("get_active_servers")["rows"][0]["id"]
    assert limited.error("get_active_server", {"id": local_id})[:2] == (404, "notfound")
    assert local_id not in [s["id"] for s in limited.ok("get_active_servers")["rows"]]
    assert limited.error("update_server", {"id": other, "title": "x"}) == (
        403,
        "access",
        f"You do not have the required account privileges to access server ID {other}.",
    )
    assert limited.error("update_server", {"id": mine, "groups": [group, "main"]}) == (
        403,
        "access",
        "You do not have the required account privileges to assign the requested server groups.",
    )
    limited.ok("update_server", {"id": mine, "title": "Renamed", "maxJobs": 2})
    server = admin.ok("get_server", {"id": mine})["server"]
    assert (server["title"], server["maxJobs"], server["groups"]) == ("Renamed", 2, [group])


def test_delete_offline_server(admin: Api, plant: Callable[..., str]) -> None:
    """Deleting an offline server removes its record (with or without `history`) and logs
    `server_delete`; a second delete is `notfound`."""
    first, second = plant(), plant()
    assert admin.ok("get_server", {"id": first})["online"] is False
    admin.ok("delete_server", {"id": first})
    admin.ok("delete_server", {"id": second, "history": True})
    for server_id in (first, second):
        assert admin.error("get_server", {"id": server_id})[:2] == (404, "notfound")
        assert admin.error("delete_server", {"id": server_id})[:2] == (404, "notfound")
    rows = admin.ok("search_activity", {"query": f"action:server_delete keywords:{first}", "limit": 5})["rows"]
    assert len(rows) == 1


def test_update_offline_server(admin: Api, plant: Callable[..., str]) -> None:
    """An offline record can be updated; it stays offline and out of get_active_servers."""
    server_id = plant()
    admin.ok("update_server", {"id": server_id, "enabled": False})
    body = admin.ok("get_server", {"id": server_id})
    assert body["online"] is False and body["server"]["enabled"] is False
    assert server_id not in [s["id"] for s in admin.ok("get_active_servers")["rows"]]
    assert admin.error("get_active_server", {"id": server_id})[:2] == (404, "notfound")


# ---- local_worker = false


@pytest.mark.skipif(
    "local_worker" not in inspect.getsource(Conductor),
    reason="conductor.py does not pass settings.local_worker to ServerRegistry yet (the wiring is not this module's)",
)
def test_local_worker_off_hides_the_local_server(server_factory: StartServer) -> None:
    """With `local_worker = false` the conductor's machine is not a server: nothing is listed, and
    its id is unknown."""
    quiet = server_factory("sqlite", env={"CRONWRIGHT_LOCAL_WORKER": "false"})
    api = quiet.client()
    wait_for("the server to answer", lambda: api.call("ping")[0] == 200)
    body = api.ok("get_active_servers")
    assert body["rows"] == [] and body["list"] == {"length": 0}
