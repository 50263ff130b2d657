"""What a hostile agent (or client) found, and what must hold against it: frames the HTTP body
rules would refuse, metadata the token did not give, floods of unknown job ids and failed joins,
uploads after the end, token scope."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.agents.test_satellite_wire import SpecAgent, enrol, joined_agent, wait_online
from tests.api.helpers import make_key, script_event, start_job, wait_job
from tests.support.server import Server


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("hostile")).start()
    yield server
    server.stop()


def raw(agent: SpecAgent, text: str) -> None:
    assert agent.ws is not None
    agent.ws.send(text)


def test_frames_an_http_body_could_not_carry_are_ignored(fleet: Server) -> None:
    api = fleet.client()
    agent = joined_agent(fleet, "hostile-frames")
    event = script_event(api, "sleep 30", targets=[agent.server_id])
    job_id = start_job(api, event["id"])
    job = agent.expect("launch_job")["job"]
    deep: Any = "x"
    for _ in range(300):
        deep = {"d": deep}
    raw(agent, '{"cmd":"monitor","data":{"data":{"cpu":{"brand":"\\ud800x"}}}}')  # a lone surrogate
    raw(agent, json.dumps({"cmd": "monitor", "data": {"data": {"cpu": deep}}}))
    raw(agent, '{"cmd":"jobs","data":{"' + job_id + '":{"description":"\\udfff"}}}')
    agent.send("jobs", {job_id: {"custom": deep}})
    raw(agent, '{"cmd":"job_meta","data":{"id":"' + job_id + '","text":"\\ud800"}}')
    assert agent.ws is not None
    agent.ws.send(b"\x00binary")
    agent.send("jobs", {job_id: {**job, "progress": 0.25}})  # the socket still works
    deadline = time.monotonic() + 10
    while api.ok("get_job", {"id": job_id})["job"].get("progress") != 0.25:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    api.ok("get_active_servers")
    api.ok("get_server", {"id": agent.server_id})
    api.ok("get_active_jobs")
    assert agent.finish(job_id, {"code": 0})["code"] == 0
    assert wait_job(api, job_id)["code"] == 0
    assert "Traceback" not in "".join(fleet.output)
    agent.close()


def test_a_new_server_gets_its_tokens_metadata_not_its_own(fleet: Server) -> None:
    api = fleet.client()
    api.ok("create_group", {"id": "hostile_web", "title": "Web", "hostname_match": "^nothing$"})
    agent = enrol(fleet, "hostile-meta", enabled=False, groups=["hostile_web"], title="From token")
    wanted = {"enabled": True, "groups": ["main"], "maxJobs": 99, "title": "mine"}
    assert agent.connect(hello={**wanted, "initial": wanted})[0] == "joined"
    wait_online(api, agent.server_id)
    server = api.ok("get_server", {"id": agent.server_id})["server"]
    assert server["enabled"] is False and server["groups"] == ["hostile_web"] and server["title"] == "From token"
    assert server.get("maxJobs") in (0, None)
    agent.close()


def test_a_flood_of_unknown_job_ids_costs_little(fleet: Server) -> None:
    agent = joined_agent(fleet, "hostile-flood")
    agent.send("jobs", {f"jfake{i:05d}": {"state": "active"} for i in range(3000)})
    aborts = 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            cmd, _ = agent.frames.get(timeout=0.2)
        except Exception:
            continue
        aborts += cmd == "abort_job"
    assert 0 < aborts <= 20  # the orphans' processes are told to stop, a bounded number per frame
    start = time.monotonic()
    fleet.client().ok("get_events")
    assert time.monotonic() - start < 2
    agent.close()


def test_failed_joins_write_a_bounded_number_of_activity_rows(fleet: Server) -> None:
    api = fleet.client()
    before = api.ok("search_activity", {"query": "action:warning", "limit": 1000})["list"]["length"]
    base = "ws" + fleet.url.removeprefix("http") + "/"
    for _ in range(30):
        with connect(base, open_timeout=5) as ws:
            ws.send(json.dumps({"cmd": "hello", "data": {"id": "sflood0000000001", "hostname": "x"}}))
            ws.recv(timeout=5)
            ws.send(json.dumps({"cmd": "join", "data": {"token": "0" * 64}}))
            assert json.loads(ws.recv(timeout=5))["cmd"] == "auth_failure"
    after = api.ok("search_activity", {"query": "action:warning", "limit": 1000})["list"]["length"]
    assert 1 <= after - before <= 10


def test_uploads_after_the_end_are_refused(fleet: Server) -> None:
    api = fleet.client()
    agent = joined_agent(fleet, "hostile-late")
    event = script_event(api, "true", targets=[agent.server_id])
    job_id = start_job(api, event["id"])
    agent.expect("launch_job")
    assert agent.finish(job_id, {"code": 0})["code"] == 0
    wait_job(api, job_id)
    late = httpx.post(
        f"{fleet.url}/api/app/upload_job_file",
        data={"id": job_id, "auth": agent.auth, "server": agent.server_id},
        files={"file1": ("late.bin", io.BytesIO(b"x" * 1024))},
        timeout=10,
    ).json()
    assert late["code"] == "job"
    agent.close()


def test_a_group_limited_key_makes_tokens_for_its_groups_only(fleet: Server) -> None:
    api = fleet.client()
    api.ok("create_group", {"id": "hostile_mine", "title": "Mine", "hostname_match": "^nothing$"})
    limited, _ = make_key(api, {"add_servers": True}, groups=["hostile_mine"])
    _, code, _ = limited.error("get_satellite_token", {"groups": ["main"]})
    assert code == "access"
    _, code, _ = limited.error("get_satellite_token", {})
    assert code == "access"
    assert limited.ok("get_satellite_token", {"groups": ["hostile_mine"]})["token"]


def test_install_tokens_are_listed_and_revoked(fleet: Server) -> None:
    """Tokens are listed by id (never the token) and revoked; a revoked token enrols nobody; a
    non-admin sees and revokes only its own."""
    api = fleet.client()
    token = api.ok("get_satellite_token", {"title": "listed"})["token"]
    rows = api.ok("get_satellite_tokens")["rows"]
    mine = next(r for r in rows if r["params"].get("title") == "listed")
    assert token not in json.dumps(rows) and len(mine["id"]) == 16
    other, _ = make_key(api, {"add_servers": True})
    assert all(r["username"] != mine["username"] for r in other.ok("get_satellite_tokens")["rows"])
    _, code, _ = other.error("delete_satellite_token", {"id": mine["id"]})
    assert code == "notfound"
    assert httpx.get(f"{fleet.url}/api/app/satellite/config", params={"t": token}).json().get("server_id")
    api.ok("delete_satellite_token", {"id": mine["id"]})
    assert httpx.get(f"{fleet.url}/api/app/satellite/config", params={"t": token}).json()["code"] == "satellite"
    _, code, _ = api.error("delete_satellite_token", {"id": "../../etc"})
    assert code == "api"
