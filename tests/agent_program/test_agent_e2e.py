"""``cronwright agent`` as a subprocess against a fake conductor speaking the satellite wire."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import time
from pathlib import Path
from typing import Any

import psutil

from cronwright.agent import protocol
from tests.agent_program.conftest import StartAgent, joined
from tests.agent_program.fake_conductor import AUTH_TOKEN, INSTALL_TOKEN, SERVER_ID, FakeConductor, wait_until

SHELL_PLUGIN = {"id": "shellplug", "title": "Shell", "command": "[shell-plugin]", "type": "event"}


def agent_args(conductor: FakeConductor, data_dir: Path, *extra: str) -> list[str]:
    return [
        "--conductor",
        conductor.url,
        "--token",
        INSTALL_TOKEN,
        "--hostname",
        "agent-one",
        "--data-dir",
        str(data_dir),
        *extra,
    ]


def shell_job(job_id: str, script: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "event": "etest",
        "plugin": "shellplug",
        "command": "[shell-plugin]",
        "script": "(File)",
        "state": "active",
        "server": SERVER_ID,
        "params": {"script": script},
        **extra,
    }


def test_enrolment_and_handshake(conductor: FakeConductor, start_agent: StartAgent, tmp_path: Path) -> None:
    """The agent enrols with the install token, saves agent.json 0600, says hello with host facts,
    joins with its auth token, answers echo, never logs a secret, and exits 0 on SIGTERM."""
    data_dir = tmp_path / "agent"
    agent = start_agent(*agent_args(conductor, data_dir))
    joined(conductor)
    saved = data_dir / "agent.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    document = json.loads(saved.read_text())
    assert document["server_id"] == SERVER_ID and document["auth_token"] == AUTH_TOKEN
    assert "initial" not in wait_until(
        lambda: json.loads(saved.read_text()) if "initial" not in saved.read_text() else None, 5
    )
    hello = conductor.sent(protocol.HELLO)[0]
    assert hello["id"] == SERVER_ID and hello["hostname"] == "agent-one" and hello["title"] == "Test"
    info = hello["info"]
    for key in ("satellite", "platform", "arch", "release", "booted", "os"):
        assert key in info, key
    assert {"cores", "avgLoad"} <= info["cpu"].keys()
    assert {"total", "free", "available", "active", "used"} <= info["memory"].keys()
    assert conductor.sent(protocol.JOIN) == [{"token": AUTH_TOKEN}]
    conductor.send(protocol.ECHO, {"id": 7, "last_ping_ms": 3})
    assert wait_until(lambda: conductor.sent(protocol.ECHOBACK), 5, "echoback") == [{"id": 7, "last_ping_ms": 3}]
    assert agent.stop() == 0
    output = agent.output
    assert "joined conductor" in output
    assert AUTH_TOKEN not in output and INSTALL_TOKEN not in output


def test_auth_failure_exits_with_status_2(conductor: FakeConductor, start_agent: StartAgent, tmp_path: Path) -> None:
    """An ``auth_failure`` answer ends the agent with status 2 and the conductor's description, without retrying."""
    conductor.auth_failure = "Invalid authentication token."
    agent = start_agent(*agent_args(conductor, tmp_path / "agent"))
    assert agent.wait_exit(20) == 2
    assert "Invalid authentication token." in agent.output
    assert conductor.connections == 1


def test_job_runs_reports_and_finishes(conductor: FakeConductor, start_agent: StartAgent, tmp_path: Path) -> None:
    """A Shell job gets its input file, streams its log with offsets, reports progress in ``jobs``,
    uploads its output file and finishes through ``finish_job``; its work directory is removed."""
    conductor.plugins = [SHELL_PLUGIN]
    conductor.files["files/admin/R123/in.txt"] = b"input-content\n"
    data_dir = tmp_path / "agent"
    agent = start_agent(*agent_args(conductor, data_dir))
    joined(conductor)
    script = (
        "#!/bin/sh\n"
        "echo first line\n"
        "cat in.txt\n"
        'echo "base=$JOB_BASE_URL"\n'
        'echo \'{"xy":1,"progress":0.5,"status":"halfway"}\'\n'
        "echo output > out.txt\n"
        'echo \'{"xy":1,"files":["out.txt"]}\'\n'
        "sleep 1.5\n"
        "echo last line\n"
    )
    job = shell_job("jrun0001", script, input={"files": [{"path": "files/admin/R123/in.txt", "filename": "in.txt"}]})
    conductor.send(protocol.LAUNCH_JOB, {"job": job, "details": {}})
    report = wait_until(
        lambda: next(
            (r["jrun0001"] for r in conductor.sent(protocol.JOBS) if r.get("jrun0001", {}).get("progress") == 0.5), None
        ),
        10,
        "a jobs report with progress",
    )
    assert report["state"] == "active" and report["status"] == "halfway" and report["pid"] > 0
    body = wait_until(lambda: conductor.finished.get("jrun0001"), 15, "finish_job")
    expected_log = f"first line\ninput-content\nbase={conductor.url}\nlast line\n"
    assert conductor.log_text("jrun0001") == expected_log
    assert body["log_size"] == len(expected_log.encode())
    assert body["server"] == SERVER_ID and body["auth"] == AUTH_TOKEN
    final = body["job"]
    assert final["state"] == "complete" and final["complete"] is True and final["code"] == 0
    assert final["progress"] == 1
    assert [f["filename"] for f in final["files"]] == ["out.txt"]
    assert final["files"][0]["path"] == "files/jobs/jrun0001/R/out.txt" and final["files"][0]["job"] == "jrun0001"
    assert [(u["filename"], u["content"], u["server"]) for u in conductor.uploads] == [
        ("out.txt", b"output\n", SERVER_ID)
    ]
    assert wait_until(lambda: not (data_dir / "work" / "jrun0001").exists(), 5, "work dir removed")
    assert not (data_dir / "spool" / "jrun0001").exists()
    assert agent.stop() == 0


def test_missing_plugin_and_missing_input(conductor: FakeConductor, start_agent: StartAgent, tmp_path: Path) -> None:
    """A job of an unknown plugin fails with "Plugin not found: ID"; an input file that cannot be
    downloaded fails the job with the setup error; a plugin sent later with ``update`` runs its script."""
    conductor.plugins = [SHELL_PLUGIN]
    agent = start_agent(*agent_args(conductor, tmp_path / "agent"))
    joined(conductor)
    conductor.send(protocol.LAUNCH_JOB, {"job": {**shell_job("jnoplug1", "echo x"), "plugin": "nope"}, "details": {}})
    missing = {"files": [{"path": "files/admin/R9/gone.txt", "filename": "gone.txt"}]}
    conductor.send(protocol.LAUNCH_JOB, {"job": shell_job("jnofile1", "echo x"), "details": {"input": missing}})
    first = wait_until(lambda: conductor.finished.get("jnoplug1"), 10, "finish of jnoplug1")["job"]
    assert (first["code"], first["description"]) == (1, "Plugin not found: nope")
    second = wait_until(lambda: conductor.finished.get("jnofile1"), 10, "finish of jnofile1")["job"]
    assert second["code"] == 1
    assert second["description"].startswith("Setup Error: Error: Failed to download job file: gone.txt: ")
    late = {"id": "lateplug", "command": "/bin/sh", "script": "echo from-late-plugin\n", "type": "event"}
    conductor.send(protocol.UPDATE, {"plugins": [SHELL_PLUGIN, late]})
    conductor.send(
        protocol.LAUNCH_JOB, {"job": {**shell_job("jlate001", ""), "plugin": "lateplug", "command": ""}, "details": {}}
    )
    third = wait_until(lambda: conductor.finished.get("jlate001"), 10, "finish of jlate001")["job"]
    assert conductor.log_text("jlate001") == "from-late-plugin\n"
    assert third["code"] == "warning"  # a generic plugin that never reported completion
    assert agent.stop() == 0


def process_gone(pid: int) -> bool:
    """The process exited (or is a zombie); it may vanish between two looks."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_abort_reaches_the_process_within_a_second(
    conductor: FakeConductor, start_agent: StartAgent, tmp_path: Path
) -> None:
    """``abort_job`` kills the job's process within a second and the job finishes with code "abort"."""
    conductor.plugins = [SHELL_PLUGIN]
    agent = start_agent(*agent_args(conductor, tmp_path / "agent"))
    joined(conductor)
    conductor.send(
        protocol.LAUNCH_JOB, {"job": shell_job("jabort01", "#!/bin/sh\necho started\nsleep 30\n"), "details": {}}
    )
    wait_until(lambda: "started" in conductor.log_text("jabort01"), 10, "job output")
    pid = wait_until(
        lambda: next((r["jabort01"].get("pid") for r in conductor.sent(protocol.JOBS) if "jabort01" in r), None), 5
    )
    conductor.send(protocol.ABORT_JOB, {"id": "junknown", "reason": "ignored"})
    aborted_at = time.monotonic()
    conductor.send(protocol.ABORT_JOB, {"id": "jabort01", "reason": "Stopped by test."})
    wait_until(lambda: process_gone(pid), 1.5, "process gone")
    assert time.monotonic() - aborted_at < 1.5
    final = wait_until(lambda: conductor.finished.get("jabort01"), 10, "finish_job")["job"]
    assert (final["code"], final["description"]) == ("abort", "Stopped by test.")
    assert "junknown" in agent.output
    assert agent.stop() == 0


def test_disconnect_during_job_replays_log_without_gap(
    conductor: FakeConductor, start_agent: StartAgent, tmp_path: Path
) -> None:
    """A job keeps running while the socket is down; after the reconnect its log is complete (no gap,
    replays detectable by offset) and ``finish_job`` arrives."""
    conductor.plugins = [SHELL_PLUGIN]
    data_dir = tmp_path / "agent"
    agent = start_agent(*agent_args(conductor, data_dir))
    joined(conductor)
    script = "#!/bin/sh\ni=0\nwhile [ $i -lt 60 ]; do echo line-$i; i=$((i+1)); sleep 0.05; done\n"
    conductor.send(protocol.LAUNCH_JOB, {"job": shell_job("jdisc001", script), "details": {}})
    wait_until(lambda: "line-5\n" in conductor.log_text("jdisc001"), 10, "some output")
    conductor.refuse = True
    conductor.drop()
    wait_until(lambda: (data_dir / "spool" / "jdisc001" / "state.json").exists(), 5, "spooled report")
    held = len(conductor.log_text("jdisc001"))
    spooled = data_dir / "spool" / "jdisc001" / "log"
    wait_until(lambda: spooled.stat().st_size > held + 40, 10, "output written while disconnected")
    conductor.refuse = False
    joined(conductor, 2, timeout_s=20)
    body = wait_until(lambda: conductor.finished.get("jdisc001"), 20, "finish_job")
    expected = "".join(f"line-{i}\n" for i in range(60))
    assert conductor.log_text("jdisc001") == expected
    assert conductor.logs["jdisc001"].gaps == []
    assert body["log_size"] == len(expected) and body["job"]["code"] == 0
    offsets = [d["offset"] for d in conductor.sent(protocol.JOB_LOG) if d["id"] == "jdisc001"]
    assert offsets[0] == 0
    metas = [d["text"] for d in conductor.sent(protocol.JOB_META) if d["id"] == "jdisc001"]
    assert any(m.startswith("Reconnected to conductor server:") for m in metas)
    assert agent.stop() == 0


def test_reconnect_backoff_grows(start_agent: StartAgent, tmp_path: Path) -> None:
    """With no conductor listening, the delay cap doubles after each failed attempt (1, 2, 4 s)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()
    data_dir = tmp_path / "agent"
    data_dir.mkdir()
    config = {"server_id": SERVER_ID, "auth_token": AUTH_TOKEN, "hosts": [url]}
    (data_dir / "agent.json").write_text(json.dumps(config))
    os.chmod(data_dir / "agent.json", 0o600)
    agent = start_agent("--conductor", url, "--data-dir", str(data_dir))
    pattern = re.compile(r"attempt (\d+), backoff up to (\d+(?:\.\d+)?) s")
    caps = wait_until(
        lambda: (found := pattern.findall(agent.output)) and len(found) >= 3 and found, 15, "three attempts"
    )
    assert [(int(n), float(cap)) for n, cap in caps[:3]] == [(1, 1.0), (2, 2.0), (3, 4.0)]
    assert agent.stop() == 0


def test_stop_aborts_jobs_and_reports_them(conductor: FakeConductor, start_agent: StartAgent, tmp_path: Path) -> None:
    """SIGTERM aborts every job with "Server is shutting down.", reports it, then exits 0."""
    conductor.plugins = [SHELL_PLUGIN]
    agent = start_agent(*agent_args(conductor, tmp_path / "agent"))
    joined(conductor)
    conductor.send(protocol.LAUNCH_JOB, {"job": shell_job("jstop001", "#!/bin/sh\necho up\nsleep 30\n"), "details": {}})
    wait_until(lambda: "up" in conductor.log_text("jstop001"), 10, "job output")
    assert agent.stop() == 0
    final = conductor.finished["jstop001"]["job"]
    assert (final["code"], final["description"]) == ("abort", "Server is shutting down.")
