"""Benchmark of running jobs through the HTTP API; prints one JSON object.

Measures, against a real ``cronwright serve`` (SQLite in a temporary data directory, launch brake
off), with an event whose script is ``#!/bin/sh\\ntrue``:

- ``latency_ms_median``: ``run_event/v1/wait`` → completed job, client-measured, 50 sequential runs;
- ``throughput_jobs_per_s``: 1,000 jobs submitted by 16 concurrent clients (each waits for its job
  through ``/wait``), with the count of failed jobs (code ≠ 0) and lost jobs (no final record);
- ``server_rss_mb_after_1000`` / ``_after_3000``: the server's resident memory (with children).

Run: ``python bench/jobs.py`` (``--quick`` for 200/400 jobs).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil

from _server import start_server

KEY = "bench-jobs-admin-key"
TARGETS = {
    "latency_ms_median_max": 15.0,
    "throughput_jobs_per_s_min": 200.0,
    "rss_mb_after_3000_max": 150.0,
    "rss_growth_mb_1000_to_3000_max": 20.0,
}


class Client:
    """One keep-alive connection."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        data, headers = json.dumps(body), {"Content-Type": "application/json", "X-API-Key": KEY}
        try:
            self.conn.request("POST", path, data, headers)
            return json.loads(self.conn.getresponse().read())
        except (ConnectionError, http.client.HTTPException):  # the server closed an idle keep-alive connection
            self.conn.close()
            self.conn = http.client.HTTPConnection(*self.address, timeout=60)
            self.conn.request("POST", path, data, headers)
            return json.loads(self.conn.getresponse().read())


def rss_mb(pid: int) -> float:
    process = psutil.Process(pid)
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += child.memory_info().rss
    return round(total / 1e6, 1)


def run_many(host: str, port: int, event_id: str, count: int, concurrency: int) -> tuple[float, int, list[str]]:
    """Submit ``count`` jobs from ``concurrency`` clients; returns (seconds, failed, job ids)."""
    local = threading.local()
    ids: list[str] = []
    failed = 0
    lock = threading.Lock()

    def one(_: int) -> None:
        nonlocal failed
        if not hasattr(local, "client"):
            local.client = Client(host, port)
        body = local.client.call("/api/app/run_event/v1/wait", {"id": event_id})
        with lock:
            job = body.get("job") or {}
            ids.append(job.get("id", ""))
            if body.get("code") != 0 or job.get("code") != 0:
                failed += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(count)))
    return time.perf_counter() - start, failed, ids


def count_lost(client: Client, ids: list[str]) -> int:
    lost = 0
    for start in range(0, len(ids), 200):
        batch = ids[start : start + 200]
        jobs = client.call("/api/app/get_jobs/v1", {"ids": [i or "jnone" for i in batch]})["jobs"]
        lost += sum(1 for j in jobs if not j.get("final"))
    return lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    first, second = (200, 200) if args.quick else (1000, 2000)
    with tempfile.TemporaryDirectory() as data_dir:
        proc, host, port = start_server(data_dir, KEY, CRONWRIGHT_MAX_JOBS_PER_MIN="0")
        try:
            client = Client(host, port)
            event = client.call(
                "/api/app/create_event/v1",
                {
                    "title": "bench true",
                    "enabled": True,
                    "category": "general",
                    "targets": ["main"],
                    "algo": "random",
                    "plugin": "shellplug",
                    "params": {"script": "#!/bin/sh\ntrue\n"},
                    "triggers": [{"type": "manual", "enabled": True}],
                },
            )["event"]
            for _ in range(5):
                client.call("/api/app/run_event/v1/wait", {"id": event["id"]})  # warm up
            latencies = []
            for _ in range(50):
                start = time.perf_counter()
                body = client.call("/api/app/run_event/v1/wait", {"id": event["id"]})
                latencies.append((time.perf_counter() - start) * 1000)
                assert body["job"]["code"] == 0, body
            seconds, failed, ids = run_many(host, port, event["id"], first, 16)
            lost = count_lost(client, ids)
            rss_1000 = rss_mb(proc.pid)
            seconds2, failed2, ids2 = run_many(host, port, event["id"], second, 16)
            lost += count_lost(client, ids2)
            rss_3000 = rss_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    result = {
        "benchmark": "jobs",
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "latency_ms_median": round(statistics.median(latencies), 2),
        "latency_ms_p90": round(statistics.quantiles(latencies, n=10)[-1], 2),
        "throughput_jobs_per_s": round(first / seconds, 1),
        "throughput_jobs_per_s_second_batch": round(second / seconds2, 1),
        "jobs": first + second,
        "failed": failed + failed2,
        "lost": lost,
        f"server_rss_mb_after_{first}": rss_1000,
        f"server_rss_mb_after_{first + second}": rss_3000,
        "targets": TARGETS,
    }
    if not args.quick:
        result["meets_targets"] = {
            "latency": result["latency_ms_median"] <= TARGETS["latency_ms_median_max"],
            "throughput": result["throughput_jobs_per_s"] >= TARGETS["throughput_jobs_per_s_min"],
            "rss_after_3000": rss_3000 <= TARGETS["rss_mb_after_3000_max"],
            "rss_growth": rss_3000 - rss_1000 <= TARGETS["rss_growth_mb_1000_to_3000_max"],
            "none_failed_or_lost": failed + failed2 + lost == 0,
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
