"""A real fleet on this machine: `cronwright serve` and `cronwright agent` processes (several agents
on one machine through --hostname). Jobs run on the agent chosen by target; the log, progress and
result come back; abort reaches the process; a conductor restart reattaches a running job; a dead
agent's job ends with the dead-job error; a deleted server's agent is refused from then on."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.agents.conftest import Agent, Fleet, free_port, job_log, online_ids, wait_offline
from tests.api.helpers import script_event, start_job, wait_job, wait_state


@pytest.fixture
def fleet(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Fleet]:
    """A conductor on a fixed port (it keeps it across a restart) and the agents a test starts.
    Its dead-job timeout is 4 s, or the ``dead_job_timeout`` marker's value."""
    marker = request.node.get_closest_marker("dead_job_timeout")
    dead_s = str(marker.args[0]) if marker else "4"
    made = Fleet(tmp_path, env={"CRONWRIGHT_DEAD_JOB_TIMEOUT_S": dead_s}, args=["--port", str(free_port())])
    try:
        yield made
    finally:
        made.close()


def test_jobs_run_on_the_targeted_agent(fleet: Fleet) -> None:
    api = fleet.api
    first = fleet.start_agent("agent-one").server_id
    second = fleet.start_agent("agent-two").server_id
    script = (
        'echo "on $(hostname) pid $$"\necho \'{"xy":1,"progress":0.5}\'\necho \'{"xy":1,"data":{"n":7}}\'\necho done'
    )
    event = script_event(api, script, targets=[second])
    final = wait_job(api, start_job(api, event["id"]))
    assert final["code"] == 0, final
    assert final["server"] == second and final["data"] == {"n": 7}
    text = job_log(api, final["id"]).decode()
    assert "done" in text and text.count("done") == 1
    assert "on " in text and first != second


def test_abort_reaches_the_agents_process(fleet: Fleet) -> None:
    api = fleet.api
    server_id = fleet.start_agent("agent-abort").server_id
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
def test_a_conductor_restart_reattaches_a_running_job(fleet: Fleet) -> None:
    api = fleet.api
    server_id = fleet.start_agent("agent-restart").server_id
    event = script_event(api, "echo before\nsleep 3\necho after", targets=[server_id])
    job_id = start_job(api, event["id"])
    wait_state(api, job_id, "active")
    fleet.server.stop()
    fleet.server.start()  # the same port: the agent reconnects to it
    api = fleet.api = fleet.server.client()
    final = wait_job(api, job_id, timeout_s=40)
    assert final["code"] == 0, final
    assert b"after" in job_log(api, job_id)


def test_a_killed_agent_ends_its_job_as_dead(fleet: Fleet) -> None:
    api = fleet.api
    agent = fleet.start_agent("agent-dies")
    server_id = agent.server_id
    event = script_event(api, "sleep 60", targets=[server_id])
    job_id = start_job(api, event["id"])
    wait_state(api, job_id, "active")
    agent.stop(signal.SIGKILL)
    wait_offline(api, server_id)
    final = wait_job(api, job_id, timeout_s=30)
    assert final["code"] == "abort"
    assert final["description"] == "No updates received in last 2 minutes, assuming job is dead."


def test_a_deleted_server_cannot_rejoin(fleet: Fleet) -> None:
    api = fleet.api
    agent = fleet.start_agent("agent-revoked")
    server_id = agent.server_id
    saved = (agent.data_dir / "agent.json").read_bytes()
    api.ok("delete_server", {"id": server_id})
    wait_offline(api, server_id)
    assert agent.stop(signal.SIGCONT) == 0  # told to uninstall (SIGCONT: no signal of its own)
    (agent.data_dir / "agent.json").write_bytes(saved)  # its credential, kept by an attacker
    again = Agent(fleet.server.url, "", "agent-revoked", agent.data_dir)
    fleet.agents.append(again)
    assert again.stop(signal.SIGCONT) == 2  # auth_failure: refused, never retried
    assert "Invalid authentication token" in again.log.read_text()
    assert server_id not in online_ids(api)
