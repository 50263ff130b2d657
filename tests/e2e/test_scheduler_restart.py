"""The scheduler across restarts and with two conductors: catch-up after downtime, missed fires
recorded, exactly-once launches (issue: scheduler §4–§5)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.api.helpers import create_event, wait_job
from tests.conftest import require_backend
from tests.support.server import Api, Server, temporary_pg_database

T0 = 1924992000  # 2031-01-01 00:00 UTC


def _env(now: float) -> dict[str, str]:
    return {"CRONWRIGHT_TEST_API": "1", "CRONWRIGHT_CLOCK_START": str(now), "CRONWRIGHT_TZ": "UTC"}


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
    time.sleep(0.5)  # the first tick (minute T0) has run: the scheduler remembers it
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


@pytest.mark.postgresql
def test_two_conductors_launch_each_fire_once(tmp_path: Path) -> None:
    """Two conductors on one PostgreSQL database, both ticking the same minute, launch its fire once."""
    require_backend("postgresql")
    minute = T0 + 7200
    with temporary_pg_database() as url:
        first = Server(tmp_path / "a", url, env=_env(minute - 40)).start()
        api = first.client()
        event = create_event(api, triggers=[{"type": "schedule", "enabled": True, "minutes": [], "timezone": "UTC"}])
        second = Server(tmp_path / "b", url, env=_env(minute - 40))
        threading.Thread(target=second.start).start()
        try:
            deadline = time.time() + 10
            while not second.url and time.time() < deadline:
                time.sleep(0.05)
            other = second.client()
            for client in (api, other):
                client.ok("test_set_clock", {"now": minute - 1})
            fires = _fires(api, event["id"], 1)
            time.sleep(2)  # both conductors have ticked the minute by now
            fires = api.ok("get_event_fires", {"id": event["id"], "limit": 100})["rows"]
            at_minute = [f for f in fires if f["at"] == minute]
            assert len(at_minute) == 1 and at_minute[0]["status"] == "launched"
            jobs = [j for j in api.ok("get_jobs", {"event": event["id"], "limit": 100})["rows"] if j["now"] == minute]
            active = [
                j
                for c in (api, other)
                for j in c.ok("get_active_jobs")["rows"]
                if j["event"] == event["id"] and j["now"] == minute
            ]
            assert len(jobs) + len(active) == 1
        finally:
            second.stop()
            first.stop()
