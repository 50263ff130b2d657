"""A mistyped ``--db-url`` gets one clear line, never a traceback, and touches no database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CASES = [
    ("postgresql://postgres@127.0.0.1:5432/", "names no database"),
    ("postgresql://postgres@127.0.0.1:notaport/x", "Invalid database URL"),
    ("postgresql://postgres@[::1/x", "Invalid database URL"),
    ("postgresql+nosuchdriver://postgres@127.0.0.1/x", "Invalid database URL"),
    ("sqlite://", "names no SQLite file"),
    ("sqlite:///:memory:", "names no SQLite file"),
]


@pytest.mark.parametrize(("url", "message"), CASES)
def test_bad_database_url_is_one_line(tmp_path: Path, url: str, message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cronwright", "serve", "--port", "0", "--data-dir", str(tmp_path), "--db-url", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    output = (done.stdout + done.stderr).strip()
    assert "Traceback" not in output, output
    error_lines = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and message in error_lines[0], output
