"""Action plugins (plugins.md §8): real ``/bin/sh`` processes with stdin, environment, exit and timeout."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import psutil

from cronwright.notify import Outcome, run_action_plugin
from tests.notify.samples import hook_data
from tests.support.sinks import wait_until

BASE_URL = "http://cw.test"


def run(plugin: dict[str, Any], *, params: dict[str, Any] | None = None, timeout_s: float | None = None,
        env: dict[str, str] | None = None) -> tuple[Outcome, float]:  # fmt: skip
    started = time.monotonic()
    outcome = asyncio.run(
        run_action_plugin(
            plugin,
            params=params or {},
            data=hook_data(),
            condition="success",
            base_url=BASE_URL,
            env=env if env is not None else {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            timeout_s=timeout_s,
        )
    )
    return outcome, time.monotonic() - started


def sh_plugin(script: str, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {"id": "pact", "type": "action", "command": "/bin/sh", "script": script, "cwd": str(tmp_path), **extra}


def test_reads_stdin_and_reports_with_the_last_json_line(tmp_path: Path) -> None:
    """The plugin gets one JSON line (hook data + xy/type/condition/params/base_url); its final xy line wins."""
    script = (
        "#!/bin/sh\r\ncat > input.json\r\necho \"$0\" > script.path\r\necho 'working...'\r\n"
        'echo \'{"xy":1,"code":0,"description":"done"}\'\r\n'
    )
    outcome, _ = run(sh_plugin(script, tmp_path), params={"level": 3})
    assert (outcome.code, outcome.description) == (0, "done")
    assert outcome.elapsed_ms > 0
    document = json.loads((tmp_path / "input.json").read_text())
    assert document["xy"] == 1 and document["type"] == "action" and document["condition"] == "success"
    assert document["params"] == {"level": 3} and document["secrets"] == {} and document["base_url"] == BASE_URL
    assert document["job"]["id"] == "jtest1" and document["event"]["title"] == "Nightly Backup"
    assert (tmp_path / "input.json").read_text().count("\n") == 1
    script_path = Path((tmp_path / "script.path").read_text().strip())
    assert script_path.name.endswith(".script") and not script_path.exists()


def test_params_and_xyops_variables_reach_the_environment(tmp_path: Path) -> None:
    """Each param becomes an env var (non-word characters → _), next to XYOPS and XYOPS_BASE_URL."""
    script = 'printf "%s|%s|%s|%s|%s" "$greeting_word" "$flag" "$obj" "$XYOPS_BASE_URL" "$XYOPS" > env.txt\n'
    params = {"greeting-word": "hi there", "flag": True, "obj": {"a": 1}}
    outcome, _ = run(sh_plugin(script, tmp_path), params=params)
    assert outcome == Outcome(0, "Action plugin completed.", "", outcome.elapsed_ms)
    greeting, flag, obj, base_url, version = (tmp_path / "env.txt").read_text().split("|")
    assert (greeting, flag, obj, base_url) == ("hi there", "true", '{"a":1}', BASE_URL)
    assert version


def test_command_variables_are_expanded(tmp_path: Path) -> None:
    """``$VAR`` in the command comes from the child environment."""
    env = {"PATH": os.environ.get("PATH", "/bin"), "MY_SHELL": "/bin/sh"}
    plugin = {"command": "$MY_SHELL -c 'echo ran > marker.txt'", "cwd": str(tmp_path)}
    outcome, _ = run(plugin, env=env)
    assert outcome.code == 0 and (tmp_path / "marker.txt").read_text() == "ran\n"


def test_non_zero_exit_is_a_plugin_error(tmp_path: Path) -> None:
    """A non-zero exit gives code "plugin" naming the exit code and the first stderr line."""
    outcome, _ = run(sh_plugin("echo 'disk full' >&2\necho second >&2\nexit 3\n", tmp_path))
    assert (outcome.code, outcome.description) == ("plugin", "Action plugin failed (exit code 3): disk full")
    assert "second" in outcome.details


def test_failure_ignores_a_success_json_line(tmp_path: Path) -> None:
    """A final xy line does not turn a failed exit into success."""
    script = 'echo \'{"xy":1,"code":0,"description":"fine"}\'\nexit 1\n'
    assert run(sh_plugin(script, tmp_path))[0].code == "plugin"


def test_json_code_and_details_override(tmp_path: Path) -> None:
    """A clean exit whose last line is ``{xy:1, code, description, details}`` reports those values."""
    script = 'echo \'{"xy":1,"code":"warning","description":"careful","details":"**md**"}\'\n'
    outcome, _ = run(sh_plugin(script, tmp_path))
    assert (outcome.code, outcome.description, outcome.details) == ("warning", "careful", "**md**")
    quiet, _ = run(sh_plugin('echo \'{"xy":0,"code":"x"}\'\necho \'not json\'\n', tmp_path))
    assert (quiet.code, quiet.description) == (0, "Action plugin completed.")


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    """On timeout the plugin and its background children are killed and code "plugin" returns in time."""
    script = "sleep 30 &\necho $! > child.pid\nsleep 30\n"
    outcome, took = run(sh_plugin(script, tmp_path), timeout_s=1)
    assert (outcome.code, outcome.description) == ("plugin", "Action plugin timed out after 1 s (killed)")
    assert took < 3.0
    child = int((tmp_path / "child.pid").read_text())
    assert wait_until(lambda: not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE)


def test_plugin_timeout_setting_applies(tmp_path: Path) -> None:
    """Without ``timeout_s`` the plugin's own ``timeout`` (seconds) is used."""
    outcome, took = run(sh_plugin("sleep 30\n", tmp_path, timeout=0.5))
    assert outcome.code == "plugin" and "timed out after 0.5 s" in outcome.description
    assert took < 2.5


def test_lingering_child_holding_the_pipes_does_not_hang(tmp_path: Path) -> None:
    """A background child that keeps stdout open is killed shortly after the main process exits."""
    script = 'sleep 30 &\necho \'{"xy":1,"code":0,"description":"done"}\'\n'
    outcome, took = run(sh_plugin(script, tmp_path), timeout_s=20)
    assert (outcome.code, outcome.description) == (0, "done")
    assert took < 5.0


def test_spawn_and_setup_errors() -> None:
    """A missing executable, an unbalanced command or a missing cwd give readable "plugin" errors."""
    assert run({"command": "/nonexistent/tool"})[0].description == (
        "Child spawn error: /nonexistent/tool: No such file or directory"
    )
    assert run({"command": "sh -c 'unbalanced"})[0].description.startswith("Invalid plugin command")
    assert run({"command": ""})[0].description == "Action plugin has no command."
    assert run({"command": "/bin/true", "cwd": "/nonexistent/dir"})[0].description == (
        "Working directory not found: /nonexistent/dir"
    )


def test_default_cwd_is_a_temporary_directory() -> None:
    """Without ``cwd`` the plugin runs in a fresh temporary directory that is removed afterwards."""
    outcome, _ = run({"command": "/bin/sh", "script": 'echo "{\\"xy\\":1,\\"description\\":\\"$PWD\\"}"\n'})
    assert outcome.code == 0
    workdir = Path(outcome.description)
    assert workdir.name.startswith("cronwright-action-") and not workdir.exists()


def test_cancellation_kills_the_plugin(tmp_path: Path) -> None:
    """When the caller cancels the action, the plugin process group is killed before it returns."""
    plugin = sh_plugin("echo $$ > main.pid\nsleep 30\n", tmp_path)

    async def main() -> None:
        task = asyncio.ensure_future(
            run_action_plugin(plugin, params={}, data=hook_data(), condition="start", base_url=BASE_URL, env={})
        )
        await asyncio.sleep(0.5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    pid = int((tmp_path / "main.pid").read_text())
    assert wait_until(lambda: _gone(pid))


def _gone(pid: int) -> bool:
    """The process exited (or is a zombie); it may vanish between two looks."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
