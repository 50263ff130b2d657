"""The scheduler through the real server, with a controllable clock (test-only `test_set_clock`).

Each test moves the server's clock forward to a fresh hour (the scheduler never goes back), sets
it just before the minute under test, and lets the real loop tick. Waiting is polling with a
deadline: for a fire, a job, or the scheduler's record of the last minute it processed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from cronwright.store.sql.store import SqlStore
from tests.api.helpers import create_event, make_key, uid, wait_job
from tests.conftest import StartServer
from tests.support.server import Api, Server

BASE = 1893456000  # 2030-01-01 00:00 UTC
_hours = itertools.count(1)


@pytest.fixture(scope="module")
def clock_server(server_factory: StartServer) -> Server:
    return server_factory(
        "sqlite", env={"CRONWRIGHT_TEST_API": "1", "CRONWRIGHT_CLOCK_START": str(BASE), "CRONWRIGHT_TZ": "UTC"}
    )


@pytest.fixture(scope="module")
def clock_store(clock_server: Server) -> Iterator[SqlStore]:
    """The clock server's database, read to see which minute the scheduler has processed."""
    store = SqlStore.open(clock_server.database_url)
    yield store
    store.close()


@pytest.fixture
def sapi(clock_server: Server) -> Iterator[Api]:
    api = clock_server.client()
    yield api
    for event in api.ok("get_events")["rows"]:  # leave nothing scheduled for the next test
        api.call("update_event", {"id": event["id"], "enabled": False})


def fresh_minute() -> int:
    """A minute boundary later than any used before (one fresh hour per call)."""
    return BASE + next(_hours) * 3600 + 1800


def set_clock(api: Api, now: float) -> None:
    api.ok("test_set_clock", {"now": now})


def jobs_of(api: Api, event_id: str, count: int, timeout_s: float = 10) -> list[dict]:
    """Wait until `count` jobs of the event exist (active or done); return them, oldest first."""
    deadline = time.time() + timeout_s
    while True:
        fires = api.ok("get_event_fires", {"id": event_id, "limit": 100})["rows"]
        ids = [f["job_id"] for f in fires if f["status"] == "launched"]
        if len(ids) >= count:
            return sorted((wait_job(api, j) for j in ids), key=lambda j: j["now"])
        assert time.time() < deadline, f"only {len(ids)} of {count} jobs: {fires}"
        time.sleep(0.05)


def fires_of(api: Api, event_id: str) -> list[tuple[int, str]]:
    """The event's fire ledger as (instant, status), oldest first."""
    rows = api.ok("get_event_fires", {"id": event_id, "limit": 100})["rows"]
    return sorted((f["at"], f["status"]) for f in rows)


def wait_ticked(store: SqlStore, minute: int, timeout_s: float = 10) -> None:
    """Wait until the scheduler has finished its tick of ``minute``: the last thing a tick does, the
    switch on or off, is to record that minute as processed."""
    deadline = time.time() + timeout_s
    while True:
        last = (store.get_kv("scheduler") or {}).get("last_minute")
        if isinstance(last, int) and last >= minute:
            return
        assert time.time() < deadline, f"the scheduler never processed minute {minute} (last: {last})"
        time.sleep(0.05)


def schedule_at(minute: int, zone: str = "UTC", **extra: object) -> dict[str, object]:
    local = datetime.fromtimestamp(minute, ZoneInfo(zone))
    return {
        "type": "schedule",
        "enabled": True,
        "hours": [local.hour],
        "minutes": [local.minute],
        "timezone": zone,
        **extra,
    }


def script_event(api: Api, triggers: list[dict], **extra: object) -> dict:
    return create_event(api, triggers=triggers, params={"script": "#!/bin/sh\necho ran\n"}, **extra)


def test_schedule_fires_once_at_its_minute(sapi: Api, clock_store: SqlStore) -> None:
    """A schedule fires at its minute with `now` = that minute and source `scheduler` (cases 119, 217)."""
    minute = fresh_minute()
    event = script_event(sapi, [schedule_at(minute)])
    set_clock(sapi, minute - 1.5)
    (job,) = jobs_of(sapi, event["id"], 1)
    assert job["now"] == minute and job["source"] == "scheduler" and "stype" not in job and job["code"] == 0
    assert job["started"] - minute < 3  # started within seconds of its minute
    wait_ticked(clock_store, minute)  # every fire of the minute is recorded by now
    fires = sapi.ok("get_event_fires", {"id": event["id"]})["rows"]
    assert [(f["at"], f["status"], f["job_id"]) for f in fires] == [(minute, "launched", job["id"])]


def test_time_zone_and_trigger_params(sapi: Api) -> None:
    """A New York schedule fires at its local time; trigger params and tags reach the job (cases 123, 143)."""
    minute = fresh_minute()
    trigger = schedule_at(minute, "America/New_York", params={"p": "t"}, tags=["flag"])
    event = script_event(sapi, [trigger])
    set_clock(sapi, minute - 1.5)
    (job,) = jobs_of(sapi, event["id"], 1)
    assert job["now"] == minute and job["params"]["p"] == "t" and "flag" in job["tags"]


def test_delay_and_precision(sapi: Api) -> None:
    """A delay starts the job `duration` seconds late; precision launches one job per second offset (cases 137–138)."""
    minute = fresh_minute()
    delayed = script_event(sapi, [schedule_at(minute), {"type": "delay", "enabled": True, "duration": 2}])
    precise = script_event(sapi, [schedule_at(minute), {"type": "precision", "enabled": True, "seconds": [0, 2]}])
    set_clock(sapi, minute - 1.5)
    (job,) = jobs_of(sapi, delayed["id"], 1)
    assert job["now"] == minute and job["started"] >= minute + 2 - 0.05
    jobs = jobs_of(sapi, precise["id"], 2)
    assert [j["now"] for j in jobs] == [minute, minute + 2]
    assert jobs[1]["started"] >= minute + 2 - 0.05 and jobs[1]["started"] - (minute + 2) < 1.5


def test_switch_and_disabled_things_launch_nothing(sapi: Api, clock_store: SqlStore) -> None:
    """A disabled event and an event of a disabled category launch nothing at a minute where an
    enabled event fires; with the global switch off a minute passes without launching, and switched
    back on the scheduler neither replays that minute nor records it as missed (cases 141, 144)."""
    minute = fresh_minute()
    category = uid("cat")
    sapi.ok("create_category", {"id": category, "title": "Off", "enabled": False})
    control = script_event(sapi, [schedule_at(minute)])
    in_disabled_category = script_event(sapi, [schedule_at(minute)], category=category)
    disabled = script_event(sapi, [schedule_at(minute)], enabled=False)
    paused = script_event(sapi, [schedule_at(minute + 60)])
    control_after = script_event(sapi, [schedule_at(minute + 120)])

    set_clock(sapi, minute - 1.5)
    (job,) = jobs_of(sapi, control["id"], 1)  # the scheduler did process this minute
    assert job["now"] == minute
    wait_ticked(clock_store, minute)  # ... to its end, past the other events of the minute
    assert fires_of(sapi, in_disabled_category["id"]) == []
    assert fires_of(sapi, disabled["id"]) == []

    sapi.ok("update_global_state", {"scheduler.enabled": False})
    try:
        set_clock(sapi, minute + 60 - 1.5)
        wait_ticked(clock_store, minute + 60)  # the switched-off scheduler passed the paused event's minute
        assert fires_of(sapi, paused["id"]) == []
    finally:
        sapi.ok("update_global_state", {"scheduler.enabled": True})

    set_clock(sapi, minute + 120 - 1.5)
    (job,) = jobs_of(sapi, control_after["id"], 1)  # switched back on, it launches again
    assert job["now"] == minute + 120
    wait_ticked(clock_store, minute + 120)
    # had the switched-off minute not been passed, it would now be launched late or recorded as skipped
    assert fires_of(sapi, paused["id"]) == []
    assert fires_of(sapi, control["id"]) == [(minute, "launched")]


def test_catchup_replays_with_historical_now(sapi: Api) -> None:
    """Catch-up replays every missed fire in order with its historical `now`; a rewound cursor replays again (cases 131, 86)."""
    minute = fresh_minute()
    triggers = [
        {
            "type": "schedule",
            "enabled": True,
            "minutes": [(minute // 60 + k) % 60 for k in (-20, -10, -5)],
            "timezone": "UTC",
        },
        {"type": "catchup", "enabled": True},
    ]
    event = script_event(sapi, triggers, update_state={"cursor": minute - 1800})
    set_clock(sapi, minute + 1)
    jobs = jobs_of(sapi, event["id"], 3)
    assert [j["now"] for j in jobs] == [minute - 1200, minute - 600, minute - 300]
    assert all(j["started"] > j["now"] for j in jobs)  # replayed later than scheduled
    state = sapi.ok("get_global_state")["state"]["events"][event["id"]]
    assert state["cursor"] == minute
    sapi.ok("update_event", {"id": event["id"], "update_state": {"cursor": minute - 700}})
    set_clock(sapi, minute + 61)
    jobs = jobs_of(sapi, event["id"], 5)
    assert sorted(j["now"] for j in jobs) == sorted(
        [minute - 1200, minute - 600, minute - 600, minute - 300, minute - 300]
    )


def test_missed_fires_without_catchup_are_recorded(sapi: Api, clock_store: SqlStore) -> None:
    """Fires missed while the clock jumped (no catch-up) are recorded as skipped with the reason."""
    minute = fresh_minute()
    set_clock(sapi, minute - 3000)
    wait_ticked(clock_store, minute - 3000)  # the jump starts here, after anything a test before did
    event = script_event(
        sapi, [{"type": "schedule", "enabled": True, "minutes": [(minute // 60 - 10) % 60], "timezone": "UTC"}]
    )
    set_clock(sapi, minute + 1)
    wait_ticked(clock_store, minute)  # the tick of `minute` records what was missed since the last one
    fires = sapi.ok("get_event_fires", {"id": event["id"]})["rows"]
    assert [(f["at"], f["status"]) for f in fires] == [(minute - 600, "skipped")]
    assert "catch-up" in fires[0]["reason"]


def test_forecast(sapi: Api) -> None:
    """The forecast lists the next launches and the ones a blackout suppresses, with the reason."""
    minute = fresh_minute()
    triggers = [
        {"type": "schedule", "enabled": True, "minutes": [0, 30], "timezone": "UTC"},
        {"type": "blackout", "enabled": True, "start": minute + 1800, "end": minute + 1800},
    ]
    event = script_event(sapi, triggers)
    body = sapi.ok("get_event_forecast", {"id": event["id"], "count": 4, "after": minute})
    rows = body["rows"]
    assert [r["at"] for r in rows if not r["suppressed"]][:2] == [minute + 3600, minute + 5400]
    blocked = [r for r in rows if r["suppressed"]]
    assert blocked and blocked[0]["at"] == minute + 1800 and blocked[0]["reason"] == "blackout"
    assert sapi.error("get_event_forecast", {"id": event["id"], "count": 0})[:2] == (400, "api")
    for bad in ("inf", "nan", "-inf", -1, "1e300"):
        assert sapi.error("get_event_forecast", {"id": event["id"], "after": bad})[:2] == (400, "api"), bad
    late = sapi.ok("get_event_forecast", {"id": event["id"], "count": 3, "after": 253_402_300_000})["rows"]
    assert all(r["at"] > 253_402_300_000 for r in late)


def test_magic_link(sapi: Api, clock_server: Server) -> None:
    """A magic link starts a job without credentials; params become job params; bad tokens fail (events.md §3.8)."""
    event = create_event(
        sapi,
        triggers=[{"type": "magic", "enabled": True, "key": "open-sesame-0123456789"}],
        params={"script": '#!/bin/sh\necho "hi $who"\n'},
        fields=[{"id": "who", "type": "text", "value": "nobody"}],
    )
    base = f"{clock_server.url}/api/app/magic/v1"
    started = httpx.get(f"{base}/open-sesame-0123456789", params={"who": "web"}).json()
    assert (
        started["code"] == 0
        and started["description"] == "Your job has started in the background."
        and started["stream"]
    )
    job = wait_job(sapi, started["id"])
    assert job["source"] == "magic" and job["params"]["who"] == "web" and "hi web" in job["output"]
    waited = httpx.post(f"{base}/open-sesame-0123456789/wait", json={"who": "post"}).json()
    assert waited["job"]["final"] and "hi post" in waited["job"]["output"]
    bad = httpx.get(f"{base}/wrong-key")
    assert bad.status_code == 400 and bad.json() == {"code": "api", "description": "Authentication failed."}
    page = httpx.get(f"{clock_server.url}/api/app/form/v1/open-sesame-0123456789")
    assert page.status_code == 200 and 'name="who"' in page.text and "magic/v1/open-sesame-0123456789" in page.text
    assert httpx.get(f"{clock_server.url}/api/app/form/v1/nope").status_code == 404
    sapi.ok("update_event", {"id": event["id"], "enabled": False})
    assert httpx.get(f"{base}/open-sesame-0123456789").json()["code"] == "event"


def test_magic_file_limit(sapi: Api, clock_server: Server) -> None:
    """A magic upload beyond the event's file limit is refused."""
    create_event(
        sapi,
        triggers=[{"type": "magic", "enabled": True, "key": "files-key-0123456789ab"}],
        limits=[{"enabled": True, "type": "file", "amount": 0}],
    )
    response = httpx.post(f"{clock_server.url}/api/app/magic/v1/files-key-0123456789ab", files={"f": ("a.txt", b"x")})
    assert response.json() == {"code": "event", "description": "Event does not allow file uploads."}


def test_scheduler_plugin_gate(sapi: Api, tmp_path: object) -> None:
    """A scheduler plugin decides which fires launch (triggers.md §8)."""
    script = '#!/bin/sh\nread line\necho \'{"xy":1,"items":[true]}\'\n'
    plugin = sapi.ok("create_plugin", {"title": "Gate", "type": "scheduler", "command": "/bin/sh", "script": script})[
        "plugin"
    ]
    minute = fresh_minute()
    event = script_event(
        sapi, [schedule_at(minute), {"type": "plugin", "enabled": True, "plugin_id": plugin["id"], "params": {}}]
    )
    set_clock(sapi, minute - 1.5)
    (job,) = jobs_of(sapi, event["id"], 1)
    assert job["source"] == "plugin" and job["now"] == minute


def test_test_clock_is_admin_only(sapi: Api) -> None:
    """Only administrators may move the clock; bad values are rejected."""
    assert sapi.error("test_set_clock", {"now": "x"})[:2] == (400, "api")
    editor, _ = make_key(sapi, {"edit_events": True, "run_jobs": True})
    assert editor.error("test_set_clock", {"now": BASE + 10**7})[:2] == (403, "access")


def test_test_clock_absent_in_normal_servers(api: Api) -> None:
    """Without `test_api` the clock endpoint does not exist."""
    assert api.error("test_set_clock", {"now": 1})[:2] == (404, "api")


def test_quiet_ephemeral_jobs_leave_no_record(sapi: Api) -> None:
    """A quiet trigger marks jobs invisible and ephemeral; a successful ephemeral job is not stored (case 145)."""
    minute = fresh_minute()
    quiet = {"type": "quiet", "enabled": True, "invisible": True, "ephemeral": True}
    event = create_event(sapi, triggers=[schedule_at(minute), quiet], params={"script": "#!/bin/sh\nsleep 0.5\n"})
    set_clock(sapi, minute - 1.5)
    deadline = time.time() + 10
    fires: list[dict] = []
    while time.time() < deadline and not fires:
        fires = sapi.ok("get_event_fires", {"id": event["id"]})["rows"]
        time.sleep(0.05)
    job_id = fires[0]["job_id"]
    running = sapi.ok("get_job", {"id": job_id})["job"]
    assert running["invisible"] is True and running["ephemeral"] is True
    deadline = time.time() + 10
    while time.time() < deadline and sapi.call("get_job", {"id": job_id})[1]["code"] == 0:
        time.sleep(0.05)
    assert sapi.error("get_job", {"id": job_id})[:2] == (404, "notfound")
