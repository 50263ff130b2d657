"""The scheduler across restarts and with two conductors: catch-up after downtime, missed fires
recorded, exactly-once launches (issue: scheduler §4–§5)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.api.helpers import create_event, wait_job
from tests.conftest import require_backend
from tests.support.server import Api, Server, temporary_pg_database

T0 = 1924992000  # 2031-01-01 00:00 UTC


def _env(now: float) -> dict[str, str]:
    """A test clock starting at ``now``, and the scheduler's debug lines as JSON (to see its ticks)."""
    return {
        "CRONWRIGHT_TEST_API": "1",
        "CRONWRIGHT_CLOCK_START": str(now),
        "CRONWRIGHT_TZ": "UTC",
        "CRONWRIGHT_LOG_LEVEL": "warning,cronwright.scheduler=debug",
        "CRONWRIGHT_LOG_FORMAT": "json",
    }


def _wait_ticked(*servers: Server, minute: int, timeout_s: float = 15) -> None:
    """Wait until one of ``servers`` has finished a scheduler tick of ``minute`` (the tick's last debug line)."""
    deadline = time.time() + timeout_s
    while True:
        for server in servers:
            for line in list(server.output):
                record = json.loads(line) if line.startswith("{") else {}
                if record.get("msg") == "scheduler tick" and record.get("minute") == minute:
                    return
        tails = "".join(line for server in servers for line in server.output[-10:])
        assert time.time() < deadline, f"no tick of minute {minute} in:\n{tails}"
        time.sleep(0.05)


def _fires(api: Api, event_id: str, count: int, timeout_s: float = 15) -> list[dict]:
    deadline = time.time() + timeout_s
    while True:
        rows = api.ok("get_event_fires", {"id": event_id, "limit": 100})["rows"]
        if len(rows) >= count:
            return sorted(rows, key=lambda r: r["at"])
        assert time.time() < deadline, rows
        time.sleep(0.05)


def test_catchup_after_downtime(tmp_path: Path) -> None:
    """Stop the server, move time 30 minutes on, restart: catch-up runs every missed fire in order,
    an event without catch-up records its missed fire as skipped."""
    schedule = {"type": "schedule", "enabled": True, "minutes": [10, 20], "timezone": "UTC"}
    first = Server(tmp_path, env=_env(T0 + 1)).start()
    api = first.client()
    catching = create_event(api, triggers=[schedule, {"type": "catchup", "enabled": True}], update_state={"cursor": T0})
    plain = create_event(api, triggers=[schedule])
    _wait_ticked(first, minute=T0)  # the scheduler remembers minute T0 as processed
    assert first.stop() == 0
    second = Server(tmp_path, env=_env(T0 + 1800 + 1)).start()
    try:
        api = second.client()
        fires = _fires(api, catching["id"], 2)
        assert [(f["at"], f["status"]) for f in fires] == [(T0 + 600, "launched"), (T0 + 1200, "launched")]
        jobs = [wait_job(api, f["job_id"]) for f in fires]
        assert [j["now"] for j in jobs] == [T0 + 600, T0 + 1200] and all(j["code"] == 0 for j in jobs)
        skipped = _fires(api, plain["id"], 2)
        assert [(f["at"], f["status"]) for f in skipped] == [(T0 + 600, "skipped"), (T0 + 1200, "skipped")]
        assert all("no catch-up" in f["reason"] for f in skipped)
    finally:
        second.stop()


def test_startup_trigger(tmp_path: Path) -> None:
    """An event with a startup trigger runs when the server starts."""
    first = Server(tmp_path).start()
    api = first.client()
    event = create_event(api, triggers=[{"type": "startup", "enabled": True, "params": {"why": "boot"}}])
    first.stop()
    second = Server(tmp_path).start()
    try:
        api = second.client()
        deadline = time.time() + 10
        rows: list[dict] = []
        while time.time() < deadline and not rows:
            rows = api.ok("get_jobs", {"event": event["id"]})["rows"]
            time.sleep(0.05)
        assert rows and rows[0]["source"] == "startup" and rows[0]["params"]["why"] == "boot"
    finally:
        second.stop()


def _jobs_at(api: Api, event_id: str, minute: int) -> set[str]:
    """Ids of the event's jobs for ``minute`` this conductor knows, unfinished (read first) or completed
    (read second, so a job finishing in between is still counted)."""
    active = [j for j in api.ok("get_active_jobs")["rows"] if j["event"] == event_id]
    done = api.ok("get_jobs", {"event": event_id, "limit": 100})["rows"]
    return {j["id"] for j in active + done if j["now"] == minute}


@pytest.mark.postgresql
def test_two_conductors_launch_each_fire_once(tmp_path: Path) -> None:
    """Two conductors on one PostgreSQL database, both knowing an every-minute event, launch exactly
    one job per minute between them, and each minute's one fire row names that job."""
    require_backend("postgresql")
    minute = T0 + 7200
    with temporary_pg_database() as url:
        first = Server(tmp_path / "a", url, env=_env(minute - 40)).start()
        second: Server | None = None
        try:
            api = first.client()
            every_minute = {"type": "schedule", "enabled": True, "minutes": [], "timezone": "UTC"}
            event_id = create_event(api, triggers=[every_minute])["id"]
            second = Server(tmp_path / "b", url, env=_env(minute - 40)).start()
            other = second.client()
            assert other.ok("get_event", {"id": event_id})["event"]["enabled"] is True  # both could launch it
            minutes = (minute, minute + 60)  # the second one gives a slow duplicate time to show up
            for at in minutes:
                for client in (api, other):
                    client.ok("test_set_clock", {"now": at - 1})
                _wait_ticked(first, second, minute=at)

            fires = {f["at"]: f for f in api.ok("get_event_fires", {"id": event_id, "limit": 100})["rows"]}
            job_ids = {at: fires[at]["job_id"] for at in minutes}
            assert [fires[at]["status"] for at in minutes] == ["launched", "launched"] and all(job_ids.values())

            def settled() -> bool:  # the fired jobs have completed and neither conductor runs one of these minutes
                completed = {j["id"] for j in api.ok("get_jobs", {"event": event_id, "limit": 100})["rows"]}
                running = [
                    j
                    for client in (api, other)
                    for j in client.ok("get_active_jobs")["rows"]
                    if j["event"] == event_id and j["now"] in minutes
                ]
                return set(job_ids.values()) <= completed and not running

            deadline = time.time() + 30
            while not settled():
                assert time.time() < deadline, "the jobs of the two minutes never all finished"
                time.sleep(0.05)
            for at in minutes:
                assert _jobs_at(api, event_id, at) == {job_ids[at]}, at
                assert _jobs_at(other, event_id, at) == {job_ids[at]}, at
        finally:
            if second is not None:
                second.stop()
            first.stop()
