"""Start a real ``cronwright serve`` for a benchmark: port 0, a given data directory and admin key."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading


def start_server(data_dir: str, key: str, **env: str) -> tuple[subprocess.Popen[str], str, int]:
    """Start the server (``env``: extra ``CRONWRIGHT_*`` variables); returns (process, host, port)."""
    environ = {**os.environ, "CRONWRIGHT_ADMIN_KEY": key, "CRONWRIGHT_LOG_LEVEL": "warning", **env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cronwright", "serve", "--port", "0", "--data-dir", data_dir],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environ,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.search(r"is listening on http://([\d.]+):(\d+)", line)
        if match:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
            return proc, match.group(1), int(match.group(2))
    raise RuntimeError("server did not start")
