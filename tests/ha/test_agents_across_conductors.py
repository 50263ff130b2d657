"""An agent's job follows the agent's socket across conductors (docs/fleet.md): when the agent
reconnects to another conductor while the job's conductor is alive, the job is handed over
(``handoff``) and completes there, with its whole log; a conductor that dies hands its agents'
jobs to whoever the agents reconnect to."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import psutil

from tests.api.helpers import script_event, start_job
from tests.ha.conftest import Fleet, wait_for
from tests.support.proxy import LinkProxy
from tests.support.server import Server

SCRIPT = "for i in $(seq 1 12); do echo line $i; sleep 0.5; done"
EXPECTED = "".join(f"line {i}\n" for i in range(1, 13))


def conductor_behind(fleet: Fleet, proxy: LinkProxy) -> Server:
    """A conductor that advertises the proxy's address (so agents reach it only through it)."""
    server = Server(fleet.data_dir, fleet.db_url, env={**fleet.env, "CRONWRIGHT_BASE_URL": proxy.url}).start()
    fleet.servers.append(server)
    assert server.proc is not None
    listening = [
        c.laddr.port for c in psutil.Process(server.proc.pid).net_connections("tcp") if c.status == psutil.CONN_LISTEN
    ]
    assert len(listening) == 1, listening
    proxy.target = ("127.0.0.1", listening[0])  # ``server.url`` is the advertised proxy address, not the real port
    server.url = f"http://127.0.0.1:{listening[0]}"
    return server


def test_a_running_job_follows_its_agent_to_another_conductor(fleet: Fleet, tmp_path: Path) -> None:
    proxy_a, proxy_b = LinkProxy(), LinkProxy()
    a, b = conductor_behind(fleet, proxy_a), conductor_behind(fleet, proxy_b)
    api_a, api_b = a.client(), b.client()
    wait_for("both conductors listed", lambda: fleet.live_count(a) == 2 and fleet.live_count(b) == 2)
    token = api_a.ok("get_satellite_token", {})["token"]
    log_path = tmp_path / "agent.log"
    with log_path.open("w") as out:
        agent = subprocess.Popen(
            [sys.executable, "-m", "cronwright", "agent", "--conductor", proxy_a.url, "--hostname", "roamer",
             "--data-dir", str(tmp_path / "agent")],
            env={"CRONWRIGHT_AGENT_TOKEN": token, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        server_id = wait_for(
            "the agent online on A",
            lambda: next((s["id"] for s in api_a.ok("get_active_servers")["rows"] if s["hostname"] == "roamer"), None),
        )
        event = script_event(api_a, SCRIPT, targets=[server_id])
        job_id = start_job(api_a, event["id"])
        wait_for("the job running on A", lambda: "line 2" in api_a.ok("tail_live_job_log", {"id": job_id})["text"])
        proxy_a.cut()  # A stays alive, but the agent can only reach B now
        wait_for(
            "the agent online on B",
            lambda: server_id in {s["id"] for s in api_b.ok("get_active_servers")["rows"]},
        )
        final = wait_for(
            "the job finished",
            lambda: (job := api_b.ok("get_job", {"id": job_id})["job"]).get("final") and job,
            timeout_s=60,
        )
        assert final["code"] == 0, final
        token_b = api_b.ok("get_job", {"id": job_id})["token"]
        text = api_b.http.get("/api/app/view_job_log/v1", params={"id": job_id, "t": token_b}).text
        assert text == EXPECTED  # byte for byte: nothing lost or doubled across the move
        assert fleet.sql("SELECT owner FROM jobs WHERE id = %s", job_id) == [(fleet_id(b),)]  # B finished it
        messages = " ".join(row.get("msg") or "" for row in final.get("activity") or [])
        assert "Resuming management of job" in messages
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        proxy_a.close()
        proxy_b.close()


def fleet_id(server: Server) -> str:
    rows = server.client().ok("get_conductors")["rows"]
    return str(next(r["id"] for r in rows if r["self"]))
