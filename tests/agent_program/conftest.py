"""Fixtures for the agent tests: a fake conductor and ``cronwright agent`` as a real subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.agent_program.fake_conductor import FakeConductor, wait_until


class AgentProcess:
    def __init__(self, args: list[str], log_path: Path, extra_env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRONWRIGHT_")}
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra_env or {})
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cronwright", "agent", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )

    @property
    def output(self) -> str:
        return self.log_path.read_text("utf-8", "replace")

    def wait_exit(self, timeout_s: float) -> int:
        return self.process.wait(timeout_s)

    def stop(self, timeout_s: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout_s)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


StartAgent = Callable[..., AgentProcess]


@pytest.fixture
def conductor() -> Iterator[FakeConductor]:
    fake = FakeConductor().start()
    yield fake
    fake.stop()


@pytest.fixture
def start_agent(tmp_path: Path) -> Iterator[StartAgent]:
    """Starts ``cronwright agent`` subprocesses (killed at the end if still running); ``env`` adds
    environment variables."""
    agents: list[AgentProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> AgentProcess:
        agent = AgentProcess(list(args), tmp_path / f"agent-{len(agents)}.log", env)
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        agent.kill()


def joined(conductor: FakeConductor, count: int = 1, timeout_s: float = 15) -> None:
    wait_until(lambda: conductor.joins >= count, timeout_s, f"join #{count}")
