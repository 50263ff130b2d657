"""The built-in Shell plugin with real scripts (conformance cases K.184–K.195, plugins.md §6)."""

from __future__ import annotations

import json
import re

import cronwright
from tests.runner.helpers import Harness


def test_success_logs_output(harness: Harness) -> None:
    """K.184: a script that echoes succeeds with code 0 and its output in the log."""
    result, sink = harness.shell("#!/bin/sh\necho hello\n")
    assert (result.code, result.description, result.exit_code) == (0, "", 0)
    assert sink.log == "hello\n"
    assert sink.started == [result.pid] and result.pid
    assert "html" not in result.fields


def test_exit_code_becomes_the_job_code(harness: Harness) -> None:
    """K.185: a non-zero exit is the job's code with "Script exited with code: N"."""
    result, _ = harness.shell("#!/bin/sh\nexit 3\n")
    assert (result.code, result.description) == (3, "Script exited with code: 3")


def test_stderr_line_in_description_and_error_output_html(harness: Harness) -> None:
    """K.186: stderr is logged raw, its first line ends the description, and html holds it escaped."""
    result, sink = harness.shell("#!/bin/sh\necho 'oops' >&2\necho '<b>&' >&2\nexit 1\n")
    assert result.description == "Script exited with code: 1: oops"
    assert result.fields["html"] == {"title": "Error Output", "content": "<pre>oops\n&lt;b&gt;&amp;</pre>"}
    assert sink.log == "oops\n<b>&\n"


def test_stderr_of_a_successful_script_adds_no_html(harness: Harness) -> None:
    """CHOICE: warnings on stderr of a successful script are logged but attach no Error Output."""
    result, sink = harness.shell("#!/bin/sh\necho 'just a warning' >&2\n")
    assert result.code == 0 and "html" not in result.fields
    assert "just a warning" in sink.log


def test_long_first_stderr_line_is_not_appended(harness: Harness) -> None:
    """A first stderr line of 256 characters or more stays out of the description."""
    result, _ = harness.shell("#!/bin/sh\nprintf '%0300d\\n' 0 >&2\nexit 2\n")
    assert result.description == "Script exited with code: 2"


def test_script_html_is_not_replaced_by_error_output(harness: Harness) -> None:
    """A script that sent its own html keeps it even when it fails with stderr text."""
    script = '#!/bin/sh\necho \'{"xy":1,"html":{"title":"Mine","content":"x"}}\'\necho bad >&2\nexit 1\n'
    result, _ = harness.shell(script)
    assert result.fields["html"] == {"title": "Mine", "content": "x"}


def test_percent_lines_are_progress_not_log(harness: Harness) -> None:
    """K.187: "50%" reports progress 0.5 and is not logged; decimals work and values are clamped."""
    result, sink = harness.shell("#!/bin/sh\necho 50%\necho '  12.5% '\necho 250%\necho done\n")
    progress = [update["progress"] for update in sink.updates if "progress" in update]
    assert progress == [0.5, 0.125, 1.0]
    assert sink.log == "done\n"
    assert result.fields["progress"] == 1.0


def test_reported_success_wins_over_exit_status(harness: Harness) -> None:
    """K.188 (trap): after {"xy":1,"code":0} the job is complete and exit 5 is ignored."""
    result, _ = harness.shell('#!/bin/sh\necho \'{"xy":1,"code":0}\'\nexit 5\n')
    assert (result.code, result.description, result.exit_code) == (0, "", 5)


def test_json_without_xy_is_logged(harness: Harness) -> None:
    """K.189: a JSON line without xy is logged (compact) and leaves the data alone."""
    result, sink = harness.shell("#!/bin/sh\necho '{ \"foo\": 1 }'\n")
    assert sink.log == '{"foo":1}\n'
    assert result.data == {} and result.code == 0


def test_data_records_merge_and_concatenate_arrays(harness: Harness) -> None:
    """K.190: {a:[1]} then {a:[2], b:2} accumulate to {a:[1,2], b:2}; each record's update carries
    the accumulated value itself (not a copy: copying per record would be quadratic)."""
    script = '#!/bin/sh\necho \'{"xy":1,"data":{"a":[1]}}\'\necho \'{"xy":1,"data":{"a":[2],"b":2}}\'\n'
    result, sink = harness.shell(script)
    assert result.data == {"a": [1, 2], "b": 2}
    updates = [update["data"] for update in sink.updates if "data" in update]
    assert len(updates) == 2 and all(update is result.data for update in updates)


def test_push_tags_are_forwarded(harness: Harness) -> None:
    """K.191: push.tags reaches the sink (the engine keeps only known tags)."""
    result, sink = harness.shell('#!/bin/sh\necho \'{"xy":1,"push":{"tags":["flag"]}}\'\n')
    assert sink.pushes == [{"tags": ["flag"]}]
    assert result.code == 0


def test_environment(harness: Harness) -> None:
    """K.192: JOB_ID, JOB_NOW, params (booleans true/false), data_*, server_data_*; no XYOPS_* host vars."""
    spec = harness.shell_spec(
        "#!/bin/sh\nenv > env.txt\n",
        params={"flag": True, "off": False, "count": 3, "ratio": 1.5, "obj": {"a": [1]}, "my-key": "v", "none": None},
        job={"input": {"data": {"k": "v", "n": 2.0}, "files": []}, "serverData": {"rack": "r1"}},
        base_env={"PATH": "/usr/bin:/bin", "XYOPS_HOST_SECRET": "x", "KEEP": "1"},
        base_url="http://127.0.0.1:5522",
    )
    result, _ = harness.run(spec)
    assert result.code == 0
    lines = (harness.cwd / "env.txt").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines if "=" in line)
    assert env["JOB_ID"] == "jtest1" and env["JOB_NOW"] == "1766111340.5"
    assert (env["flag"], env["off"], env["count"], env["ratio"]) == ("true", "false", "3", "1.5")
    assert env["obj"] == '{"a":[1]}' and env["my_key"] == "v" and env["none"] == ""
    assert (env["data_k"], env["data_n"], env["server_data_rack"]) == ("v", "2", "r1")
    assert env["CRONWRIGHT"] == "1" and env["XYOPS"] == cronwright.__version__
    assert env["JOB_BASE_URL"] == "http://127.0.0.1:5522" and env["PWD"] == str(harness.cwd)
    assert env["KEEP"] == "1" and not any(key.startswith("XYOPS_") for key in env)


def test_annotate_prefixes_plain_lines_only(harness: Harness) -> None:
    """K.195: annotate prefixes stdout text with [YYYY-MM-DD HH:MM:SS]; stderr and JSON stay raw."""
    script = "#!/bin/sh\necho hello\necho err >&2\necho '{\"foo\":1}'\n"
    _, sink = harness.shell(script, params={"annotate": True})
    lines = sink.log.splitlines()
    stamped = [line for line in lines if line.endswith("hello")]
    assert len(stamped) == 1 and re.fullmatch(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] hello", stamped[0])
    assert sorted(set(lines) - set(stamped)) == ["err", '{"foo":1}']


def test_script_without_shebang_fails_to_start(harness: Harness) -> None:
    """A script without a shebang cannot be executed: code 1 "Script failed: ..." and no process."""
    result, sink = harness.shell("echo hi\n")
    assert result.code == 1
    assert result.description.startswith("Script failed: ") and "Exec format error" in result.description
    assert result.pid is None and sink.started == []


def test_script_with_crlf_line_endings_runs(harness: Harness) -> None:
    """CRLF line endings are converted, so the shebang line and the commands work."""
    result, sink = harness.shell('#!/bin/sh\r\nx=1\r\n[ "$x" = 1 ] && echo crlf-ok\r\n')
    assert result.code == 0 and sink.log == "crlf-ok\n"
    assert oct((harness.cwd / ".cronwright" / "script-jtest1").stat().st_mode & 0o777) == "0o775"


def test_script_killed_by_a_signal_reports_its_name(harness: Harness) -> None:
    """A script killed by a signal gets the signal's name as its code."""
    result, _ = harness.shell("#!/bin/sh\nkill -9 $$\n")
    assert (result.code, result.description, result.signal) == (
        "SIGKILL",
        "Script exited with code: SIGKILL",
        "SIGKILL",
    )
    assert result.exit_code is None


def test_pass_param_emits_input_data_first(harness: Harness) -> None:
    """The legacy pass param makes input data the first output data."""
    spec = harness.shell_spec(
        '#!/bin/sh\necho \'{"xy":1,"data":{"added":true}}\'\n',
        params={"pass": True},
        job={"input": {"data": {"k": 1}}},
    )
    result, _ = harness.run(spec)
    assert result.data == {"k": 1, "added": True}


def test_job_line_on_stdin(harness: Harness) -> None:
    """The script's stdin carries the job as one JSON line with xy, type "event", cwd and the
    spec's log_file (never one the job document carries)."""
    spec = harness.shell_spec(
        "#!/bin/sh\ncat > job.json\n",
        job={"type": "adhoc", "log_file": "/etc/from-the-job", "input": {"data": {}}},
        base_url="http://x",
        log_file="/tmp/job.log",
    )
    result, _ = harness.run(spec)
    job = json.loads((harness.cwd / "job.json").read_text())
    assert result.code == 0
    assert (job["xy"], job["type"], job["id"], job["cwd"]) == (1, "event", "jtest1", str(harness.cwd))
    assert (job["log_file"], job["base_url"], job["params"]["script"]) == (
        "/tmp/job.log",
        "http://x",
        spec.job["params"]["script"],
    )
    assert (harness.cwd / "job.json").read_text().count("\n") == 1
