"""Restart safety: no job stays active or queued forever, nothing recorded is lost (issue: jobs §6)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import psutil

from tests.api.helpers import script_event, start_job, wait_job, wait_state
from tests.support.server import Server

SCRIPT = 'echo "before $delay"\nsleep "$delay"\necho after'
LIMITS = [{"enabled": True, "type": "job", "amount": 1}, {"enabled": True, "type": "queue", "amount": 5}]


def _start_jobs(server: Server) -> tuple[str, str, list[str]]:
    api = server.client()
    event = script_event(api, SCRIPT, limits=LIMITS)
    running = start_job(api, event["id"], params={"delay": "30"})
    wait_state(api, running, "active")
    deadline = time.time() + 5
    while time.time() < deadline and "before 30" not in api.ok("tail_live_job_log", {"id": running})["text"]:
        time.sleep(0.05)
    job = api.ok("get_job", {"id": running})["job"]
    queued = [start_job(api, event["id"], params={"delay": "0.1"}) for _ in range(2)]
    for job_id in queued:
        wait_state(api, job_id, "queued")
    return running, str(job["pid"]), queued


def _check_after_restart(server: Server, running: str, queued: list[str], reason: str) -> dict:
    api = server.client()
    lost = wait_job(api, running)
    assert lost["code"] == "abort" and lost["description"].startswith(reason)
    assert "before 30" in lost["output"] and "after" not in lost["output"]
    for job_id in queued:
        job = wait_job(api, job_id)
        assert job["code"] == 0 and "after" in job["output"]
    assert api.ok("get_active_jobs")["rows"] == []
    return lost


def test_graceful_stop_aborts_running_and_keeps_queued(tmp_path: Path) -> None:
    """SIGTERM aborts the running job (recorded, with the reason); queued jobs run after the restart."""
    first = Server(tmp_path).start()
    running, pid, queued = _start_jobs(first)
    assert first.stop(signal.SIGTERM) == 0
    assert not psutil.pid_exists(int(pid)) or psutil.Process(int(pid)).status() == psutil.STATUS_ZOMBIE
    second = Server(tmp_path).start()
    try:
        _check_after_restart(second, running, queued, "Aborted: Cronwright was shut down while the job was running.")
    finally:
        second.stop()


def test_crash_recovers_lost_job(tmp_path: Path) -> None:
    """After kill -9 the next start kills the orphaned process, records the job as lost, and runs the queue."""
    first = Server(tmp_path).start()
    running, pid, queued = _start_jobs(first)
    first.stop(signal.SIGKILL)
    assert psutil.pid_exists(int(pid))  # the orphan survived the crash
    second = Server(tmp_path).start()
    try:
        lost = _check_after_restart(second, running, queued, "Job process was lost")
        assert "leftover processes were killed" in lost["description"]
        deadline = time.time() + 5
        while time.time() < deadline and psutil.pid_exists(int(pid)):
            time.sleep(0.05)
        assert not psutil.pid_exists(int(pid)) or psutil.Process(int(pid)).status() == psutil.STATUS_ZOMBIE
    finally:
        second.stop()
