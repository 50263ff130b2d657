"""Shared pieces of the fleet tests: a real ``cronwright serve`` (SQLite) and real ``cronwright
agent`` processes on this machine (several through ``--hostname``), driven over HTTP only.

The approach of ``test_agent_fleet.py`` (its ``Agent``, ``fleet``, ``start_agent``,
``server_id_of``), gathered in a ``Fleet`` object so a module can share one conductor and its
agents (each module makes its own ``fleet`` fixture from it), and an agent can be pointed at
another URL (a proxy) than the conductor's."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.support.server import Api, Server

T = TypeVar("T")


def free_port() -> int:
    """A port free now on 127.0.0.1 (for a conductor that must keep its port across a restart)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], T | None], timeout_s: float, what: str, poll_s: float = 0.05) -> T:
    """Poll ``condition`` until it returns a truthy value (returned) or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(poll_s)


class Agent:
    """One ``cronwright agent`` process with its own data directory and host name."""

    def __init__(self, conductor_url: str, token: str, hostname: str, data_dir: Path) -> None:
        self.hostname = hostname
        self.data_dir = data_dir
        self.server_id = ""
        self.log = data_dir.parent / f"{hostname}.log"
        self._out = self.log.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cronwright", "agent", "--conductor", conductor_url, "--hostname", hostname,
             "--data-dir", str(data_dir)],
            env={"CRONWRIGHT_AGENT_TOKEN": token, "PATH": "/usr/bin:/bin", "HOME": str(data_dir.parent)},
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, sig: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.send(sig)
        if sig == signal.SIGKILL or self.proc.poll() is not None:
            code = self.proc.wait(timeout=10)
        else:
            try:
                code = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                code = self.proc.wait(timeout=10)
        self._out.close()
        return code


def online_ids(api: Api) -> set[str]:
    return {str(s["id"]) for s in api.ok("get_active_servers")["rows"]}


def active_server(api: Api, server_id: str) -> dict[str, Any] | None:
    return next((s for s in api.ok("get_active_servers")["rows"] if s["id"] == server_id), None)


def server_id_of(api: Api, hostname: str, timeout_s: float = 20) -> str:
    """The id of the online server reporting ``hostname`` (waits until it is online)."""

    def find() -> str | None:
        return next((str(s["id"]) for s in api.ok("get_active_servers")["rows"] if s["hostname"] == hostname), None)

    return wait_for(find, timeout_s, f"agent {hostname} online", poll_s=0.1)


def wait_offline(api: Api, server_id: str, timeout_s: float = 40) -> None:
    wait_for(lambda: server_id not in online_ids(api), timeout_s, f"server {server_id} offline", poll_s=0.1)


class Fleet:
    """A conductor and the agents started on it (stopped by ``close``)."""

    def __init__(self, root: Path, env: dict[str, str] | None = None, args: list[str] | None = None) -> None:
        self.root = root
        env = {"CRONWRIGHT_DEAD_JOB_TIMEOUT_S": "20", **(env or {})}
        self.server = Server(root / "conductor", env=env, args=args).start()
        self.api = self.server.client()
        self.agents: list[Agent] = []

    def start_agent(self, hostname: str, conductor_url: str | None = None, wait: bool = True) -> Agent:
        """A new agent enrolled with a fresh install token; with ``wait``, once it is online."""
        token = self.api.ok("get_satellite_token", {})["token"]
        agent = Agent(conductor_url or self.server.url, token, hostname, self.root / hostname)
        self.agents.append(agent)
        if wait:
            agent.server_id = server_id_of(self.api, hostname)
        return agent

    def close(self) -> None:
        for agent in self.agents:
            if agent.proc.poll() is None:
                agent.send(signal.SIGCONT)  # a stopped agent cannot die of SIGKILL's cleanup otherwise
                agent.stop(signal.SIGKILL)
        self.server.stop()


def job_log(api: Api, job_id: str) -> bytes:
    """The stored log of a job (``view_job_log`` with the job's token)."""
    token = api.ok("get_job", {"id": job_id})["token"]
    response = api.http.get("/api/app/view_job_log/v1", params={"id": job_id, "t": token})
    assert response.status_code == 200, response.text
    return response.content
