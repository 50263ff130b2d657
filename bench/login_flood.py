"""Benchmark: does a flood of logins slow down everything else? Prints one JSON object.

Against a real ``cronwright serve`` (SQLite in a temporary data directory) with ``--users`` users:

- ``get_events_ms_*_idle``: ``GET /api/app/get_events/v1`` latency with nothing else going on;
- ``get_events_ms_*_flood``: the same while ``--flooders`` clients log in back to back (each as
  its own user, with the right password, so no failed-login limit interferes; every login costs an
  Argon2id verification);
- ``logins_per_s``: logins completed during the flood (bounded by ``password_hash_workers``);
- ``server_rss_mb_peak``: the server's resident memory at its highest during the flood.

Before password hashing left the event loop, every request waited behind the logins queued ahead
of it (seconds under a flood); now the hashing threads only compete for CPU.

Run: ``python bench/login_flood.py`` (``--seconds 5``, ``--flooders 16``).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import signal
import statistics
import sys
import tempfile
import threading
import time
from typing import Any

import psutil

from _server import start_server

KEY = "bench-login-admin-key"
PASSWORD = "bench login password"


def call(conn: http.client.HTTPConnection, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if not path.startswith("/api/user/login"):
        headers["X-API-Key"] = KEY
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    return json.loads(conn.getresponse().read())


def latencies_ms(host: str, port: int, seconds: float) -> list[float]:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        assert call(conn, "GET", "/api/app/get_events/v1")["code"] == 0
        samples.append((time.perf_counter() - start) * 1000)
        time.sleep(0.01)
    conn.close()
    return samples


def summary(samples: list[float], suffix: str) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        f"get_events_ms_median_{suffix}": round(statistics.median(ordered), 2),
        f"get_events_ms_p99_{suffix}": round(ordered[int(len(ordered) * 0.99) - 1], 2),
        f"get_events_ms_max_{suffix}": round(ordered[-1], 2),
    }


def rss_mb(pid: int) -> float:
    process = psutil.Process(pid)
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += child.memory_info().rss
    return round(total / 1e6, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flooders", type=int, default=16, help="concurrent login clients (max 19: per-IP limit)")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        proc, host, port = start_server(data_dir, KEY)
        try:
            conn = http.client.HTTPConnection(host, port, timeout=60)
            users = [f"flood{i}" for i in range(args.flooders)]
            for name in users:
                assert (
                    call(conn, "POST", "/api/user/admin_create/v1", {"username": name, "password": PASSWORD})["code"]
                    == 0
                )
            print(f"server pid {proc.pid}; {len(users)} users created", file=sys.stderr)
            result: dict[str, Any] = {"flooders": args.flooders, "seconds": args.seconds}
            result.update(summary(latencies_ms(host, port, args.seconds), "idle"))
            stop = threading.Event()
            logins = [0]
            lock = threading.Lock()

            def flood(name: str) -> None:
                client = http.client.HTTPConnection(host, port, timeout=60)
                while not stop.is_set():
                    body = call(client, "POST", "/api/user/login/v1", {"username": name, "password": PASSWORD})
                    if body["code"] == 0:
                        with lock:
                            logins[0] += 1

            threads = [threading.Thread(target=flood, args=(name,), daemon=True) for name in users]
            peak = [rss_mb(proc.pid)]

            def sample_rss() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], rss_mb(proc.pid))
                    time.sleep(0.2)

            for thread in threads:
                thread.start()
            threading.Thread(target=sample_rss, daemon=True).start()
            time.sleep(0.5)  # the flood is under way
            started, before = time.perf_counter(), logins[0]
            result.update(summary(latencies_ms(host, port, args.seconds), "flood"))
            result["logins_per_s"] = round((logins[0] - before) / (time.perf_counter() - started), 1)
            stop.set()
            for thread in threads:
                thread.join(60)
            result["server_rss_mb_peak"] = peak[0]
            print(json.dumps(result, indent=2))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


if __name__ == "__main__":
    main()
