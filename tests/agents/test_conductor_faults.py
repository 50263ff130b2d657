"""What happens to agents' jobs when their conductor stalls or drops their server
(docs/fleet.md): a conductor paused past the dead-job timeout reads the reports that waited for it
before it judges any job dead; deleting a server that runs a job ends the job at once and the
agent exits promptly."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents.conftest import Fleet, job_log
from tests.api.helpers import script_event, start_job, wait_job, wait_state

DEAD_S = 4


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    fleet = Fleet(tmp_path_factory.mktemp("faults"), env={"CRONWRIGHT_DEAD_JOB_TIMEOUT_S": str(DEAD_S)})
    try:
        yield fleet
    finally:
        fleet.close()


def test_a_paused_conductor_reads_the_final_report_before_judging(fleet: Fleet) -> None:
    """The conductor is stopped (SIGSTOP) for longer than the dead-job timeout while its agent's
    job finishes: after SIGCONT the job ends with the agent's result, not as dead."""
    agent = fleet.start_agent("patient")
    event = script_event(fleet.api, "sleep 1; echo finished", targets=[agent.server_id])
    job_id = start_job(fleet.api, event["id"])
    wait_state(fleet.api, job_id, "active")
    assert fleet.server.proc is not None
    os.kill(fleet.server.proc.pid, signal.SIGSTOP)
    try:
        time.sleep(DEAD_S + 3)  # the pause itself: the job ends on the agent meanwhile
    finally:
        os.kill(fleet.server.proc.pid, signal.SIGCONT)
    job = wait_job(fleet.api, job_id, timeout_s=30)
    assert job["code"] == 0, job
    assert job_log(fleet.api, job_id) == b"finished\n"


def test_deleting_a_busy_server_ends_its_job_and_the_agent(fleet: Fleet, tmp_path: Path) -> None:
    agent = fleet.start_agent("doomed")
    event = script_event(fleet.api, "sleep 120", targets=[agent.server_id])
    job_id = start_job(fleet.api, event["id"])
    wait_state(fleet.api, job_id, "active")
    started = time.monotonic()
    fleet.api.ok("delete_server", {"id": agent.server_id})
    job = wait_job(fleet.api, job_id, timeout_s=10)
    assert job["code"] == "abort" and job["description"] == f"Server was deleted: {agent.server_id}", job
    agent.proc.wait(timeout=15)  # it stops at once: it has nothing left to report
    agent.stop()
    assert time.monotonic() - started < 15
