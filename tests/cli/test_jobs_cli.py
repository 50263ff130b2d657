"""``cronwright jobs ...``, ``upcoming`` and ``status`` against a real server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.api.helpers import create_event, run_wait, script_event, start_job, wait_job, wait_state
from tests.cli.conftest import Cli
from tests.cli.test_events_cli import RAW_EPOCH
from tests.support.server import Api


def test_jobs_log_prints_the_output_of_a_completed_job(admin: Api, cli: Cli) -> None:
    """``jobs log`` prints exactly what the job wrote."""
    event = script_event(admin, "echo first line\necho second line")
    job = run_wait(admin, event["id"])
    result = cli("jobs", "log", job["id"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["first line", "second line"]


def test_jobs_log_follow_prints_a_running_job_to_its_end(admin: Api, cli_env_vars: dict[str, str]) -> None:
    """``jobs log --follow`` on a running job prints what it already wrote, keeps printing while it
    runs, and ends when the job does."""
    event = script_event(admin, "echo before\nwhile [ ! -e go ]; do sleep 0.05; done\necho after")
    job_id = start_job(admin, event["id"])
    job = wait_state(admin, job_id, "active")
    deadline = time.time() + 15
    while "before" not in admin.ok("tail_live_job_log", {"id": job_id})["text"]:
        assert time.time() < deadline, "the job did not write its first line"
        time.sleep(0.05)
    follower = subprocess.Popen(
        [sys.executable, "-m", "cronwright", "jobs", "log", job_id, "--follow"],
        env=cli_env_vars,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "before\n"  # attached while the job still runs
        assert follower.poll() is None
        (Path(job["cwd"]) / "go").touch()
        rest, errors = follower.communicate(timeout=30)
    finally:
        follower.kill()
    assert follower.returncode == 0, errors
    assert rest.splitlines() == ["after"]
    assert "Traceback" not in errors


def test_jobs_get_and_abort(admin: Api, cli: Cli) -> None:
    """``jobs get`` shows the result with readable times; ``jobs abort`` stops a running job."""
    event = script_event(admin, "sleep 30")
    job_id = start_job(admin, event["id"])
    wait_state(admin, job_id, "active")
    shown = cli("jobs", "get", job_id)
    assert shown.returncode == 0 and "running" in shown.stdout
    assert not RAW_EPOCH.search(shown.stdout), shown.stdout
    assert cli("jobs", "abort", job_id).returncode == 0
    assert wait_job(admin, job_id)["code"] == "abort"
    body = json.loads(cli("jobs", "get", job_id, "--json").stdout)
    assert body["job"]["code"] == "abort"


def test_jobs_list_uses_search_jobs(admin: Api, cli: Cli) -> None:
    """``jobs list --event E`` lists that event's completed jobs; ``--failed`` only the failed ones;
    ``--json`` is the search_jobs answer."""
    event = script_event(admin, 'test "$fail" = yes && exit 2\necho ok')
    good = run_wait(admin, event["id"])
    bad = run_wait(admin, event["id"], params={"fail": "yes"})
    assert bad["code"] != 0
    body = json.loads(cli("jobs", "list", "--event", event["id"], "--json").stdout)
    assert {row["id"] for row in body["rows"]} == {good["id"], bad["id"]} and body["list"]["length"] == 2
    failed = json.loads(cli("jobs", "list", "--event", event["id"], "--failed", "--since", "1d", "--json").stdout)
    assert [row["id"] for row in failed["rows"]] == [bad["id"]]
    human = cli("jobs", "list", "--event", event["id"])
    assert human.returncode == 0 and good["id"] in human.stdout and "success" in human.stdout
    assert not RAW_EPOCH.search(human.stdout), human.stdout
    assert re.search(r"\d(\.\d)? s\b", human.stdout), human.stdout  # durations in words
    assert cli("jobs", "list", "--since", "yesterday-ish").returncode == 2


def test_upcoming_lists_the_next_runs_readably(admin: Api, cli: Cli) -> None:
    """``upcoming`` shows the next runs with local times, never raw epochs; ``--json`` is the API answer."""
    hourly = {"type": "schedule", "enabled": True, "minutes": [0], "timezone": "UTC"}
    event = create_event(admin, title="Hourly upcoming", triggers=[hourly], enabled=False)
    body = json.loads(cli("upcoming", "--event", event["id"], "--all", "--json").stdout)
    assert len(body["rows"]) == 24 and body["rows"][0]["reason"] == "disabled"
    assert json.loads(cli("upcoming", "--event", event["id"], "--json").stdout)["rows"] == []
    human = cli("upcoming", "--event", event["id"], "--all", "--hours", "3")
    assert human.returncode == 0 and "Hourly upcoming" in human.stdout and "skipped" in human.stdout
    assert not RAW_EPOCH.search(human.stdout), human.stdout
    assert re.search(r"in \d+ (minute|hour)", human.stdout), human.stdout


def test_status(cli: Cli) -> None:
    """``status`` says the server is up, its version, and the job counts."""
    result = cli("status")
    assert result.returncode == 0, result.stderr
    assert "is up" in result.stdout and "Version" in result.stdout and "running" in result.stdout
    body = json.loads(cli("status", "--json").stdout)
    assert body["version"] and "rows" in body["active"]
