"""A misspelt setting stops `cronwright serve` with a message naming it, instead of being ignored."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _serve(data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CRONWRIGHT_")}
    return subprocess.run(
        [sys.executable, "-m", "cronwright", "serve", "--port", "0", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "CRONWRIGHT_ADMIN_KEY": "test-admin-key-0123456789abcdef", **env},
    )


@pytest.mark.parametrize(
    ("toml", "env", "expected"),
    [
        ("prot = 8080\n", {}, "Unknown setting 'prot' in config file"),
        ("", {"CRONWRIGHT_PROT": "1"}, "Unknown environment variable CRONWRIGHT_PROT: did you mean CRONWRIGHT_PORT?"),
    ],
)
def test_unknown_setting_stops_serve(tmp_path: Path, toml: str, env: dict[str, str], expected: str) -> None:
    """An unknown config.toml key or CRONWRIGHT_* variable: exit status != 0, the message, no traceback."""
    if toml:
        (tmp_path / "config.toml").write_text(toml)
    result = _serve(tmp_path, **env)
    assert result.returncode != 0
    assert expected in result.stderr and "Traceback" not in result.stderr + result.stdout
    if toml:
        assert "did you mean port?" in result.stderr
    assert "is listening" not in result.stdout


@pytest.mark.parametrize("value", ["nan", "-1", "inf"])
def test_unusable_retention_age_stops_serve(tmp_path: Path, value: str) -> None:
    """`retention_max_age_days` of NaN (which would switch the limit off silently), a negative
    number or infinity stops the server with the setting's name."""
    result = _serve(tmp_path, CRONWRIGHT_RETENTION_MAX_AGE_DAYS=value)
    assert result.returncode != 0 and "retention_max_age_days" in result.stderr
    assert "is listening" not in result.stdout
