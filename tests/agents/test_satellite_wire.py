"""The conductor's side of the satellite wire protocol, driven by frames written from the spec
(servers-agents.md §4–§6) as a stock xySat agent would send them: enrolment, the handshake, a job
dispatched to the agent with its live reports, output upload and final report, abort, refusals,
and the dead-job rule for an agent that goes away."""

from __future__ import annotations

import io
import json
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.api.helpers import script_event, start_job, wait_job, wait_state
from tests.support.server import Api, Server


class SpecAgent:
    """A satellite speaking the wire protocol frame by frame (what a stock xySat agent sends)."""

    def __init__(self, server: Server, config: dict[str, Any], hostname: str) -> None:
        self.base = server.url
        self.server_id: str = config["server_id"]
        self.auth: str = config["auth_token"]
        self.hostname = hostname
        self.frames: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.ws: ClientConnection | None = None
        self.closed = threading.Event()

    def connect(self, token: str | None = None, hello: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """hello (with ``hello``'s extra keys) → hello {nonce} → join → the conductor's answer
        (``joined`` or ``auth_failure``)."""
        self.closed.clear()
        self.ws = connect("ws" + self.base.removeprefix("http") + "/", open_timeout=5).__enter__()
        info = {"satellite": "1.0.39"}
        self.send("hello", {**(hello or {}), "id": self.server_id, "hostname": self.hostname, "info": info})
        cmd, data = self._recv()
        assert cmd == "hello" and len(data["nonce"]) == 64 and data["id"] == self.server_id, (cmd, data)
        self.send("join", {"token": self.auth if token is None else token})
        answer = self._recv()
        if answer[0] == "joined":
            threading.Thread(target=self._pump, daemon=True).start()
        return answer

    def _recv(self) -> tuple[str, dict[str, Any]]:
        assert self.ws is not None
        frame = json.loads(self.ws.recv(timeout=10))
        return frame["cmd"], frame["data"]

    def _pump(self) -> None:
        assert self.ws is not None
        try:
            while True:
                cmd, data = self._recv()
                if cmd == "echo":
                    self.send("echoback", data)
                self.frames.put((cmd, data))
        except (ConnectionClosed, OSError, TimeoutError):
            pass
        finally:
            self.closed.set()

    def send(self, cmd: str, data: dict[str, Any]) -> None:
        assert self.ws is not None
        self.ws.send(json.dumps({"cmd": cmd, "data": data}))

    def expect(self, cmd: str, timeout_s: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {cmd} frame"
            got, data = self.frames.get(timeout=remaining)
            if got == cmd:
                return data

    def finish(self, job_id: str, report: dict[str, Any], log_size: int | None = None, **auth: Any) -> dict[str, Any]:
        body = {"id": job_id, "server": self.server_id, "auth": self.auth, "job": report, **auth}
        if log_size is not None:
            body["log_size"] = log_size
        return httpx.post(f"{self.base}/api/app/finish_job", json=body, timeout=10).json()

    def upload(self, job_id: str, name: str, content: bytes) -> dict[str, Any]:
        response = httpx.post(
            f"{self.base}/api/app/upload_job_file",
            data={"id": job_id, "auth": self.auth, "server": self.server_id},
            files={"file1": (name, io.BytesIO(content))},
            timeout=10,
        )
        return response.json()

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
            self.closed.wait(5)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("fleet"), env={"CRONWRIGHT_DEAD_JOB_TIMEOUT_S": "3"}).start()
    yield server
    server.stop()


def enrol(server: Server, hostname: str, **metadata: Any) -> SpecAgent:
    token = server.client().ok("get_satellite_token", metadata)["token"]
    response = httpx.get(f"{server.url}/api/app/satellite/config", params={"t": token}, timeout=10)
    assert response.status_code == 200, response.text
    config = response.json()
    assert set(config) >= {"server_id", "auth_token", "hosts", "initial"}
    assert server.url in config["hosts"]
    return SpecAgent(server, config, hostname)


def joined_agent(server: Server, hostname: str) -> SpecAgent:
    agent = enrol(server, hostname)
    cmd, data = agent.connect()
    assert cmd == "joined", data
    return agent


def wait_online(api: Api, server_id: str, online: bool = True) -> None:
    deadline = time.monotonic() + 10
    while (server_id in {s["id"] for s in api.ok("get_active_servers")["rows"]}) != online:
        assert time.monotonic() < deadline, f"server {server_id} never became {'online' if online else 'offline'}"
        time.sleep(0.05)


def test_enrol_join_run_report_and_finish(fleet: Server, tmp_path: Path) -> None:
    api = fleet.client()
    agent = enrol(fleet, "spec-one")
    cmd, joined = agent.connect()
    assert cmd == "joined"
    assert fleet.url in joined["masterData"]["masters"]
    assert "shellplug" in {p["id"] for p in joined["plugins"]}
    assert joined["features"]["api_finish_job"] is True
    wait_online(api, agent.server_id)
    server = next(s for s in api.ok("get_active_servers")["rows"] if s["id"] == agent.server_id)
    assert server["hostname"] == "spec-one"

    event = script_event(api, "echo never runs here", targets=[agent.server_id])
    job_id = start_job(api, event["id"])
    launch = agent.expect("launch_job")
    job = launch["job"]
    assert job["id"] == job_id and job["server"] == agent.server_id and job["state"] == "active"
    assert "echo never runs here" in job["params"]["script"] and "input" in launch["details"]

    agent.send("jobs", {job_id: {**job, "progress": 0.5, "pid": 4242, "status": "halfway"}})
    agent.send("job_log", {"id": job_id, "text": "line one\n", "offset": 0})
    agent.send("job_log", {"id": job_id, "text": "line one\n", "offset": 0})  # a replay: appended once
    agent.send("job_log", {"id": job_id, "text": "line two\n", "offset": 9})
    agent.send("job_meta", {"id": job_id, "text": "Spawned child process: PID 4242"})
    live = wait_state(api, job_id, "active")
    deadline = time.monotonic() + 10
    while live.get("progress") != 0.5:
        assert time.monotonic() < deadline, live
        time.sleep(0.05)
        live = api.ok("get_job", {"id": job_id})["job"]
    assert live["remote"] is True
    listed = next(s for s in api.ok("get_active_servers")["rows"] if s["id"] == agent.server_id)
    assert listed["info"]["monitors"]["active_jobs"] == 1  # the job count the algorithms and operators read

    uploaded = agent.upload(job_id, "Report Out.txt", b"report body")
    assert uploaded["code"] == 0 and uploaded["key"].startswith(f"files/jobs/{job_id}/"), uploaded
    answer = agent.finish(job_id, {**job, "code": 0, "description": "", "data": {"rows": 3}}, log_size=18)
    assert answer["code"] == 0, answer

    final = wait_job(api, job_id)
    assert final["code"] == 0 and final["data"] == {"rows": 3}
    listed = next(s for s in api.ok("get_active_servers")["rows"] if s["id"] == agent.server_id)
    assert listed["info"]["monitors"]["active_jobs"] == 0
    token = api.ok("get_job", {"id": job_id})["token"]
    text = httpx.get(f"{fleet.url}/api/app/view_job_log/v1", params={"id": job_id, "t": token}).text
    assert text.count("line one") == 1 and "line two" in text
    assert [f["path"] for f in final["files"]] == [uploaded["key"]]
    assert httpx.get(f"{fleet.url}/{uploaded['key']}").content == b"report body"
    assert any("Spawned child process" in (row.get("msg") or "") for row in final.get("activity") or [])
    agent.close()


def test_a_wrong_token_is_refused(fleet: Server) -> None:
    agent = enrol(fleet, "spec-wrong")
    cmd, data = agent.connect(token="0" * 64)
    assert cmd == "auth_failure" and data["description"] == "Invalid authentication token."
    assert agent.server_id not in {s["id"] for s in fleet.client().ok("get_active_servers")["rows"]}


def test_an_agent_cannot_finish_another_servers_job(fleet: Server) -> None:
    api = fleet.client()
    owner, other = joined_agent(fleet, "spec-owner"), joined_agent(fleet, "spec-other")
    event = script_event(api, "echo x", targets=[owner.server_id])
    job_id = start_job(api, event["id"])
    owner.expect("launch_job")
    answer = other.finish(job_id, {"code": 0})
    assert answer["code"] == "auth" and answer["description"] == "Authentication failure"
    forged = owner.finish(job_id, {"code": 0}, auth=other.auth)  # the owner's id with another's token
    assert forged["code"] == "auth"
    assert api.ok("get_job", {"id": job_id})["job"]["state"] == "active"
    assert owner.finish(job_id, {"code": 0})["code"] == 0
    assert wait_job(api, job_id)["code"] == 0
    owner.close()
    other.close()


def test_abort_reaches_the_agent(fleet: Server) -> None:
    api = fleet.client()
    agent = joined_agent(fleet, "spec-abort")
    event = script_event(api, "sleep 60", targets=[agent.server_id])
    job_id = start_job(api, event["id"])
    agent.expect("launch_job")
    api.ok("abort_job", {"id": job_id})
    abort = agent.expect("abort_job", timeout_s=2)
    assert abort["id"] == job_id and abort["reason"].startswith("Manually aborted by")
    agent.finish(job_id, {"code": "abort", "description": abort["reason"]})
    final = wait_job(api, job_id)
    assert final["code"] == "abort" and final["description"] == abort["reason"]
    agent.close()


def test_a_vanished_agent_ends_its_jobs_as_dead(fleet: Server) -> None:
    api = fleet.client()
    agent = joined_agent(fleet, "spec-vanish")
    event = script_event(api, "sleep 60", targets=[agent.server_id])
    job_id = start_job(api, event["id"])
    agent.expect("launch_job")
    agent.close()
    wait_online(api, agent.server_id, online=False)
    final = wait_job(api, job_id, timeout_s=20)
    assert final["code"] == "abort"
    assert final["description"] == "No updates received in last 2 minutes, assuming job is dead."
    assert any("Lost connection to remote server" in (row.get("msg") or "") for row in final.get("activity") or [])


def test_enrolment_needs_a_live_token(fleet: Server) -> None:
    response = httpx.get(f"{fleet.url}/api/app/satellite/config", params={"t": "f" * 64}, timeout=10)
    assert response.json()["code"] == "satellite"
    assert httpx.get(f"{fleet.url}/api/app/satellite/install", params={"t": "x"}).json()["code"] == "satellite"
    _, code, _ = fleet.client().with_key(None).error("get_satellite_token", {})
    assert code == "session"


def test_no_token_reaches_the_log(fleet: Server) -> None:
    agent = joined_agent(fleet, "spec-quiet")
    agent.close()
    output = "\n".join(fleet.output)
    assert agent.auth not in output
