"""Launch preparation without spawning: environment, credentials, commands and output files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cronwright.runner import OutputFile, RunSpec, build_environment, resolve_output_files
from cronwright.runner.environment import LaunchError, ParamNames, encode_value, format_number, resolve_credentials
from cronwright.runner.launch import expand_variables, is_truthy, prepare_launch
from cronwright.runner.outputs import clean_filename
from cronwright.runner.shell import exit_result


def test_environment_values_and_names(tmp_path: Path) -> None:
    """Params become variables with \\W+ → _, JSON-compact objects, JS numbers; XYOPS_* host vars go."""
    job = {
        "id": "j1",
        "now": 1766111340,
        "params": {"a.b c": 1.0, "x": [1, {"y": None}], "nul": "a\0b"},
        "input": {"data": {"d-1": True}},
    }
    env = build_environment(
        job, {"XYOPS_X": "1", "XYOPSY": "2", "HOME": "/h"}, cwd=tmp_path, log_file="/l", base_url="u"
    )
    assert env["a_b_c"] == "1" and env["x"] == '[1,{"y":null}]' and env["nul"] == "ab"
    assert env["data_d_1"] == "true" and env["JOB_NOW"] == "1766111340" and env["JOB_LOG"] == "/l"
    assert "XYOPS_X" not in env and env["XYOPSY"] == "2" and env["HOME"] == "/h"
    assert "server_data_x" not in env


def test_number_and_value_encoding() -> None:
    """Numbers print like JavaScript's String(n)."""
    assert [format_number(value) for value in (1.0, 1.5, 3, 1e21, -0.0)] == ["1", "1.5", "3", "1e+21", "0"]
    assert [encode_value(value) for value in (None, True, "s", {"a": 1})] == ["", "true", "s", '{"a":1}']


def test_credentials() -> None:
    """Users and groups resolve by name or number; unset values mean the conductor's own."""
    assert resolve_credentials(None, "").popen_kwargs() == {}
    nobody = resolve_credentials("nobody", None)
    assert nobody.user == 65534 and nobody.env["USER"] == "nobody" and nobody.group is not None
    assert resolve_credentials(65534, "0").group == 0
    with pytest.raises(LaunchError, match="User does not exist: 999999"):
        resolve_credentials("999999", None)
    with pytest.raises(LaunchError, match="Group does not exist: nogroup-x"):
        resolve_credentials(None, "nogroup-x")


def test_command_parsing(tmp_path: Path) -> None:
    """Commands split shell-style with $VAR expansion (a plugin-declared upper-case param counts);
    built-ins map to their runners."""
    spec = RunSpec(
        job={"id": "j/1", "params": {"P": "v w"}},
        command="  tool --x='$P' \"${P}\" ",
        cwd=tmp_path,
        base_env={},
        param_names=ParamNames(declared=frozenset({"P"})),
    )
    launch = prepare_launch(spec)
    assert launch.argv == ["tool", "--x=v w", "v w"] and not launch.shell
    undeclared = prepare_launch(RunSpec(job={"params": {"P": "v"}}, command="tool $P", cwd=tmp_path, base_env={}))
    assert undeclared.argv == ["tool", ""]
    test_plugin = prepare_launch(RunSpec(job={}, command="[test-plugin]", cwd=tmp_path, base_env={}))
    assert test_plugin.argv[1:] == ["-I", "-m", "cronwright.runner.testplugin"]
    shell = prepare_launch(
        RunSpec(
            job={"id": "j/1", "params": {"script": "#!/bin/sh\r\n"}},
            command="[shell-plugin]",
            cwd=tmp_path,
            base_env={},
        )
    )
    assert shell.argv == [".cronwright/script-j_1"] and shell.shell
    assert (tmp_path / ".cronwright" / "script-j_1").read_bytes() == b"#!/bin/sh\n"
    assert expand_variables("$A-${B}-$C", {"A": "1", "B": "2"}) == "1-2-"


def test_truthy_params() -> None:
    """Checkbox-like params accept booleans, numbers and the usual false words."""
    assert [is_truthy(value) for value in (True, 1, "yes", "true", "1")] == [True] * 5
    assert [is_truthy(value) for value in (False, 0, None, "", "false", "0", " Off ")] == [False] * 7


def test_script_write_failure_is_a_launch_error(tmp_path: Path) -> None:
    """A script that cannot be written fails the launch with the plugin's error prefix."""
    spec = RunSpec(job={"id": "j"}, command="[shell-plugin]", cwd=tmp_path / "missing", base_env={})
    with pytest.raises(LaunchError, match=r"^Script failed: "):
        prepare_launch(spec)


def test_shell_exit_results() -> None:
    """Exit statuses map to code, description and (for failures with stderr) Error Output html."""
    assert exit_result(0, "warn\n", sent_html=False) == (0, "", None)
    assert exit_result(-15, "", sent_html=False) == ("SIGTERM", "Script exited with code: SIGTERM", None)
    code, description, html = exit_result(2, "\n  first\nsecond", sent_html=True)
    assert (code, description, html) == (2, "Script exited with code: 2: first", None)


def test_output_files(tmp_path: Path) -> None:
    """Strings glob, [path, name, delete] and objects name files; missing globs yield nothing; a file
    outside the job directory is refused (even for a job running as the conductor's user)."""
    for name in ("out.txt", "a.log", "b.log", "we<i>rd?.txt", ".hidden.log"):
        (tmp_path / name).write_text(name)
    (tmp_path / "dir.log").mkdir()
    outside = tmp_path.parent / f"{tmp_path.name}-abs.txt"
    outside.write_text("abs")
    specs = [
        "out.txt",
        "*.log",
        ["out.txt", "re/named:1.txt", True],
        {"path": "we<i>rd?.txt"},
        {"path": str(outside), "delete": 1},
        "nothing-*.txt",
        "missing.txt",
        ["missing.bin", "x.bin"],
        ["dir.log", "d"],
        42,
        {"filename": "no-path"},
        "out.txt",
    ]
    files, notices = resolve_output_files(specs, tmp_path)
    assert files == [
        OutputFile(tmp_path / "out.txt", "out.txt", False),
        OutputFile(tmp_path / "a.log", "a.log", False),
        OutputFile(tmp_path / "b.log", "b.log", False),
        OutputFile(tmp_path / "out.txt", "named_1.txt", True),
        OutputFile(tmp_path / "we<i>rd?.txt", "we_i_rd?.txt", False),
    ]
    assert len(notices) == 5 and any("outside the job directory" in n for n in notices)
    assert outside.exists()
    os.unlink(outside)


def test_output_file_specs_edge_cases(tmp_path: Path) -> None:
    """No specs yield nothing; a single entry is accepted; names keep the allowed characters."""
    (tmp_path / "one.txt").write_text("1")
    assert resolve_output_files(None, tmp_path) == ([], [])
    assert resolve_output_files("one.txt", tmp_path)[0] == [OutputFile(tmp_path / "one.txt", "one.txt")]
    assert (
        clean_filename("a/b/Report (v1) [x] {y} 'q' \"z\" !&^%$#@*?~+,.txt")
        == "Report (v1) [x] {y} 'q' \"z\" !&^%$#@*?~+,.txt"
    )
    assert clean_filename("é|<>:x") == "_x"
