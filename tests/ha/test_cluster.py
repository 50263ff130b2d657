"""Three conductors on one PostgreSQL database (issue 11, docs/ha.md): one fenced leader, limits
that hold cluster-wide, definitions and jobs visible everywhere, and no job lost, doubled or stuck
when a conductor is killed, paused or cut off from the database."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from typing import Any

import httpx

from tests.api.helpers import create_event, script_event, start_job, wait_job
from tests.ha.conftest import T0, Fleet, wait_for
from tests.support.server import ADMIN_KEY, Server

QUEUE_FULL = "Maximum number of concurrent jobs for event has been reached, and the queue is maxed out."


def every_minute(catchup: bool) -> list[dict[str, Any]]:
    triggers: list[dict[str, Any]] = [{"type": "schedule", "enabled": True}]  # every minute
    if catchup:
        triggers.append({"type": "catchup", "enabled": True})
    return triggers


def jobs_by_now(fleet: Fleet, event_ids: list[str]) -> Counter[tuple[str, float]]:
    """How many jobs each (event, scheduled time) got, from the database (every conductor's)."""
    rows = fleet.sql("SELECT event, doc::json->>'now' FROM jobs WHERE event = ANY(%s)", event_ids)
    return Counter((event, float(now)) for event, now in rows)


def fires(fleet: Fleet, event_ids: list[str]) -> dict[tuple[str, int], str]:
    rows = fleet.sql("SELECT event_id, at, status FROM fires WHERE event_id = ANY(%s) AND trigger >= 0", event_ids)
    return {(event, at): status for event, at, status in rows}


def unfinished(fleet: Fleet) -> list[tuple[str, str, str | None]]:
    return [tuple(r) for r in fleet.sql("SELECT id, state, owner FROM jobs WHERE state <> 'complete'")]


def test_conductor_list_health_and_one_leader(fleet: Fleet) -> None:
    """Every conductor answers /health with master:true; exactly one leads; get_conductors lists all three."""
    servers = fleet.start(3)
    leader = fleet.leader()
    for server in servers:
        health = httpx.get(server.url + "/health").json()
        assert health == {"code": 0, "master": True, "leader": server is leader}
        rows = server.client().ok("get_conductors")["rows"]
        assert len(rows) == 3 and sum(r["leader"] for r in rows) == 1
        assert all(r["online"] and r["files_shared"] and r["version"] for r in rows)
        assert [r["self"] for r in rows].count(True) == 1
        leading = next(r for r in rows if r["leader"])
        assert leading["address"] == leader.url and leading["epoch"] >= 1


def test_definitions_reach_every_conductor(fleet: Fleet) -> None:
    """A create, update and delete on one conductor shows on the others (change feed)."""
    a, b, c = fleet.start(3)
    event = create_event(a.client(), title="Made on A")
    for other in (b, c):
        wait_for(
            "the event on another conductor",
            lambda o=other: o.client().call("get_event", {"id": event["id"]})[1]["code"] == 0,
            5,
        )
    b.client().ok("update_event", {"id": event["id"], "title": "Changed on B"})
    wait_for(
        "the change on C",
        lambda: c.client().ok("get_event", {"id": event["id"]})["event"]["title"] == "Changed on B",
        5,
    )
    c.client().ok("delete_event", {"id": event["id"]})
    wait_for("the delete on A", lambda: a.client().call("get_event", {"id": event["id"]})[1]["code"] != 0, 5)
    a.client().ok("update_global_state", {"scheduler.enabled": False})
    wait_for(
        "the global state on B",
        lambda: b.client().ok("get_global_state")["state"]["scheduler"]["enabled"] is False,
        5,
    )


def test_limits_hold_across_conductors(fleet: Fleet) -> None:
    """200 simultaneous run_event calls over three conductors on an event with job limit 1 and
    queue limit 5: never two active, exactly five queued, the other 194 refused with xyOps' error."""
    servers = fleet.start(3)
    api = servers[0].client()
    event = script_event(
        api,
        "sleep 30",
        limits=[{"type": "job", "enabled": True, "amount": 1}, {"type": "queue", "enabled": True, "amount": 5}],
    )
    for server in servers:
        wait_for(
            "the event everywhere",
            lambda s=server: s.client().call("get_event", {"id": event["id"]})[1]["code"] == 0,
            5,
        )
    most_active = 0
    sampling = True

    def sample() -> None:
        nonlocal most_active
        while sampling:
            (count,) = fleet.sql(
                "SELECT count(*) FROM jobs WHERE event = %s AND state IN ('active', 'starting', 'suspended')",
                event["id"],
            )[0]
            most_active = max(most_active, count)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    ids: list[str] = []
    lock = threading.Lock()

    def burst(server: Server, count: int) -> None:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": ADMIN_KEY}, timeout=30) as http:
            for _ in range(count):
                body = http.post("/api/app/run_event/v1", json={"id": event["id"]}).json()
                assert body["code"] == 0, body
                with lock:
                    ids.append(body["id"])

    threads = [threading.Thread(target=burst, args=(servers[i % 3], 25)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == 200

    def settled() -> Counter[str] | None:
        states = Counter(state for _id, state, _owner in unfinished(fleet))
        return states if sum(states.values()) == 6 else None

    states = wait_for("the burst to settle", settled, 60)
    sampling = False
    sampler.join()
    assert states == Counter({"active": 1, "queued": 5})
    assert most_active == 1
    refused = fleet.sql(
        "SELECT count(*) FROM jobs WHERE event = %s AND state = 'complete' AND doc::json->>'description' = %s",
        event["id"],
        QUEUE_FULL,
    )
    assert refused[0][0] == 194


def test_a_job_under_one_conductor_is_followed_from_another(fleet: Fleet) -> None:
    """get_active_jobs, get_job, tail_live_job_log, stream_job, stream_job_log and abort_job on B
    see and reach a job that runs under A."""
    a, b = fleet.start(2)
    event = script_event(
        a.client(), "echo first line; i=0; while [ $i -lt 300 ]; do echo tick $i; i=$((i+1)); sleep 0.1; done"
    )
    job_id = start_job(a.client(), event["id"])
    other = b.client()
    wait_for(
        "the job in B's active list",
        lambda: any(j["id"] == job_id and j["state"] == "active" for j in other.ok("get_active_jobs")["rows"]),
        10,
    )
    wait_for("its log through B", lambda: "first line" in other.ok("tail_live_job_log", {"id": job_id})["text"], 10)
    with httpx.stream(
        "GET", f"{b.url}/api/app/stream_job/v1", params={"id": job_id, "api_key": ADMIN_KEY}, timeout=30
    ) as stream:
        lines = stream.iter_lines()
        assert next(lines) == "event: start"
        updates = 0
        for line in lines:
            if line == "event: update":
                updates += 1
            if updates == 2:
                break
    log_text = ""
    with httpx.stream(
        "GET", f"{b.url}/api/app/stream_job_log/v1", params={"id": job_id, "api_key": ADMIN_KEY}, timeout=30
    ) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                log_text += line
            if "tick 5" in log_text:
                break
    assert "first line" in log_text
    other.ok("abort_job", {"id": job_id})
    job = wait_job(other, job_id, 20)
    assert job["code"] == "abort" and "Manually aborted" in job["description"]


def test_kill_leader_fails_over_without_lost_or_doubled_fires(fleet: Fleet) -> None:
    """kill -9 of the leader during a minute with 50 scheduled events and a burst of manual runs:
    a new leader within 15 s; each scheduled minute launched exactly once per event (catch-up
    events replay the minutes without a leader, the others record them as skipped); every job
    ends (the dead conductor's running jobs are adopted and aborted as lost, once)."""
    servers = fleet.start(3)
    api = servers[0].client()
    catchup = [create_event(api, triggers=every_minute(True)) for _ in range(25)]
    plain = [create_event(api, triggers=every_minute(False)) for _ in range(25)]
    manual = script_event(api, "sleep 20")
    ids = [e["id"] for e in catchup + plain]
    for server in servers:
        wait_for(
            "the events everywhere",
            lambda s=server: s.client().call("get_event", {"id": manual["id"]})[1]["code"] == 0,
            10,
        )
    minute = T0 + 60
    fleet.set_clock(minute + 1)
    wait_for(
        "the leader's fires at the first minute",
        lambda: sum(1 for (_e, at) in fires(fleet, ids) if at == minute) == 50,
        30,
    )
    leader = fleet.leader()
    burst = [start_job(leader.client(), manual["id"]) for _ in range(5)]
    wait_for(
        "the burst running",
        lambda: all(leader.client().ok("get_job", {"id": j})["job"]["state"] == "active" for j in burst),
        15,
    )
    killed_at = time.monotonic()
    fleet.kill(leader)
    survivors = fleet.alive()
    fleet.set_clock(minute + 120 + 1, survivors)  # two more minutes pass while nobody leads
    new_leader = fleet.leader(survivors)
    failover_s = time.monotonic() - killed_at
    assert new_leader is not leader and failover_s < 15, failover_s
    wait_for(
        "catch-up of both minutes", lambda: sum(1 for (_e, at) in fires(fleet, ids) if at == minute + 120) == 50, 30
    )
    recorded = fires(fleet, ids)
    for event in catchup:
        assert [recorded.get((event["id"], minute + k * 60)) for k in range(3)] == ["launched"] * 3
    for event in plain:
        assert [recorded.get((event["id"], minute + k * 60)) for k in range(3)] == ["launched", "skipped", "launched"]
    counts = jobs_by_now(fleet, ids)
    assert set(counts.values()) == {1}, [k for k, v in counts.items() if v != 1]
    assert len(counts) == 25 * 3 + 25 * 2
    client = new_leader.client()
    for job_id in burst:
        job = wait_job(client, job_id, 45)  # adopted once its lease ran out, ended as lost
        assert job["code"] == "abort" and "conductor stopped unexpectedly" in job["description"]
    wait_for("nothing unfinished", lambda: not [j for j in unfinished(fleet) if j[0] in burst], 10)


def test_paused_leader_cannot_fire_after_losing_the_lease(fleet: Fleet) -> None:
    """SIGSTOP of the leader past its lease, then SIGCONT: another conductor took over, and the
    old one fires nothing (its writes are fenced by the epoch); every minute launches once."""
    servers = fleet.start(3)
    api = servers[0].client()
    events = [create_event(api, triggers=every_minute(True)) for _ in range(5)]
    ids = [e["id"] for e in events]
    for server in servers:
        wait_for(
            "the events everywhere", lambda s=server: s.client().call("get_event", {"id": ids[-1]})[1]["code"] == 0, 10
        )
    minute = T0 + 60
    fleet.set_clock(minute + 1)
    wait_for("fires at the first minute", lambda: sum(1 for (_e, at) in fires(fleet, ids) if at == minute) == 5, 30)
    old = fleet.leader()
    epoch_before = fleet.sql("SELECT epoch FROM leases")[0][0]
    fleet.kill(old, signal.SIGSTOP)
    others = [s for s in fleet.alive() if s is not old]
    new = fleet.leader(others)
    fleet.set_clock(minute + 60 + 1, others)
    wait_for("the new leader's fires", lambda: sum(1 for (_e, at) in fires(fleet, ids) if at == minute + 60) == 5, 30)
    fleet.kill(old, signal.SIGCONT)
    fleet.set_clock(minute + 60 + 1, [old])  # the old leader now believes a minute passed unfired
    wait_for("the old leader to step down", lambda: any("stopped leading" in line for line in old.output), 15)
    assert fleet.sql("SELECT epoch FROM leases")[0][0] > epoch_before
    assert new is not old
    counts = jobs_by_now(fleet, ids)
    assert len(counts) == 10 and set(counts.values()) == {1}
    assert httpx.get(old.url + "/health").json()["leader"] is False


def test_database_connections_cut(fleet: Fleet) -> None:
    """pg_terminate_backend on every conductor connection: jobs running meanwhile finish
    normally, the change feed catches up, and the next minute fires exactly once."""
    a, b, _c = fleet.start(3)
    api = a.client()
    events = [create_event(api, triggers=every_minute(True)) for _ in range(3)]
    ids = [e["id"] for e in events]
    runner = script_event(api, "sleep 3; echo done")
    job_id = start_job(api, runner["id"])
    wait_for("the job running", lambda: api.ok("get_job", {"id": job_id})["job"]["state"] == "active", 10)
    database = fleet.db_url.rsplit("/", 1)[1]
    killed = fleet.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        database,
    )
    assert len(killed) >= 3
    job = wait_job(api, job_id, 30)
    assert job["code"] == 0, job
    late = create_event(a.client(), title="after the cut")
    wait_for(
        "the feed after reconnecting", lambda: b.client().call("get_event", {"id": late["id"]})[1]["code"] == 0, 15
    )
    minute = T0 + 60
    fleet.set_clock(minute + 1)
    wait_for("fires after the cut", lambda: sum(1 for (_e, at) in fires(fleet, ids) if at == minute) == 3, 30)
    counts = jobs_by_now(fleet, ids)
    assert set(counts.values()) == {1}


def test_follower_restart_leaves_the_leaders_jobs_alone(fleet: Fleet) -> None:
    """Restarting a follower (clean stop and a new start) never touches the leader's jobs: they
    finish normally, with every line of their logs (the shared live logs are left alone)."""
    fleet.start(2)
    leader = fleet.leader()
    follower = next(s for s in fleet.alive() if s is not leader)
    api = leader.client()
    event = script_event(api, "echo before; sleep 5; echo after")
    ids = [start_job(api, event["id"]) for _ in range(3)]
    wait_for("the jobs running", lambda: all(api.ok("get_job", {"id": j})["job"]["state"] == "active" for j in ids), 10)
    wait_for(
        "their first lines", lambda: all("before" in api.ok("tail_live_job_log", {"id": j})["text"] for j in ids), 10
    )
    follower.stop()
    fleet.add()
    for job_id in ids:
        job = wait_job(api, job_id, 30)
        assert job["code"] == 0 and job["description"] == "", job
        log = httpx.get(f"{leader.url}/api/app/get_job_log/v1", params={"id": job_id, "api_key": ADMIN_KEY}).text
        assert "before" in log and "after" in log, log


def test_job_requests_through_any_conductor(fleet: Fleet) -> None:
    """On a conductor that does not run the job: delete_job and manage_job_tags refuse a running
    job as its owner does; job_skip_delay, resume_job and flush_event_queue reach the owner."""
    a, b = fleet.start(2)
    owner, other = a.client(), b.client()
    running = script_event(owner, "sleep 30")
    job_id = start_job(owner, running["id"])
    wait_for("the job running", lambda: owner.ok("get_job", {"id": job_id})["job"]["state"] == "active", 10)
    assert other.error("delete_job", {"id": job_id})[1:] == (
        "job",
        f"Cannot delete a job that is still active: {job_id}",
    )
    assert other.error("manage_job_tags", {"id": job_id, "tags": ["x"]})[1:] == (
        "job",
        "Cannot update tags of running job.",
    )
    failing = script_event(owner, "exit 3", limits=[{"type": "retry", "enabled": True, "amount": 1, "duration": 3600}])
    failed = wait_job(owner, start_job(owner, failing["id"]), 20)
    (retry,) = [j["id"] for j in failed.get("jobs") or [] if j.get("reason") == "retry"]
    wait_for("the retry's delay", lambda: other.ok("get_job", {"id": retry})["job"]["state"] == "retry_delay", 10)
    other.ok("job_skip_delay", {"id": retry})
    assert wait_job(other, retry, 20)["code"] == 3  # it ran now, not in an hour
    limits = [{"type": "job", "enabled": True, "amount": 1}, {"type": "queue", "enabled": True, "amount": 3}]
    queued_event = script_event(owner, "sleep 30", limits=limits)
    first = start_job(owner, queued_event["id"])
    waiting = [start_job(owner, queued_event["id"]), start_job(other, queued_event["id"])]
    wait_for("two queued", lambda: all(other.ok("get_job", {"id": j})["job"]["state"] == "queued" for j in waiting), 10)
    assert other.ok("flush_event_queue", {"id": queued_event["id"]})["count"] == 2
    wait_for("the queue flushed everywhere", lambda: not [j for j in unfinished(fleet) if j[0] in waiting], 10)
    assert owner.ok("get_job", {"id": first})["job"]["state"] == "active"


def test_key_rate_limit_counts_every_conductor(fleet: Fleet) -> None:
    """A key with max_per_sec 2 is limited across conductors: six quick calls spread over three
    conductors (two each, so no conductor alone sees more than two) meet the limit."""
    servers = fleet.start(3)
    body = servers[0].client().ok("create_api_key", {"title": "limited", "privileges": {}, "max_per_sec": 2})
    plain = body["plain_key"]
    for server in servers:
        wait_for("the key everywhere", lambda s=server: s.client(key=plain).call("get_events")[0] == 200, 5)
    time.sleep(1.1)  # a fresh second for the counters the waits used
    answers = [servers[i % 3].client(key=plain).call("get_events") for i in range(6)]
    assert any(status == 429 and body["code"] == "rate" for status, body in answers), answers


def test_one_process_per_conductor_id(fleet: Fleet) -> None:
    """A second conductor with an id in use is refused at start with a clear one-line error."""
    (first,) = fleet.start(1)
    own_id = next(r["id"] for r in first.client().ok("get_conductors")["rows"] if r["self"])
    twin = Server(fleet.data_dir, fleet.db_url, env=fleet.env, args=["--conductor-id", own_id])
    try:
        twin.start(timeout_s=20)
    except RuntimeError as exc:
        assert f"Conductor id '{own_id}' is in use by another running conductor" in str(exc)
    else:
        raise AssertionError("a second conductor with the same id started")
    finally:
        twin.stop()
    assert "Traceback" not in "".join(twin.output)


def test_abort_reaches_a_job_whose_conductor_died(fleet: Fleet) -> None:
    """abort_job through B for a queued job of a conductor that was just killed: the request is
    stored, so the conductor that adopts the job aborts it instead of running it."""
    fleet.start(2)
    leader = fleet.leader()
    victim = next(s for s in fleet.alive() if s is not leader)
    api = victim.client()
    limits = [{"type": "job", "enabled": True, "amount": 1}, {"type": "queue", "enabled": True, "amount": 1}]
    event = script_event(api, "sleep 60", limits=limits)
    running = start_job(api, event["id"])
    queued = start_job(api, event["id"])
    wait_for("one running, one queued", lambda: api.ok("get_job", {"id": queued})["job"]["state"] == "queued", 10)
    fleet.kill(victim)
    survivor = leader.client()
    survivor.ok("abort_job", {"id": queued})
    job = wait_job(survivor, queued, 45)
    assert job["code"] == "abort" and job["description"].startswith("Manually aborted"), job
    lost = wait_job(survivor, running, 45)
    assert lost["code"] == "abort" and "conductor stopped unexpectedly" in lost["description"]
    assert not fleet.sql("SELECT key FROM kv WHERE key LIKE 'jobctl:%%'")  # the request was used up
