"""Issue 10 points 2, 3 and 6 through real jobs: every job has its own log file (`log_file` and
`$JOB_LOG`, attached as `job-<id>.log`), `markdown`/`text`/`html` records become sanitized `html`
(sdk-wire.md §3), and final records drop the live-only fields (§6)."""

from __future__ import annotations

import os
import sys
from typing import Any

import httpx
import pytest

from tests.api.helpers import create_event, run_wait, script_event, uid
from tests.support.server import Api

#: a plugin that checks what it was given and logs one line the way the SDK's job.logger does
LOGGER_PLUGIN = f"""
{sys.executable} -c '
import json, os, sys, time
job = json.loads(sys.stdin.readline())
path = job["log_file"]
assert path == os.environ["JOB_LOG"], (path, os.environ["JOB_LOG"])
assert os.path.isabs(path) and os.path.isdir(os.path.dirname(path)), path
assert os.path.basename(path) == "job-" + job["id"] + ".log"
with open(path, "a") as log:
    log.write("[%.3f][2026-12-03 10:20:00][worker01][%d][%s][%s][debug][1][Starting backup][]\\n" % (time.time(), os.getpid(), job["event"], job["id"]))
print("stdout line")
'
"""


def test_job_log_file_is_attached(api: Api) -> None:
    """§7 check 5: `log_file` equals `$JOB_LOG`, is absolute, its directory exists; what the
    plugin writes there becomes the last file, `job-<id>.log`, downloadable; it never reaches the
    job's own output, and `log_file` never appears on the record."""
    script = LOGGER_PLUGIN + 'echo mine > own.txt\necho \'{"xy":1,"files":["own.txt"]}\'\n'
    job = run_wait(api, script_event(api, script)["id"])
    assert job["code"] == 0, (job["description"], job.get("output"))
    names = [record["filename"] for record in job["files"]]
    assert names == ["own.txt", f"job-{job['id']}.log"]
    attachment = job["files"][-1]
    assert attachment["job"] == job["id"] and attachment["server"] == job["server"]
    assert attachment["path"].startswith(f"files/jobs/{job['id']}/")
    assert {"id", "date", "filename", "path", "size", "server", "job"} <= attachment.keys()
    body = httpx.get(f"{api.base_url}/{attachment['path']}", timeout=30)
    assert body.status_code == 200 and "[debug][1][Starting backup][]" in body.text
    assert attachment["size"] == len(body.content)
    assert "Starting backup" not in job["output"] and "stdout line" in job["output"]
    assert "log_file" not in job and "_files" in job["tags"]


def test_empty_job_log_file_is_not_attached(api: Api) -> None:
    """§7 check 6: a plugin that only truncates `$JOB_LOG` succeeds and has no attachment."""
    job = run_wait(api, script_event(api, ': > "$JOB_LOG"\ntest -f "$JOB_LOG"')["id"])
    assert job["code"] == 0 and job["files"] == []


def test_job_log_file_symlink_is_not_followed(api: Api) -> None:
    """A plugin that turns its log file into a link to another file attaches nothing of it."""
    job = run_wait(api, script_event(api, 'ln -s /etc/hostname "$JOB_LOG"')["id"])
    assert job["code"] == 0 and job["files"] == []


def _html_of(api: Api, record: str) -> dict:
    """The job that prints ``record``; ``@@`` becomes ``{{`` at run time (macros typed in a script
    are expanded when the job launches)."""
    script = "cat > /dev/null\nsed 's/@@/{{/g' <<'EOF'\n" + record + "\nEOF\n"
    job = run_wait(api, script_event(api, script)["id"])
    assert job["code"] == 0, job["description"]
    return job


def test_markdown_becomes_sanitized_html(api: Api) -> None:
    """§7 checks 7 and 10: markdown renders inside `markdown-body`, macros expand to the job's
    values (`n/a` when undefined), hostile HTML inside is removed; no raw `markdown` key."""
    record = (
        '{"xy":1,"markdown":{"title":"T","content":"**b** <script>alert(1)</script> '
        '[js](javascript:alert(1)) <img src=x onerror=alert(1)> id=@@job.id}} nope=@@nope}}","caption":"C"}}'
    )
    job = _html_of(api, record)
    html = job["html"]
    assert html["title"] == "T" and html["caption"] == "C" and "markdown" not in job
    content = html["content"]
    assert content.startswith('<div class="markdown-body"><p><strong>b</strong>') and content.endswith("</div>")
    assert f"id={job['id']}" in content and "nope=n/a" in content and "<a>js</a>" in content
    for bad in ("<script", "onerror", "javascript:", "<img"):
        assert bad not in content


def test_text_becomes_escaped_pre(api: Api) -> None:
    """§7 check 8."""
    job = _html_of(api, '{"xy":1,"text":{"title":"T","content":"a < b & c"}}')
    assert job["html"] == {"title": "T", "content": "<pre>a &lt; b &amp; c</pre>"} and "text" not in job


def test_html_is_sanitized(api: Api) -> None:
    """§7 check 9, on the stored record and on `get_job`."""
    record = (
        '{"xy":1,"html":{"title":"H","content":"<b onclick=\\"x()\\">b</b><script>alert(1)</script>'
        '<a href=\\"javascript:alert(1)\\">j</a><svg onload=alert(1)></svg>"}}'
    )
    job = _html_of(api, record)
    stored = api.ok("get_job", {"id": job["id"]})["job"]["html"]["content"]
    for content in (job["html"]["content"], stored):
        assert "<b>b</b>" in content and "<a>j</a>" in content
        for bad in ("script", "onclick", "javascript:", "svg", "onload"):
            assert bad not in content


def test_update_job_sanitizes_html(api: Api) -> None:
    """An administrator's `update_job` cannot plant script in a record either."""
    job = run_wait(api, script_event(api, "true")["id"])
    api.ok("update_job", {"id": job["id"], "html": {"title": "x", "content": "<i>ok</i><script>bad()</script>"}})
    assert api.ok("get_job", {"id": job["id"]})["job"]["html"]["content"] == "<i>ok</i>"


def test_final_record_drops_live_only_fields(api: Api) -> None:
    """§7 check 15: after `status` was set, the completed job has no `status` or `redraw`, and `progress` 1."""
    script = 'echo \'{"xy":1,"status":"working","progress":0.3,"table":{"rows":[[1]]}}\'\nsleep 0.3'
    job = run_wait(api, script_event(api, script)["id"])
    stored = api.ok("get_job", {"id": job["id"]})["job"]
    for record in (job, stored):
        assert not {"status", "redraw", "remote", "log_file", "push", "retry_ok", "until", "position"} & record.keys()
        assert record["progress"] == 1 and record["table"] == {"rows": [[1]]}


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_job_log_file_of_a_job_running_as_another_user(api: Api) -> None:
    """A plugin running as `nobody` can write its `$JOB_LOG` (the private data directory is out of
    its reach, so the file lives in a directory of its own) and the file is attached."""
    plugin = api.ok(
        "create_plugin",
        {
            "title": uid("Nobody"),
            "type": "event",
            "command": "/bin/sh",
            "script": 'echo "written by $(id -un)" >> "$JOB_LOG"\necho \'{"xy":1,"code":0}\'\n',
            "uid": "nobody",
        },
    )["plugin"]
    job = run_wait(api, create_event(api, plugin=plugin["id"], params={})["id"])
    assert job["code"] == 0, (job["description"], job.get("output"))
    assert [record["filename"] for record in job["files"]] == [f"job-{job['id']}.log"]
    body = httpx.get(f"{api.base_url}/{job['files'][0]['path']}", timeout=30)
    assert body.text == "written by nobody\n"


def test_output_files_over_the_cap_are_left_out(server_factory: Any) -> None:
    """A sparse `$JOB_LOG` (or output file) claiming gigabytes cannot fill the conductor's disk:
    files over `job_output_file_max_bytes` are not stored and the meta log says so."""
    server = server_factory("sqlite", env={"CRONWRIGHT_JOB_OUTPUT_FILE_MAX_BYTES": "100000"})
    api = server.client()
    script = (
        'truncate -s 50G "$JOB_LOG"\nhead -c 200000 /dev/zero > big.bin\necho small > small.txt\n'
        'echo \'{"xy":1,"files":["big.bin","small.txt"]}\''
    )
    job = run_wait(api, script_event(api, script)["id"])
    assert job["code"] == 0 and [f["filename"] for f in job["files"]] == ["small.txt"]
    notes = [row["msg"] for row in job.get("activity") or []]
    assert any("Output file too large, not stored: big.bin" in n for n in notes), notes
    assert any(f"Output file too large, not stored: job-{job['id']}.log" in n for n in notes), notes
    assert sum(p.stat().st_blocks for p in (server.data_dir / "files").rglob("*") if p.is_file()) < 10_000
