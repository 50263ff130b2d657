"""Params too large for the environment are left out of it (Linux: E2BIG), not fatal to the job."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cronwright.runner import RunSpec, build_environment
from cronwright.runner.environment import MAX_ENV_STRING_BYTES, env_budget, env_bytes
from cronwright.runner.launch import prepare_launch


def test_one_string_over_the_kernel_limit(tmp_path: Path) -> None:
    """A variable whose `NAME=value` would exceed 128 KiB is left out; one that just fits stays."""
    fits = "f" * (MAX_ENV_STRING_BYTES - len("fits=") - 1)
    job = {"params": {"fits": fits, "big": "x" * MAX_ENV_STRING_BYTES}, "input": {"data": {"d": "y" * 200_000}}}
    oversized: list[str] = []
    env = build_environment(job, {}, cwd=tmp_path, log_file="", base_url="", oversized=oversized)
    assert env["fits"] == fits and env_bytes("fits", fits) == MAX_ENV_STRING_BYTES
    assert "big" not in env and "data_d" not in env and oversized == ["big", "data_d"]
    subprocess.run(["true"], env=env, check=True)  # what is left can be spawned


def test_all_params_over_the_total_budget(tmp_path: Path) -> None:
    """When the params together exceed the budget, the largest go first; a host variable a dropped
    param had replaced keeps its host value."""
    chunk = 100_000
    count = env_budget() // chunk + 2
    params = {f"p{i:02d}": "x" * (chunk + i) for i in range(count)}
    params["greeting"] = "y" * 120_000  # the largest; replaces a host variable
    oversized: list[str] = []
    env = build_environment(
        {"params": params}, {"greeting": "hello"}, cwd=tmp_path, log_file="", base_url="", oversized=oversized
    )
    assert sum(env_bytes(k, v) + 8 for k, v in env.items()) <= env_budget()
    assert oversized[:2] == ["greeting", f"p{count - 1:02d}"] and env["greeting"] == "hello"
    assert env["p00"] == params["p00"]
    subprocess.run(["true"], env=env, check=True)


def test_launch_notice_names_the_params(tmp_path: Path) -> None:
    """The launch carries a meta-log notice naming (never printing) the params left out."""
    spec = RunSpec(
        job={"id": "j", "params": {"script": "#!/bin/sh\n", "huge": "secret" * 40_000}},
        command="[shell-plugin]",
        cwd=tmp_path,
        base_env={},
    )
    [notice] = prepare_launch(spec).notices
    assert "too large for environment variables" in notice and "huge" in notice and "secret" not in notice
