"""Retention: `run_maintenance` trims job records with their logs, and activity records, oldest first."""

from __future__ import annotations

import pytest

from tests.api.helpers import make_key, run_wait, script_event, uid
from tests.conftest import BACKENDS, StartServer

MAX_JOBS = 3
MAX_ACTIVITY = 20


@pytest.mark.parametrize("backend", BACKENDS)
def test_maintenance_trims_oldest_jobs_and_activity(server_factory: StartServer, backend: str) -> None:
    """With small maxima, a pass deletes the oldest jobs (records, search entries, log files)
    and the oldest activity rows, and keeps the newest of each."""
    server = server_factory(
        backend,
        env={
            "CRONWRIGHT_RETENTION_MAX_JOBS": str(MAX_JOBS),
            "CRONWRIGHT_RETENTION_MAX_ACTIVITY": str(MAX_ACTIVITY),
        },
    )
    api = server.client()
    event = script_event(api, "echo retained")
    jobs = [run_wait(api, event["id"])["id"] for _ in range(5)]
    logs = server.data_dir / "logs" / "jobs"
    assert all((logs / f"{job_id}.log.gz").exists() for job_id in jobs)
    tags = [api.ok("create_tag", {"id": uid("tag"), "title": f"Tag {n}"})["tag"]["id"] for n in range(MAX_ACTIVITY + 5)]
    limited, _ = make_key(api, {"delete_jobs": True})
    assert limited.error("run_maintenance")[:2] == (403, "access")
    before = api.ok("search_activity", {"query": "*", "limit": 1})["list"]["length"]
    assert before > MAX_ACTIVITY
    body = api.ok("run_maintenance")
    assert (body["jobs"], body["activity"]) == (2, before - MAX_ACTIVITY)
    assert 0 < body["longest_batch_ms"] < 10_000

    found = api.ok("search_jobs", {"query": "*", "limit": 50})
    assert [r["id"] for r in found["rows"]] == jobs[:1:-1] and found["list"]["length"] == MAX_JOBS
    for job_id in jobs[:2]:
        assert api.error("get_job", {"id": job_id})[:2] == (404, "notfound")
        assert not (logs / f"{job_id}.log.gz").exists()
    for job_id in jobs[2:]:
        assert api.ok("get_job", {"id": job_id})["job"]["code"] == 0
        assert (logs / f"{job_id}.log.gz").exists()
    activity = api.ok("search_activity", {"query": "*", "limit": 100})
    assert activity["list"]["length"] == MAX_ACTIVITY
    kept = {row.get("tag", {}).get("id") for row in activity["rows"] if isinstance(row.get("tag"), dict)}
    assert tags[-1] in kept and tags[0] not in kept
    again = api.ok("run_maintenance")
    assert (again["jobs"], again["activity"]) == (0, 0)
