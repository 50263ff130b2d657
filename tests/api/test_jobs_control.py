"""Controlling jobs: concurrency, queues, priority, aborts, retries and the jobs API (section I)."""

from __future__ import annotations

import contextlib
import time

import psutil

from tests.api.helpers import make_key, run_wait, script_event, start_job, uid, wait_job, wait_state
from tests.support.server import Api, Server

JOB_1 = {"enabled": True, "type": "job", "amount": 1}


def _states(api: Api, job_ids: list[str]) -> list[str]:
    rows = {j["id"]: j["state"] for j in api.ok("get_active_jobs", {"limit": 0})["rows"]}
    return [rows.get(j, "done") for j in job_ids]


def test_concurrency_with_queue(api: Api) -> None:
    """With `job` 1 and `queue` 10, three runs execute one at a time and all succeed (cases 28, 159)."""
    event = script_event(api, "sleep 0.4", limits=[JOB_1, {"enabled": True, "type": "queue", "amount": 10}])
    ids = [start_job(api, event["id"]) for _ in range(3)]
    wait_state(api, ids[0], "active")
    body = api.ok("get_event", {"id": event["id"]})
    assert len(body["jobs"]) == 1 and body["queued"] == 2
    seen_active = []
    while True:
        states = _states(api, ids)
        if all(s == "done" for s in states):
            break
        seen_active.append(states.count("active"))
        time.sleep(0.05)
    assert max(seen_active) == 1
    jobs = [wait_job(api, j) for j in ids]
    assert all(j["code"] == 0 for j in jobs)
    assert jobs[0]["completed"] <= jobs[1]["started"] + 0.05 and jobs[1]["completed"] <= jobs[2]["started"] + 0.05


def test_concurrency_without_queue_aborts(api: Api) -> None:
    """With `job` 1 and no queue, a second run aborts with the concurrency message (case 160)."""
    event = script_event(api, "sleep 1", limits=[JOB_1])
    first = start_job(api, event["id"])
    wait_state(api, first, "active")
    second = wait_job(api, start_job(api, event["id"]))
    assert (second["code"], second["description"]) == (
        "abort",
        "Maximum number of concurrent jobs for event has been reached.",
    )
    api.ok("abort_job", {"id": first})


def test_full_queue_aborts(api: Api) -> None:
    """With one active and one queued job, a third aborts "…and the queue is maxed out." (case 161)."""
    event = script_event(api, "sleep 1", limits=[JOB_1, {"enabled": True, "type": "queue", "amount": 1}])
    first = start_job(api, event["id"])
    wait_state(api, first, "active")
    queued = start_job(api, event["id"])
    wait_state(api, queued, "queued")
    third = wait_job(api, start_job(api, event["id"]))
    assert (
        third["description"]
        == "Maximum number of concurrent jobs for event has been reached, and the queue is maxed out."
    )
    api.ok("flush_event_queue", {"id": event["id"]})
    api.ok("abort_job", {"id": first})


def test_priority_jumps_the_queue(api: Api) -> None:
    """Of two queued jobs, the later one with `priority` starts first (case 162)."""
    event = script_event(api, "sleep 0.3", limits=[JOB_1, {"enabled": True, "type": "queue", "amount": 5}])
    running = start_job(api, event["id"])
    wait_state(api, running, "active")
    normal = start_job(api, event["id"])
    urgent = start_job(api, event["id"], priority=True)
    jobs = {j: wait_job(api, j) for j in (normal, urgent)}
    assert jobs[urgent]["started"] < jobs[normal]["started"]


def test_flush_event_queue(api: Api) -> None:
    """`flush_event_queue` drops queued jobs without records (case 163)."""
    event = script_event(api, "sleep 1", limits=[JOB_1, {"enabled": True, "type": "queue", "amount": 5}])
    running = start_job(api, event["id"])
    wait_state(api, running, "active")
    queued = [start_job(api, event["id"]) for _ in range(2)]
    for job_id in queued:
        wait_state(api, job_id, "queued")
    assert api.ok("flush_event_queue", {"id": event["id"]})["count"] == 2
    for job_id in queued:
        assert api.error("get_job", {"id": job_id})[:2] == (404, "notfound")
    api.ok("abort_job", {"id": running})


def test_abort_by_key_and_completed(api: Api) -> None:
    """A key with `abort_jobs` aborts a running job, recorded with its title; a done job cannot be aborted (cases 153–154)."""
    event = script_event(api, "sleep 5")
    job_id = start_job(api, event["id"])
    wait_state(api, job_id, "active")
    client, key = make_key(api, {"abort_jobs": True})
    client.ok("abort_job", {"id": job_id})
    job = wait_job(api, job_id)
    assert job["code"] == "abort" and job["description"] == f"Manually aborted by API Key: {key['title']}"
    rows = api.ok("search_activity", {"query": f"action:job_abort keywords:{job_id}"})["rows"]
    assert rows
    status, code, desc = client.error("abort_job", {"id": job_id})
    assert (status, code) == (404, "job") and desc.startswith("Job not found or is no longer active")


def test_abort_kills_stubborn_tree(api: Api) -> None:
    """Abort kills a script that ignores SIGTERM, its grandchildren and a child that left its session."""
    script = (
        "trap '' TERM\n(trap '' TERM; sleep 30) &\necho child $!\n"
        "setsid sh -c \"trap '' TERM; sleep 30\" &\necho setsid $!\necho self $$\nsleep 30\n"
    )
    job_id = start_job(api, script_event(api, script)["id"])
    deadline = time.time() + 5
    text = ""
    while time.time() < deadline and "self" not in text:
        text = api.ok("tail_live_job_log", {"id": job_id})["text"]
        time.sleep(0.05)
    roots = [int(line.split()[1]) for line in text.splitlines() if line.split()[0] in ("child", "setsid", "self")]
    time.sleep(0.2)  # let the background shells start their sleeps
    pids = set(roots)
    for pid in roots:
        with contextlib.suppress(psutil.Error):
            pids.update(p.pid for p in psutil.Process(pid).children(recursive=True))
    assert len(pids) >= 5
    api.ok("abort_job", {"id": job_id})
    assert wait_job(api, job_id)["code"] == "abort"
    deadline = time.time() + 5
    while time.time() < deadline and _alive(pids):
        time.sleep(0.05)
    assert not _alive(pids)


def _alive(pids: set[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.Error:
            pass
    return alive


def test_retries(api: Api) -> None:
    """A `retry` limit of 2 makes three attempts, linked and tagged; only the last is `_last` (case 165)."""
    event = script_event(api, "exit 1", limits=[{"enabled": True, "type": "retry", "amount": 2}])
    first = run_wait(api, event["id"])
    chain = [first]
    while chain[-1].get("jobs"):
        chain.append(wait_job(api, chain[-1]["jobs"][0]["id"]))
    assert [j.get("retry_count", 0) for j in chain] == [0, 1, 2]
    assert [j.get("retry_prev") for j in chain[1:]] == [chain[0]["id"], chain[1]["id"]]
    assert all("_retried" in j["tags"] for j in chain[:2]) and "_last" in chain[2]["tags"]
    assert chain[0]["retried"] is True and chain[0]["jobs"][0]["reason"] == "retry"


def test_user_abort_is_not_retried(api: Api) -> None:
    """A manual abort never launches a retry (case 166)."""
    event = script_event(api, "sleep 5", limits=[{"enabled": True, "type": "retry", "amount": 2}])
    job_id = start_job(api, event["id"])
    wait_state(api, job_id, "active")
    api.ok("abort_job", {"id": job_id})
    job = wait_job(api, job_id)
    assert job["code"] == "abort" and not job.get("retried") and not job.get("jobs")


def test_get_jobs(api: Api) -> None:
    """`get_jobs` keeps order and duplicates, marks unknown ids, and hides heavy fields unless verbose (cases 149, 151, 152)."""
    job = run_wait(api, script_event(api, 'echo \'{"xy":1,"data":{"n":1}}\'')["id"])
    body = api.ok("get_jobs", {"ids": [job["id"], "jnope", job["id"]]})
    assert [j.get("id") for j in body["jobs"]] == [job["id"], None, job["id"]] and body["jobs"][1]["err"]
    assert "data" not in body["jobs"][0] and "input" not in body["jobs"][0]
    assert api.ok("get_jobs", {"ids": job["id"], "verbose": True})["jobs"][0]["data"] == {"n": 1}
    assert api.error("get_jobs", {})[1] == "job"


def test_get_jobs_scope(api: Api) -> None:
    """A category-limited key gets an `err` placeholder for a job outside its categories (case 150)."""
    category = uid("cat")
    api.ok("create_category", {"id": category, "title": "Scoped"})
    inside = run_wait(api, script_event(api, "true", category=category)["id"])
    outside = run_wait(api, script_event(api, "true")["id"])
    client, _ = make_key(api, {}, categories=[category])
    jobs = client.ok("get_jobs", {"ids": [inside["id"], outside["id"]]})["jobs"]
    assert jobs[0]["id"] == inside["id"] and "id" not in jobs[1] and jobs[1]["err"]
    assert client.error("get_job", {"id": outside["id"]})[:2] == (403, "access")


def test_event_job_history(api: Api) -> None:
    """`get_jobs {event}` lists an event's completed jobs newest first, paginated."""
    event = script_event(api, "true")
    ids = [run_wait(api, event["id"])["id"] for _ in range(3)]
    body = api.ok("get_jobs", {"event": event["id"], "limit": 2})
    assert [r["id"] for r in body["rows"]] == ids[::-1][:2] and body["list"]["length"] == 3
    assert [r["id"] for r in api.ok("get_jobs", {"event": event["id"], "offset": 2})["rows"]] == [ids[0]]


def test_delete_job(api: Api) -> None:
    """A running job cannot be deleted; a completed one can, with its log (cases 155–156)."""
    event = script_event(api, "echo x; sleep 1")
    job_id = start_job(api, event["id"])
    wait_state(api, job_id, "active")
    assert api.error("delete_job", {"id": job_id})[:2] == (409, "job")
    wait_job(api, job_id)
    api.ok("delete_job", {"id": job_id})
    assert api.error("get_job", {"id": job_id})[:2] == (404, "notfound")
    assert api.error("delete_job", {"id": job_id})[:2] == (404, "job")


def test_manage_job_tags(api: Api, server_url: str) -> None:
    """`manage_job_tags` replaces tags on completed jobs only, with exactly two parameters (case 157)."""
    job = run_wait(api, script_event(api, "true")["id"])
    api.ok("manage_job_tags", {"id": job["id"], "tags": ["flag"]})
    assert api.ok("get_job", {"id": job["id"]})["job"]["tags"] == ["flag"]
    assert api.error("manage_job_tags", {"id": job["id"], "tags": ["flag"], "x": 1})[1] == "job"
    running = start_job(api, script_event(api, "sleep 1")["id"])
    wait_state(api, running, "active")
    assert api.error("manage_job_tags", {"id": running, "tags": []})[1] == "job"


def test_tail_live_job_log(api: Api) -> None:
    """The live log tail shows output within a second; bad `bytes` are rejected; finished jobs tail "" (case 158)."""
    event = script_event(api, "echo first-line\nsleep 1.5")
    job_id = start_job(api, event["id"])
    deadline = time.time() + 5
    text = ""
    while time.time() < deadline and "first-line" not in text:
        text = api.ok("tail_live_job_log", {"id": job_id, "bytes": "32768"})["text"]
        time.sleep(0.05)
    assert "first-line" in text
    assert api.error("tail_live_job_log", {"id": job_id, "bytes": "32KB"})[:2] == (400, "api")
    assert api.error("tail_live_job_log", {"id": job_id, "bytes": 1048577})[:2] == (400, "api")
    wait_job(api, job_id)
    assert api.ok("tail_live_job_log", {"id": job_id})["text"] == ""


def test_progress_is_visible_while_running(api: Api) -> None:
    """A progress value held for a few seconds is visible through `get_job` (jobs.md §8)."""
    job_id = start_job(api, script_event(api, "echo 25%\nsleep 2")["id"])
    deadline = time.time() + 3
    progress = 0
    while time.time() < deadline and progress != 0.25:
        progress = api.ok("get_job", {"id": job_id})["job"].get("progress")
        time.sleep(0.05)
    assert progress == 0.25
    wait_job(api, job_id)


def test_active_summary_and_filters(api: Api) -> None:
    """The summary counts unfinished jobs per event by state and source."""
    event = script_event(api, "sleep 1")
    job_id = start_job(api, event["id"])
    wait_state(api, job_id, "active")
    summary = api.ok("get_active_job_summary")["events"][event["id"]]
    assert summary["states"] == {"active": 1} and summary["sources"] == {"key": 1} and summary["targets"] == {"main": 1}
    assert [j["id"] for j in api.ok("get_active_jobs", {"event": event["id"], "state": "active"})["rows"]] == [job_id]
    api.ok("abort_job", {"id": job_id})


def test_skip_delay(api: Api) -> None:
    """`job_skip_delay` only applies to active jobs: a finished one is `job` "Job not found" (404)."""
    job = run_wait(api, script_event(api, "true")["id"])
    assert api.error("job_skip_delay", {"id": job["id"]}) == (404, "job", f"Job not found: {job['id']}")


def test_update_job_admin_only(api: Api) -> None:
    """Admins may change fields of a stored job; others get `access`."""
    job = run_wait(api, script_event(api, "true")["id"])
    api.ok("update_job", {"id": job["id"], "label": "checked"})
    assert api.ok("get_job", {"id": job["id"]})["job"]["label"] == "checked"
    client, _ = make_key(api, {"run_jobs": True})
    assert client.error("update_job", {"id": job["id"], "label": "x"})[:2] == (403, "access")


def test_launch_brake(server_factory: object) -> None:
    """With `max_jobs_per_min` reached, run_event fails "Global jobs per minute limit…" (case 114)."""
    server: Server = server_factory("sqlite", env={"CRONWRIGHT_MAX_JOBS_PER_MIN": "2"})  # type: ignore[operator]
    api = server.client()
    event = script_event(api, "true")
    statuses = []
    for _ in range(5):
        status, body = api.call("run_event", {"id": event["id"]})
        statuses.append((status, body.get("description", "")))
    # five runs span at most two clock minutes (two launches each), so at least one is refused
    refused = [d for s, d in statuses if s == 409]
    assert refused and "Global jobs per minute limit has been reached (2/min)" in refused[0]
    assert sum(1 for s, _ in statuses if s == 200) <= 4


def test_retry_with_delay(api: Api) -> None:
    """A retry limit with `duration` starts the next attempt in `retry_delay` until its time."""
    event = script_event(api, "exit 1", limits=[{"enabled": True, "type": "retry", "amount": 1, "duration": 1}])
    first = run_wait(api, event["id"])
    retry_id = first["jobs"][0]["id"]
    waiting = api.ok("get_job", {"id": retry_id})["job"]
    assert waiting["state"] == "retry_delay" and waiting["until"] >= first["completed"] + 0.9
    retry = wait_job(api, retry_id)
    assert retry["retry_count"] == 1 and retry["started"] >= waiting["until"] - 0.01
