"""``cronwright events ...`` against a real server: listing, changing, running and waiting."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from cronwright.cli.follow import exit_code_of
from tests.api.helpers import create_event, script_event, uid, wait_job, wait_state
from tests.cli.conftest import Cli
from tests.support.server import Api

#: ten digits in a row: a raw epoch in output meant for people
RAW_EPOCH = re.compile(r"\b1\d{9}\b")


def test_run_wait_exits_zero_when_the_job_succeeds(admin: Api, cli: Cli) -> None:
    """``run --wait`` ends when the job does and exits 0 for a successful job, naming the job."""
    event = script_event(admin, "echo fine")
    result = cli("events", "run", event["id"], "--wait")
    assert result.returncode == 0, result.stderr
    job_id = re.search(r"Job (\w+): success", result.stdout)
    assert job_id, result.stdout
    assert wait_job(admin, job_id.group(1))["code"] == 0


def test_run_wait_exits_three_when_the_job_fails(admin: Api, cli: Cli) -> None:
    """A failing job makes ``run --wait`` exit 3 and say why; ``--json`` prints the final job."""
    event = script_event(admin, "echo broken >&2\nexit 7")
    result = cli("events", "run", event["id"], "--wait")
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "failed" in result.stdout
    as_json = cli("events", "run", event["id"], "--wait", "--json")
    assert as_json.returncode == 3
    body = json.loads(as_json.stdout)
    assert body["code"] == 0 and body["job"]["code"] != 0 and body["job"]["final"] is True


def test_run_follow_streams_the_log_and_passes_params_and_files(admin: Api, cli: Cli, tmp_path: Path) -> None:
    """``--follow`` prints the job's output as it runs; ``--param`` and ``--file`` reach the job."""
    event = script_event(admin, 'echo "greeting=$greeting"\nsleep 0.5\ncat upload.txt\necho done')
    upload = tmp_path / "upload.txt"
    upload.write_text("from the file\n")
    result = cli("events", "run", event["id"], "--follow", "--param", "greeting=hello", "--file", str(upload))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:3] == ["greeting=hello", "from the file", "done"], result.stdout
    assert "success" in result.stderr


def test_run_without_wait_prints_the_job_id(admin: Api, cli: Cli) -> None:
    """Without ``--wait`` the command starts the job and returns at once; ``--json`` is the API answer."""
    event = script_event(admin, "echo later")
    body = json.loads(cli("events", "run", event["id"], "--json").stdout)
    assert body["code"] == 0
    assert wait_job(admin, body["id"])["code"] == 0


def test_list_and_get(admin: Api, cli: Cli) -> None:
    """``list`` shows the event in a table with readable times; ``--json`` parses and has the rows."""
    event = create_event(admin, title=f"Listed {uid()}")
    human = cli("events", "list")
    assert human.returncode == 0 and event["id"] in human.stdout and event["title"] in human.stdout
    assert not RAW_EPOCH.search(human.stdout), human.stdout
    body = json.loads(cli("events", "list", "--json").stdout)
    assert event["id"] in [row["id"] for row in body["rows"]]
    shown = cli("events", "get", event["id"])
    assert shown.returncode == 0 and "Title" in shown.stdout and event["title"] in shown.stdout
    assert not RAW_EPOCH.search(shown.stdout), shown.stdout


def test_create_update_enable_disable_delete(cli: Cli, tmp_path: Path, admin: Api) -> None:
    """An event goes through its life from the command line."""
    event_id = uid("ev")
    spec = {
        "id": event_id,
        "title": "From a file",
        "enabled": True,
        "category": "general",
        "targets": ["main"],
        "algo": "random",
        "plugin": "shellplug",
        "params": {"script": "#!/bin/sh\necho hi\n"},
        "triggers": [{"type": "manual", "enabled": True}],
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(spec))
    created = cli("events", "create", "-f", str(path))
    assert created.returncode == 0 and event_id in created.stdout, created.stderr
    assert (
        cli(
            "events",
            "update",
            event_id,
            "--set",
            "title=Renamed",
            "--set",
            'params={"script": "#!/bin/sh\\necho changed\\n"}',
        ).returncode
        == 0
    )
    event = admin.ok("get_event", {"id": event_id})["event"]
    assert event["title"] == "Renamed" and event["params"]["script"] == "#!/bin/sh\necho changed\n"
    assert cli("events", "disable", event_id).returncode == 0
    assert admin.ok("get_event", {"id": event_id})["event"]["enabled"] is False
    assert cli("events", "enable", event_id).returncode == 0
    assert admin.ok("get_event", {"id": event_id})["event"]["enabled"] is True
    refused = cli("events", "delete", event_id)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert cli("events", "delete", event_id, "--yes").returncode == 0
    assert admin.error("get_event", {"id": event_id})[0] == 404


def test_api_errors_are_one_line_with_code_and_suggestion(admin: Api, cli: Cli) -> None:
    """An API failure prints ``Error: <description> (<code>)`` with a did-you-mean, exits 1, no traceback."""
    event = create_event(admin)
    result = cli("events", "get", event["id"] + "x")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and "(notfound)" in result.stderr
    assert f"Did you mean '{event['id']}'" in result.stderr
    bad_file = cli("events", "create", "-f", "/nonexistent/event.json")
    assert bad_file.returncode != 0 and "Error" in bad_file.stderr


def test_run_wait_exits_five_when_the_job_is_aborted(admin: Api, cli_env_vars: dict[str, str]) -> None:
    """A job aborted while ``run --wait`` waits makes it exit 5."""
    event = script_event(admin, "sleep 30")
    waiter = subprocess.Popen(
        [sys.executable, "-m", "cronwright", "events", "run", event["id"], "--wait"],
        env=cli_env_vars,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert waiter.stderr is not None
        started = re.search(r"Started job (\w+)", waiter.stderr.readline())
        assert started, "the command names the job it started"
        wait_state(admin, started.group(1), "active")
        admin.ok("abort_job", {"id": started.group(1)})
        out, errors = waiter.communicate(timeout=30)
    finally:
        waiter.kill()
    assert waiter.returncode == 5, (out, errors)
    assert "aborted" in out


def test_exit_codes_follow_the_job_code() -> None:
    """0 success, 3 failure, 4 warning, 5 abort: the table in docs/cli.md."""
    cases = {0: 0, None: 0, 1: 3, "bad_thing": 3, "warning": 4, "abort": 5, "critical": 3}
    assert {code: exit_code_of({"code": code}) for code in cases} == cases
