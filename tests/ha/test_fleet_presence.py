"""Every conductor chooses among every online server (docs/fleet.md, multi-conductor.md point 7):
an agent connected to conductor A is listed, selected and managed through conductor B; a job B
starts for it is sent to A (which holds its socket) and runs there; B waits for it, reads its log,
changes the server and deletes it, and A carries each out."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.agents.conftest import Agent, job_log
from tests.api.helpers import run_wait, script_event, start_job
from tests.ha.conftest import Fleet, wait_for


def agent_online(api: object, hostname: str) -> str:
    """The id of the agent reporting ``hostname``, once the conductor lists it."""
    rows = lambda: api.ok("get_active_servers")["rows"]  # type: ignore[attr-defined]  # noqa: E731
    return str(
        wait_for(f"agent {hostname} online", lambda: next((s["id"] for s in rows() if s["hostname"] == hostname), None))
    )


def conductor_id(api: object) -> str:
    rows = api.ok("get_conductors")["rows"]  # type: ignore[attr-defined]
    return str(next(r["id"] for r in rows if r["self"]))


def online(api: object, server_id: str) -> dict | None:
    rows = api.ok("get_active_servers")["rows"]  # type: ignore[attr-defined]
    return next((s for s in rows if s["id"] == server_id), None)


def test_an_agent_on_one_conductor_runs_jobs_started_on_another(fleet: Fleet, tmp_path: Path) -> None:
    a, b = fleet.start(2)
    api_a, api_b = a.client(), b.client()
    token = api_a.ok("get_satellite_token", {})["token"]
    agent = Agent(a.url, token, "faraway", tmp_path / "faraway")
    try:
        server_id = agent_online(api_a, "faraway")
        # B lists it (A published it) and says it is online
        listed = wait_for("the agent listed on B", lambda: online(api_b, server_id), timeout_s=10)
        assert listed["hostname"] == "faraway"
        assert api_b.ok("get_server", {"id": server_id})["online"] is True

        # a server change made through B reaches the jobs A runs there (userData → serverData)
        api_b.ok("update_server", {"id": server_id, "userData": {"colour": "teal"}})
        event = script_event(api_b, 'echo "job $JOB_ID colour=$server_data_colour"', targets=[server_id])
        job = run_wait(api_b, event["id"])  # started on B, run by A through the agent, awaited on B
        assert job["code"] == 0, job
        assert job["server"] == server_id
        assert job_log(api_b, job["id"]).decode() == f"job {job['id']} colour=teal\n"
        assert fleet.sql("SELECT owner FROM jobs WHERE id = %s", job["id"]) == [(conductor_id(api_a),)]

        # deleting it through B: A disconnects the agent (told to uninstall), no conductor lists it
        api_b.ok("delete_server", {"id": server_id})
        wait_for("the agent gone from A", lambda: online(api_a, server_id) is None, timeout_s=15)
        wait_for("the agent gone from B", lambda: online(api_b, server_id) is None, timeout_s=15)
        wait_for("the agent uninstalled", lambda: agent.proc.poll() is not None, timeout_s=15)
    finally:
        agent.stop(signal.SIGKILL)


def test_a_conductor_that_dies_takes_its_servers_off_the_others_lists(fleet: Fleet, tmp_path: Path) -> None:
    a, b = fleet.start(2)
    api_a, api_b = a.client(), b.client()
    token = api_a.ok("get_satellite_token", {})["token"]
    agent = Agent(a.url, token, "lonely", tmp_path / "lonely")
    try:
        server_id = agent_online(api_a, "lonely")
        wait_for("the agent listed on B", lambda: online(api_b, server_id), timeout_s=10)
        agent.send(signal.SIGSTOP)  # it cannot reconnect anywhere meanwhile
        fleet.kill(a)
        wait_for("the dead conductor's agent off B's list", lambda: online(api_b, server_id) is None, timeout_s=30)
        agent.send(signal.SIGCONT)  # it finds A gone and joins B (A advertised B)
        wait_for("the agent back on B", lambda: online(api_b, server_id), timeout_s=60)
        event = script_event(api_b, "echo here", targets=[server_id])
        job = run_wait(api_b, event["id"])
        assert job["code"] == 0, job
        assert fleet.sql("SELECT owner FROM jobs WHERE id = %s", job["id"]) == [(conductor_id(api_b),)]
    finally:
        agent.send(signal.SIGCONT)
        agent.stop(signal.SIGKILL)


def test_jobs_sent_to_a_conductor_that_dies_finish_with_their_result(fleet: Fleet, tmp_path: Path) -> None:
    """Jobs B sent to A (which holds their agent) finish on the agent right after A dies and the
    agent moves to B, before A's lease on them ran out: B takes them over when their final report
    arrives, and each ends with the agent's result (not stuck, not judged dead). A job that runs on
    past B's adoption keeps every log line the agent sent B before the adoption."""
    a, b = fleet.start(2)
    api_a, api_b = a.client(), b.client()
    token = api_a.ok("get_satellite_token", {})["token"]
    agent = Agent(a.url, token, "mover", tmp_path / "mover")
    try:
        server_id = agent_online(api_a, "mover")
        wait_for("the agent listed on B", lambda: online(api_b, server_id), timeout_s=10)
        event = script_event(api_b, "sleep 3; echo done $JOB_ID", targets=[server_id])
        jobs = [start_job(api_b, event["id"]) for _ in range(4)]
        # and one that prints all along, past the moment B adopts it (A's lease runs out)
        counting = "i=1; while [ $i -le 50 ]; do echo line-$i; i=$((i+1)); sleep 0.4; done"
        long_job = start_job(api_b, script_event(api_b, counting, targets=[server_id])["id"])
        for job_id in jobs:
            wait_for(
                "the job running", lambda job_id=job_id: api_b.ok("get_job", {"id": job_id})["job"]["state"] == "active"
            )
        wait_for("the long job running", lambda: api_b.ok("get_job", {"id": long_job})["job"]["state"] == "active")
        fleet.kill(a)
        final = wait_for(
            "the long job's final record",
            lambda: (job := api_b.ok("get_job", {"id": long_job})["job"]).get("final") and job,
            timeout_s=60,
        )
        assert final["code"] == 0, final
        # every line once: those A stored, those B held before it adopted the job, the rest
        assert job_log(api_b, long_job).decode() == "".join(f"line-{i}\n" for i in range(1, 51))
        for job_id in jobs:
            final = wait_for(
                "the job's final record",
                lambda job_id=job_id: (job := api_b.ok("get_job", {"id": job_id})["job"]).get("final") and job,
                timeout_s=60,
            )
            assert final["code"] == 0, final
            assert job_log(api_b, job_id).decode() == f"done {job_id}\n"
    finally:
        agent.stop(signal.SIGKILL)


def test_a_paused_conductor_lets_its_agents_jobs_run_on(fleet: Fleet, tmp_path: Path) -> None:
    """A is stopped (SIGSTOP) past its lease while its agent runs a job: B adopts the job, A comes
    back, finds the job gone and lets it run on (no abort sent to the agent); the job moves back
    to A (which holds the agent's socket) and ends with code 0 and its whole log."""
    a, b = fleet.start(2)
    api_a, api_b = a.client(), b.client()
    token = api_a.ok("get_satellite_token", {})["token"]
    agent = Agent(a.url, token, "sleeper", tmp_path / "sleeper")
    try:
        server_id = agent_online(api_a, "sleeper")
        counting = "i=1; while [ $i -le 60 ]; do echo line-$i; i=$((i+1)); sleep 0.5; done"
        job_id = start_job(api_a, script_event(api_a, counting, targets=[server_id])["id"])
        wait_for("the job running", lambda: api_a.ok("get_job", {"id": job_id})["job"]["state"] == "active")
        assert a.proc is not None
        fleet.kill(a, signal.SIGSTOP)
        try:
            wait_for(
                "B adopted the job",
                lambda: fleet.sql("SELECT owner FROM jobs WHERE id = %s", job_id) == [(conductor_id(api_b),)],
                timeout_s=40,
            )
        finally:
            fleet.kill(a, signal.SIGCONT)
        final = wait_for(
            "the job's final record",
            lambda: (job := api_b.ok("get_job", {"id": job_id})["job"]).get("final") and job,
            timeout_s=90,
        )
        assert final["code"] == 0, final
        assert job_log(api_b, job_id).decode() == "".join(f"line-{i}\n" for i in range(1, 61))
    finally:
        agent.stop(signal.SIGKILL)


def test_a_burst_through_another_conductor_respects_max_jobs(fleet: Fleet, tmp_path: Path) -> None:
    """An agent held by A with `maxJobs` 1 gets a burst of jobs started through B: B counts the
    jobs it sent until A's published count includes them, so the agent never runs two at once;
    the others wait in the queue and all end with code 0."""
    a, b = fleet.start(2)
    api_a, api_b = a.client(), b.client()
    token = api_a.ok("get_satellite_token", {})["token"]
    agent = Agent(a.url, token, "narrow", tmp_path / "narrow")
    try:
        server_id = agent_online(api_a, "narrow")
        api_a.ok("update_server", {"id": server_id, "maxJobs": 1})
        wait_for("the agent listed on B with its cap", lambda: (online(api_b, server_id) or {}).get("maxJobs") == 1)
        limits = [{"type": "job", "enabled": True, "amount": 4}, {"type": "queue", "enabled": True, "amount": 10}]
        event = script_event(api_b, "sleep 1.5", targets=[server_id], limits=limits)
        jobs = [start_job(api_b, event["id"]) for _ in range(4)]
        most = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            running = fleet.sql(
                "SELECT count(*) FROM jobs WHERE (doc::json)->>'server' = %s AND state = 'active'", server_id
            )[0][0]
            most = max(most, running)
            if all(api_b.ok("get_job", {"id": j})["job"].get("final") for j in jobs):
                break
            time.sleep(0.05)
        finals = [api_b.ok("get_job", {"id": j})["job"] for j in jobs]
        assert [j.get("code") for j in finals] == [0, 0, 0, 0], finals
        assert most == 1
    finally:
        agent.stop(signal.SIGKILL)


def test_abort_reaches_the_agent_before_its_job_is_taken_over(fleet: Fleet, tmp_path: Path) -> None:
    """A dies while its agent runs a job; the agent joins B. `abort_job` through B stops the
    process at once (B holds the agent's socket), before A's lease on the job ran out; the job then
    ends as aborted once B takes it over."""
    a, b = fleet.start(2)
    api_a, api_b = a.client(), b.client()
    token = api_a.ok("get_satellite_token", {})["token"]
    agent = Agent(a.url, token, "stopper", tmp_path / "stopper")
    beat = tmp_path / "beat"
    try:
        server_id = agent_online(api_a, "stopper")
        script = f"while true; do date +%s.%N > {beat}; sleep 0.1; done"
        job_id = start_job(api_a, script_event(api_a, script, targets=[server_id])["id"])
        wait_for("the job beating", beat.exists)
        fleet.kill(a)
        b_id = conductor_id(api_b)
        wait_for(
            "the agent on B", lambda: (online(api_b, server_id) or {}).get("id") and presence_of(fleet, b_id, server_id)
        )
        assert fleet.sql("SELECT owner FROM jobs WHERE id = %s", job_id) != [(b_id,)]  # not B's yet
        api_b.ok("abort_job", {"id": job_id})
        aborted = time.time()
        wait_for("the process stopped", lambda: time.time() - beat.stat().st_mtime > 1.0, timeout_s=5)
        assert beat.stat().st_mtime - aborted < 2.0
        final = wait_for(
            "the job's final record",
            lambda: (job := api_b.ok("get_job", {"id": job_id})["job"]).get("final") and job,
            timeout_s=60,
        )
        assert final["code"] == "abort", final
    finally:
        agent.stop(signal.SIGKILL)


def presence_of(fleet: Fleet, conductor: str, server_id: str) -> bool:
    """Whether ``conductor`` published ``server_id`` as held by it (its agent's socket is there)."""
    rows = fleet.sql("SELECT value FROM kv WHERE key = %s", f"server_presence:{conductor}")
    return bool(rows) and server_id in str(rows[0][0])
