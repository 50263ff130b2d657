"""Run the ``cronwright`` command as a subprocess, isolated from the user's own CLI settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.server import ADMIN_KEY


def cli_env(config_home: Path, url: str | None = None, key: str | None = ADMIN_KEY, **extra: str) -> dict[str, str]:
    """The environment of one CLI run: no inherited ``CRONWRIGHT_*``, its own config home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRONWRIGHT_")}
    env["XDG_CONFIG_HOME"] = str(config_home)
    env["COLUMNS"] = "200"
    if url:
        env["CRONWRIGHT_URL"] = url
    if key:
        env["CRONWRIGHT_API_KEY"] = key
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str], input: str | None = None, timeout_s: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m cronwright ARGS``; the result never carries a Python traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "cronwright", *args],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=cwd,
    )
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return result
