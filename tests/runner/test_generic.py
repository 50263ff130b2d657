"""Ordinary plugin processes: command splitting, plugin scripts, the protocol, and exit handling
(plugins.md §3–§5)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runner.helpers import Harness, alive, kill_quietly


def test_exit_zero_without_record_is_a_warning(harness: Harness) -> None:
    """K.194: a plugin exiting 0 without a completion record ends as "warning", unknown=1, at once."""
    started = time.monotonic()
    result, _ = harness.run(harness.spec("/bin/sh -c 'echo hi'"))
    assert (result.code, result.description) == ("warning", "Process exited without reporting job completion.")
    assert result.fields["unknown"] == 1
    assert time.monotonic() - started < 0.5  # no "late record" sleep: both pipes were at EOF


def test_non_zero_exit_is_a_crash(harness: Harness) -> None:
    """A plugin exiting non-zero without a record ends with its exit code and "Child <pid> crashed"."""
    result, _ = harness.run(harness.spec('/bin/sh -c "exit 4"'))
    assert (result.code, result.description) == (4, f"Child {result.pid} crashed with code: 4")


def test_killed_by_a_signal_is_a_warning(harness: Harness) -> None:
    """A plugin killed by a signal without a record ends as "warning" with the signal recorded."""
    result, _ = harness.run(harness.spec("/bin/sh -c 'kill -9 $$'"))
    assert (result.code, result.signal, result.exit_code, result.fields["unknown"]) == ("warning", "SIGKILL", None, 1)


def test_completion_record_with_error_code(harness: Harness) -> None:
    """A record with a code completes the job with that code and description."""
    result, _ = harness.run(harness.spec('/bin/sh -c \'echo {\\"xy\\":1,\\"code\\":\\"critical\\"}\''))
    assert (result.code, result.description) == ("critical", "Unknown Error (no description provided)")


def test_complete_without_code_is_success_and_description_is_text(harness: Harness) -> None:
    """complete:true without code means code 0; a non-string description is coerced to text."""
    script = 'echo \'{"xy":1,"complete":true,"description":42}\'\n'
    result, _ = harness.run(harness.spec("/bin/sh", script=script))
    assert (result.code, result.description) == (0, "42")


def test_records_after_completion_are_ignored_but_text_is_logged(harness: Harness) -> None:
    """After a code record the job is complete: later records are ignored, text is still logged."""
    script = (
        'echo \'{"xy":1,"code":7,"description":"done"}\'\n'
        "sleep 0.1\necho later\n"
        'echo \'{"xy":1,"code":0,"data":{"x":1}}\'\n'
    )
    result, sink = harness.run(harness.spec("/bin/sh", script=script))
    assert (result.code, result.description, result.data) == (7, "done", {})
    assert sink.log == "later\n"


def test_plugin_script_is_appended_and_variables_expand(harness: Harness) -> None:
    """The plugin script (CRLF → LF) is written to the job's script directory and appended (relative
    to the job directory) as the last argument; ${VAR} in the command comes from the child env."""
    script = 'x=1\r\n[ "$x" = 1 ] && echo "script=$0 args=$#"\r\necho \'{"xy":1,"code":0}\'\r\n'
    spec = harness.spec("${SH_BIN} -e", script=script, base_env={"PATH": "/usr/bin:/bin", "SH_BIN": "/bin/sh"})
    result, sink = harness.run(spec)
    assert result.code == 0
    assert sink.log == "script=.cronwright/plugin-jtest1 args=0\n"
    assert oct((harness.cwd / ".cronwright" / "plugin-jtest1").stat().st_mode & 0o777) == "0o755"


def test_command_variables_expand_from_params(harness: Harness) -> None:
    """Command tokens expand $VAR from the child env (params included), keeping spaces in values; an
    upper-case param the plugin does not declare is not a variable (docs/security.md)."""
    spec = harness.spec("/bin/echo $msg ${msg}x $NOPE $TAR_OPTIONS", params={"msg": "a  b", "TAR_OPTIONS": "x"})
    result, sink = harness.run(spec)
    assert sink.log == "a  b a  bx  \n" and result.code == "warning"


def test_unknown_builtin_plugin(harness: Harness) -> None:
    """An unknown [name] command fails with "Plugin Error: Unknown built-in plugin: name"."""
    result, sink = harness.run(harness.spec("[nope-plugin]"))
    assert (result.code, result.description, result.pid) == (
        1,
        "Plugin Error: Unknown built-in plugin: nope-plugin",
        None,
    )
    assert sink.started == []


def test_missing_executable_is_a_spawn_error(harness: Harness) -> None:
    """A command that cannot be executed fails with "Child spawn error: <cmd>: <error>"."""
    result, _ = harness.run(harness.spec("/nonexistent/plugin --flag"))
    assert result.code == 1
    assert result.description.startswith("Child spawn error: /nonexistent/plugin: ")
    assert "No such file or directory" in result.description


def test_unbalanced_quotes_are_a_spawn_error(harness: Harness) -> None:
    """A command that cannot be split shell-style fails before anything runs."""
    result, _ = harness.run(harness.spec("/bin/echo 'open"))
    assert result.code == 1 and result.description.startswith("Child spawn error: ")


def test_malformed_records(harness: Harness) -> None:
    """Bad JSON is logged raw with a notice; echoes with type/state are dropped; bad data/push warn."""
    script = (
        "echo '{not json}'\n"
        'echo \'{"type":"event","xy":1,"code":5}\'\n'
        'echo \'{"state":"x"}\'\n'
        'echo \'{"xy":1,"data":[1]}\'\n'
        'echo \'{"xy":1,"push":{"tags":"flag"}}\'\n'
        'echo \'{"xy":1,"push":{"bad key":[1]}}\'\n'
        "echo '{}'\n"
        'echo \'{"xy":1,"code":0}\'\n'
    )
    result, sink = harness.run(harness.spec("/bin/sh", script=script))
    assert result.code == 0 and result.data == {} and sink.pushes == []
    assert sink.log == "{not json}\n{}\n"
    assert len(sink.notices) == 4 and sink.notices[0].startswith("Malformed JSON record ignored")
    assert result.notices == sink.notices


def test_protocol_fields_reach_updates_and_result(harness: Harness) -> None:
    """Other keys (status, perf, table, custom) are reported via on_update and land in fields."""
    script = (
        'echo \'{"xy":1,"status":"step 1","progress":0.25}\'\n'
        'echo \'{"xy":1,"serverData":{"a":[1]},"custom":{"k":1}}\'\n'
        'echo \'{"xy":1,"serverData":{"a":[2]},"perf":{"db":0.5},"code":0,"description":"ok"}\'\n'
    )
    result, sink = harness.run(harness.spec("/bin/sh", script=script))
    assert sink.updates[0] == {"status": "step 1", "progress": 0.25}
    assert result.fields == {
        "status": "step 1",
        "progress": 0.25,
        "serverData": {"a": [1, 2]},
        "custom": {"k": 1},
        "perf": {"db": 0.5},
    }
    assert (result.code, result.description) == (0, "ok")
    assert not any(key in update for update in sink.updates for key in ("code", "complete", "description"))


def test_large_job_line_is_written_without_blocking(harness: Harness) -> None:
    """A job line larger than the pipe buffer reaches a reading plugin whole."""
    spec = harness.spec("/bin/sh -c 'wc -c'", job={"blob": "x" * 300_000})
    result, sink = harness.run(spec)
    assert int(sink.log.strip()) > 300_000 and result.code == "warning"


def test_plugin_that_ignores_stdin(harness: Harness) -> None:
    """A plugin that exits without reading a large job line does not break the run (EPIPE ignored)."""
    result, _ = harness.run(harness.spec("/bin/true", job={"blob": "x" * 300_000}))
    assert result.code == "warning"


def test_background_process_holding_the_pipes(harness: Harness) -> None:
    """Output is read at most about a second after exit when a background process keeps stdout open."""
    script = 'sleep 5 &\necho "bg $!"\necho \'{"xy":1,"code":0}\'\n'
    started = time.monotonic()
    result, sink = harness.run(harness.spec("/bin/sh", script=script))
    elapsed = time.monotonic() - started
    background = int(sink.log.split()[1])
    kill_quietly([background])
    assert result.code == 0 and 0.9 < elapsed < 3
    assert any("background process" in notice for notice in result.notices)


def test_last_line_without_newline_and_crlf(harness: Harness) -> None:
    """A final line without a newline is still interpreted; a trailing CR is stripped."""
    script = 'printf \'one\\r\\n{"xy":1,"code":0,"description":"x"}\'\n'
    result, sink = harness.run(harness.spec("/bin/sh", script=script))
    assert sink.log == "one\n" and (result.code, result.description) == (0, "x")


@pytest.fixture
def open_cwd() -> Iterator[Path]:
    """A job directory another user can enter."""
    path = Path(tempfile.mkdtemp(prefix="cw-runner-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_runs_as_another_user(harness: Harness, open_cwd: Path) -> None:
    """uid "nobody" runs the script as that user, without root's groups, with its passwd variables."""
    script = '#!/bin/sh\necho "$(id -u) $(id -G) $USER $USERNAME $HOME"\n'
    result, sink = harness.with_cwd(open_cwd).shell(script, uid="nobody")
    assert result.code == 0, result.description
    uid, *groups, user, username, home = sink.log.split()
    assert (uid, user, username) == ("65534", "nobody", "nobody") and "0" not in groups
    assert home == os.path.expanduser("~nobody")


def test_unknown_user_and_group(harness: Harness) -> None:
    """Unknown run-as user or group fail with the xyOps "Plugin Error" messages."""
    result, _ = harness.shell("#!/bin/sh\ntrue\n", uid="no-such-user-x")
    assert (result.code, result.description) == (1, "Plugin Error: User does not exist: no-such-user-x")
    result, _ = harness.shell("#!/bin/sh\ntrue\n", gid="no-such-group-x")
    assert (result.code, result.description) == (1, "Plugin Error: Group does not exist: no-such-group-x")


def test_pid_is_the_spawned_process(harness: Harness) -> None:
    """JobRun.pid is the spawned process id, and the process is gone once the result is in."""
    result, sink = harness.shell("#!/bin/sh\necho $$\n")
    assert result.pid == int(sink.log) and not alive(result.pid)
