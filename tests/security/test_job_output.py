"""What a job hands back, and what a caller can make it hand back: a script that echoes a param can
be made to print protocol records (a newline inside the value starts a new line), so a job's output
may do no more than its launcher could through the API (docs/security.md, issue 8 review)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.api.helpers import create_event, make_key, run_wait, wait_job
from tests.support.server import Api

RUNNER = {"run_jobs": True}
ECHO = '#!/bin/bash\necho "Deploying version $version to production"\n'


def injected(*records: dict[str, Any]) -> str:
    """A param value that makes `echo "... $version ..."` print each record on a line of its own."""
    return "1.0\n" + "\n".join(json.dumps(r) for r in records) + "\n"


def test_output_cannot_change_what_the_retry_runs(api: Api, tmp_path: Path) -> None:
    """Output setting `params`, `plugin`, `test`, `category` or `targets` (plus a pushed retry limit)
    changes neither the job nor its retry: the retry runs the event's own script."""
    marker = tmp_path / "retry"
    event = create_event(api, params={"script": ECHO})
    runner, _ = make_key(api, RUNNER)
    record = {
        "xy": 1,
        "push": {"limits": [{"type": "retry", "enabled": True, "amount": 1}]},
        "params": {"script": f"#!/bin/sh\ntouch {marker}\n"},
        "plugin": "testplug",
        "test": True,
        "category": "nope",
        "targets": ["nope"],
        "code": 1,
    }
    job = run_wait(runner, event["id"], params={"version": injected(record)})
    assert job["params"]["script"] == ECHO and job["plugin"] == "shellplug" and not job.get("test")
    retry = wait_job(api, job["jobs"][0]["id"])
    assert retry["params"]["script"] == ECHO and retry["plugin"] == "shellplug" and retry["category"] == "general"
    assert "Deploying version" in retry["output"] and not marker.exists()


def test_output_files_stay_inside_the_job_directory(api: Api, tmp_path: Path) -> None:
    """A job (even one running as root) cannot attach files from outside its job directory, nor move
    them away with `delete`: the conductor's environment and other files stay where they are."""
    victim = tmp_path / "victim.txt"
    victim.write_text("secret")
    event = create_event(api, params={"script": ECHO})
    runner, _ = make_key(api, RUNNER)
    record = {
        "xy": 1,
        "files": [
            {"path": "/proc/self/environ", "filename": "env.txt"},
            {"path": str(victim), "delete": True},
            "/etc/hostname",
        ],
    }
    job = run_wait(runner, event["id"], params={"version": injected(record)})
    assert job["files"] == [] and victim.read_text() == "secret"
    assert any("outside the job directory" in row["msg"] for row in job["activity"]), job["activity"]


def test_run_cannot_choose_the_log_file_or_engine_fields(api: Api, tmp_path: Path) -> None:
    """`run_event` cannot set `log_file` (the script's `$JOB_LOG`), `invisible`, `retry_ok`,
    `parent`, `workflow` or `secrets`: they are dropped from the request."""
    target = tmp_path / "appended"
    event = create_event(api, params={"script": '#!/bin/sh\necho "x" >> "${JOB_LOG:-/dev/null}"\n'})
    runner, _ = make_key(api, RUNNER)
    extra = {
        "log_file": str(target),
        "invisible": True,
        "retry_ok": True,
        "parent": {"job": "jfake"},
        "workflow": {"x": 1},
        "secrets": {"a": "b"},
    }
    job = run_wait(runner, event["id"], **extra)
    assert not target.exists()
    assert not {"invisible", "parent", "workflow", "secrets", "retry_ok", "log_file"} & set(job), sorted(job)


def test_upper_case_params_are_not_environment_variables(api: Api, tmp_path: Path) -> None:
    """`TAR_OPTIONS`-style params (upper case, not declared by the plugin) do not reach the
    environment of a script that runs `tar`; a lower-case param does, and both are on stdin."""
    marker = tmp_path / "tar"
    script = (
        "#!/bin/bash\nread -r line\n"
        'echo "msg=$message"\n'
        f"tar cf {tmp_path}/out.tar -C /etc hostname\n"
        'case "$line" in *TAR_OPTIONS*) echo stdin-has-it ;; esac\n'
    )
    event = create_event(api, params={"script": script})
    runner, _ = make_key(api, RUNNER)
    options = f'--checkpoint=1 --checkpoint-action=exec="touch {marker}"'
    job = run_wait(runner, event["id"], params={"TAR_OPTIONS": options, "message": "hi"})
    assert "msg=hi" in job["output"] and "stdin-has-it" in job["output"]
    assert not marker.exists()
    assert any("TAR_OPTIONS" in row["msg"] for row in job["activity"]), job["activity"]
