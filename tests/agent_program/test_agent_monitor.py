"""The agent's ``monitor`` minute samples (servers-agents.md §2.1, §5.3): one right after each join,
then one per interval, with the cpu and memory figures the conductor's ``least_cpu``/``least_mem``
read."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from cronwright.agent import protocol
from cronwright.agent.main import MONITOR_INTERVAL_ENV, monitor_interval_from
from cronwright.agent.reports import MONITOR_INTERVAL_S
from cronwright.agent.sysinfo import MinuteSampler
from tests.agent_program.conftest import StartAgent, joined
from tests.agent_program.fake_conductor import SERVER_ID, FakeConductor, wait_until
from tests.agent_program.test_agent_e2e import agent_args


def check_sample(sample: dict[str, object]) -> None:
    assert sample["version"] == "1.0" and sample["server"] == SERVER_ID and sample["hostname"] == "agent-one"
    assert isinstance(sample["date"], float) and abs(sample["date"] - time.time()) < 60
    data = sample["data"]
    assert isinstance(data, dict)
    assert {"cores", "avgLoad", "currentLoad"} <= data["cpu"].keys()
    assert data["cpu"]["cores"] >= 1 and data["cpu"]["avgLoad"] >= 0 and 0 <= data["cpu"]["currentLoad"] <= 100
    memory = data["memory"]
    assert {"total", "free", "available", "active", "used"} <= memory.keys()
    assert all(isinstance(memory[k], int) for k in memory) and 0 < memory["available"] <= memory["total"]


def test_a_sample_follows_each_join(conductor: FakeConductor, start_agent: StartAgent, tmp_path: Path) -> None:
    """With the default (one-minute) interval a sample still arrives right after the join, and again
    right after a rejoin."""
    agent = start_agent(*agent_args(conductor, tmp_path / "agent"))
    joined(conductor)
    first = wait_until(lambda: conductor.sent_on(protocol.MONITOR), 5, "a monitor sample after the join")
    assert first[0][0] == 1
    check_sample(first[0][1])
    conductor.drop()
    joined(conductor, 2, timeout_s=20)
    again = wait_until(
        lambda: [d for n, d in conductor.sent_on(protocol.MONITOR) if n > 1], 5, "a monitor sample after the rejoin"
    )
    check_sample(again[0])
    assert agent.stop() == 0


def test_samples_repeat_every_interval(conductor: FakeConductor, start_agent: StartAgent, tmp_path: Path) -> None:
    """With the interval shortened to 0.3 s, samples keep coming at about that pace."""
    agent = start_agent(*agent_args(conductor, tmp_path / "agent"), env={MONITOR_INTERVAL_ENV: "0.3"})
    joined(conductor)
    samples = wait_until(
        lambda: found if len(found := conductor.sent(protocol.MONITOR)) >= 4 else None, 10, "four monitor samples"
    )
    dates = [s["date"] for s in samples[:4]]
    assert all(0.25 < later - earlier < 3 for earlier, later in itertools.pairwise(dates)), dates
    for sample in samples:
        check_sample(sample)
    assert agent.stop() == 0


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({}, MONITOR_INTERVAL_S), ({MONITOR_INTERVAL_ENV: "2.5"}, 2.5)]
    + [({MONITOR_INTERVAL_ENV: bad}, MONITOR_INTERVAL_S) for bad in ("", "x", "0", "-1", "nan", "inf")],
)
def test_monitor_interval_from_the_environment(environ: dict[str, str], expected: float) -> None:
    """Only a positive finite number overrides the one-minute default."""
    assert MONITOR_INTERVAL_S == 60.0
    assert monitor_interval_from(environ) == expected


def test_sampler_figures() -> None:
    """A sample carries the 1-minute load average, a busy percentage and the memory in bytes."""
    data = MinuteSampler().sample()
    assert data["cpu"]["cores"] >= 1 and 0 <= data["cpu"]["currentLoad"] <= 100
    assert data["memory"]["total"] >= data["memory"]["available"] > 0
    assert data["process"]["mem"] > 0
