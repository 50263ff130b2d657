"""A real fleet on this machine: `cronwright serve` and `cronwright agent` processes (several agents
on one machine through --hostname). Jobs run on the agent chosen by target; the log, progress and
result come back; abort reaches the process; a conductor restart reattaches a running job; a dead
agent's job ends with the dead-job error; a deleted server's agent is refused from then on."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.api.helpers import script_event, start_job, wait_job, wait_state
from tests.support.server import Api, Server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Agent:
    def __init__(self, url: str, token: str, hostname: str, data_dir: Path) -> None:
        self.hostname = hostname
        self.log = data_dir.parent / f"{hostname}.log"
        self._out = self.log.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cronwright", "agent", "--conductor", url, "--hostname", hostname,
             "--data-dir", str(data_dir)],
            env={"CRONWRIGHT_AGENT_TOKEN": token, "PATH": "/usr/bin:/bin", "HOME": str(data_dir.parent)},
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=70)
        finally:
            self._out.close()


def server_id_of(api: Api, hostname: str, timeout_s: float = 20) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        for server in api.ok("get_active_servers")["rows"]:
            if server["hostname"] == hostname:
                return str(server["id"])
        assert time.monotonic() < deadline, f"agent {hostname} never came online"
        time.sleep(0.1)


def wait_offline(api: Api, server_id: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while server_id in {s["id"] for s in api.ok("get_active_servers")["rows"]}:
        assert time.monotonic() < deadline, f"server {server_id} stayed online"
        time.sleep(0.1)


@pytest.fixture
def fleet(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, list[Agent]]]:
    """A conductor on a fixed port (it keeps it across a restart) and the agents a test starts.
    Its dead-job timeout is 4 s, or the ``dead_job_timeout`` marker's value."""
    marker = request.node.get_closest_marker("dead_job_timeout")
    dead_s = str(marker.args[0]) if marker else "4"
    port = free_port()
    server = Server(
        tmp_path / "conductor", env={"CRONWRIGHT_DEAD_JOB_TIMEOUT_S": dead_s}, args=["--port", str(port)]
    ).start()
    agents: list[Agent] = []
    yield server, agents
    for agent in agents:
        agent.stop(signal.SIGKILL)
    server.stop()


def start_agent(server: Server, agents: list[Agent], hostname: str, tmp_path: Path) -> tuple[Agent, str]:
    token = server.client().ok("get_satellite_token", {})["token"]
    agent = Agent(server.url, token, hostname, tmp_path / hostname)
    agents.append(agent)
    return agent, server_id_of(server.client(), hostname)


def test_jobs_run_on_the_targeted_agent(fleet: tuple[Server, list[Agent]], tmp_path: Path) -> None:
    server, agents = fleet
    api = server.client()
    _, first = start_agent(server, agents, "agent-one", tmp_path)
    _, second = start_agent(server, agents, "agent-two", tmp_path)
    script = (
        'echo "on $(hostname) pid $$"\necho \'{"xy":1,"progress":0.5}\'\necho \'{"xy":1,"data":{"n":7}}\'\necho done'
    )
    event = script_event(api, script, targets=[second])
    final = wait_job(api, start_job(api, event["id"]))
    assert final["code"] == 0, final
    assert final["server"] == second and final["data"] == {"n": 7}
    token = api.ok("get_job", {"id": final["id"]})["token"]
    text = api.http.get("/api/app/view_job_log/v1", params={"id": final["id"], "t": token}).text
    assert "done" in text and text.count("done") == 1
    assert "on " in text and first != second


def test_abort_reaches_the_agents_process(fleet: tuple[Server, list[Agent]], tmp_path: Path) -> None:
    server, agents = fleet
    api = server.client()
    _, server_id = start_agent(server, agents, "agent-abort", tmp_path)
    event = script_event(api, "echo started\nsleep 60", targets=[server_id])
    job_id = start_job(api, event["id"])
    live = wait_state(api, job_id, "active")
    deadline = time.monotonic() + 10
    while not live.get("pid"):
        assert time.monotonic() < deadline, live
        time.sleep(0.05)
        live = api.ok("get_job", {"id": job_id})["job"]
    aborted_at = time.monotonic()
    api.ok("abort_job", {"id": job_id})
    final = wait_job(api, job_id)
    assert final["code"] == "abort" and final["description"].startswith("Manually aborted by")
    assert not psutil.pid_exists(live["pid"]) or psutil.Process(live["pid"]).status() == psutil.STATUS_ZOMBIE
    assert time.monotonic() - aborted_at < 15


@pytest.mark.dead_job_timeout(60)  # the agent's reconnect backoff may outlast a short one
def test_a_conductor_restart_reattaches_a_running_job(fleet: tuple[Server, list[Agent]], tmp_path: Path) -> None:
    server, agents = fleet
    api = server.client()
    _, server_id = start_agent(server, agents, "agent-restart", tmp_path)
    event = script_event(api, "echo before\nsleep 3\necho after", targets=[server_id])
    job_id = start_job(api, event["id"])
    wait_state(api, job_id, "active")
    server.stop()
    server.start()
    final = wait_job(server.client(), job_id, timeout_s=40)
    assert final["code"] == 0, final
    token = server.client().ok("get_job", {"id": job_id})["token"]
    text = server.client().http.get("/api/app/view_job_log/v1", params={"id": job_id, "t": token}).text
    assert "after" in text


def test_a_killed_agent_ends_its_job_as_dead(fleet: tuple[Server, list[Agent]], tmp_path: Path) -> None:
    server, agents = fleet
    api = server.client()
    agent, server_id = start_agent(server, agents, "agent-dies", tmp_path)
    event = script_event(api, "sleep 60", targets=[server_id])
    job_id = start_job(api, event["id"])
    wait_state(api, job_id, "active")
    agent.stop(signal.SIGKILL)
    wait_offline(api, server_id)
    final = wait_job(api, job_id, timeout_s=30)
    assert final["code"] == "abort"
    assert final["description"] == "No updates received in last 2 minutes, assuming job is dead."


def test_a_deleted_server_cannot_rejoin(fleet: tuple[Server, list[Agent]], tmp_path: Path) -> None:
    server, agents = fleet
    api = server.client()
    agent, server_id = start_agent(server, agents, "agent-revoked", tmp_path)
    saved = (tmp_path / "agent-revoked" / "agent.json").read_bytes()
    api.ok("delete_server", {"id": server_id})
    wait_offline(api, server_id)
    assert agent.stop(signal.SIGCONT) == 0  # told to uninstall (SIGCONT: no signal of its own)
    (tmp_path / "agent-revoked" / "agent.json").write_bytes(saved)  # its credential, kept by an attacker
    again = Agent(server.url, "", "agent-revoked", tmp_path / "agent-revoked")
    agents.append(again)
    assert again.stop(signal.SIGCONT) == 2  # auth_failure: refused, never retried
    assert "Invalid authentication token" in again.log.read_text()
    assert server_id not in {s["id"] for s in api.ok("get_active_servers")["rows"]}
