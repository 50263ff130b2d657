"""Benchmark of several conductors on one PostgreSQL database (docs/ha.md); prints one JSON object.

Starts conductors (``cronwright serve --db-url …``, one shared data directory, the test clock so
minutes can be stepped) on a throw-away ``cw_bench_<random>`` database at 127.0.0.1:5432 and
measures:

- ``failover_s``: ``kill -9`` of the leader → the first scheduled fire recorded by the new leader
  (the survivors' clocks are stepped to the next minute right after the kill, so the figure is the
  take-over time, not the wait for a real minute); ``--failovers`` repetitions, median and max;
- ``visibility_ms_p50`` / ``_p99``: ``update_event`` on one conductor → the new title answered by
  ``get_event`` on another (polled every 2 ms), over ``--changes`` changes;
- ``run_event_jobs_per_s_3`` / ``_1``: jobs (``#!/bin/sh\\ntrue``) submitted through
  ``run_event/v1/wait`` by 12 concurrent clients spread over three conductors, and through one.

Run: ``python bench/ha.py`` (``--quick`` for fewer repetitions).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg

KEY = "bench-ha-admin-key"
PG = "postgresql://postgres@127.0.0.1:5432"
T0 = 1924992000  # 2031-01-01 00:00 UTC
TARGETS = {"failover_s_max": 15.0, "visibility_ms_p99_max": 1000.0}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Conductor:
    def __init__(self, data_dir: str, db_url: str) -> None:
        env = {
            **os.environ,
            "CRONWRIGHT_ADMIN_KEY": KEY,
            "CRONWRIGHT_LOG_LEVEL": "warning",
            "CRONWRIGHT_MAX_JOBS_PER_MIN": "0",
            "CRONWRIGHT_TEST_API": "1",
            "CRONWRIGHT_CLOCK_START": str(T0 + 30),
            "CRONWRIGHT_TZ": "UTC",
        }
        cmd = [sys.executable, "-m", "cronwright", "serve", "--port", "0", "--data-dir", data_dir, "--db-url", db_url]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            match = re.search(r"is listening on (http://\S+)", line)
            if match:
                self.url = match.group(1)
                threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()  # type: ignore[union-attr]
                break
        else:
            raise RuntimeError("conductor did not start")
        self.http = httpx.Client(base_url=self.url, headers={"X-API-Key": KEY}, timeout=60)

    def call(self, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = self.http.post(f"/api/app/{name}", json=body or {}).json()
        assert answer.get("code") == 0, (name, answer)
        return answer

    def leads(self) -> bool:
        try:
            return bool(self.http.get("/health").json().get("leader"))
        except httpx.HTTPError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.http.close()


class Database:
    def __enter__(self) -> str:
        self.name = "cw_bench_" + uuid.uuid4().hex[:10]
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        return f"{PG}/{self.name}"

    def __exit__(self, *exc: object) -> None:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def fleet(count: int, data_dir: str, db_url: str) -> list[Conductor]:
    conductors = [Conductor(data_dir, db_url) for _ in range(count)]
    deadline = time.monotonic() + 30
    while sum(c.leads() for c in conductors) != 1:
        assert time.monotonic() < deadline, "no leader"
        time.sleep(0.1)
    return conductors


def wait_event_everywhere(conductors: list[Conductor], event_id: str) -> None:
    for conductor in conductors:
        deadline = time.monotonic() + 10
        while conductor.http.post("/api/app/get_event", json={"id": event_id}).json().get("code") != 0:
            assert time.monotonic() < deadline, "event not visible"
            time.sleep(0.01)


def event(title: str, script: str, triggers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "title": title,
        "enabled": True,
        "category": "general",
        "targets": ["main"],
        "algo": "random",
        "plugin": "shellplug",
        "params": {"script": script, "annotate": False},
        "triggers": triggers,
    }


def measure_failover(db_url: str, data_dir: str) -> float:
    conductors = fleet(3, data_dir, db_url)
    try:
        leader = next(c for c in conductors if c.leads())
        created = leader.call("create_event", event("tick", "#!/bin/sh\ntrue", [{"type": "schedule", "enabled": True}]))
        event_id = created["event"]["id"]
        wait_event_everywhere(conductors, event_id)
        minute = T0 + 60
        for conductor in conductors:
            conductor.call("test_set_clock", {"now": minute + 1})
        with psycopg.connect(db_url, autocommit=True) as conn:
            deadline = time.monotonic() + 30
            while not conn.execute(
                "SELECT 1 FROM fires WHERE event_id = %s AND at = %s", (event_id, minute)
            ).fetchone():
                assert time.monotonic() < deadline, "first minute never fired"
                time.sleep(0.05)
            killed = time.monotonic()
            leader.stop(signal.SIGKILL)
            survivors = [c for c in conductors if c is not leader]
            for conductor in survivors:
                conductor.call("test_set_clock", {"now": minute + 61})
            while not conn.execute(
                "SELECT 1 FROM fires WHERE event_id = %s AND at = %s", (event_id, minute + 60)
            ).fetchone():
                assert time.monotonic() - killed < 60, "the new leader never fired"
                time.sleep(0.02)
            return time.monotonic() - killed
    finally:
        for conductor in conductors:
            conductor.stop()


def measure_visibility(conductors: list[Conductor], changes: int) -> list[float]:
    first = conductors[0].call("create_event", event("seen", "#!/bin/sh\ntrue", [{"type": "manual", "enabled": True}]))
    event_id = first["event"]["id"]
    wait_event_everywhere(conductors, event_id)
    latencies = []
    for i in range(changes):
        writer, reader = conductors[i % len(conductors)], conductors[(i + 1) % len(conductors)]
        title = f"title {i}"
        writer.call("update_event", {"id": event_id, "title": title})
        started = time.monotonic()
        while reader.http.post("/api/app/get_event", json={"id": event_id}).json()["event"]["title"] != title:
            if time.monotonic() - started > 10:
                raise AssertionError("a change never arrived")
            time.sleep(0.002)
        latencies.append((time.monotonic() - started) * 1000)
    return latencies


def measure_throughput(conductors: list[Conductor], jobs: int, clients: int = 12) -> tuple[float, int]:
    created = conductors[0].call(
        "create_event", event("fast", "#!/bin/sh\ntrue", [{"type": "manual", "enabled": True}])
    )
    event_id = created["event"]["id"]
    wait_event_everywhere(conductors, event_id)
    failed = 0
    lock = threading.Lock()

    def worker(index: int) -> None:
        nonlocal failed
        target = conductors[index % len(conductors)]
        with httpx.Client(base_url=target.url, headers={"X-API-Key": KEY}, timeout=120) as http:
            for _ in range(jobs // clients):
                body = http.post("/api/app/run_event/v1/wait", json={"id": event_id}).json()
                if body.get("code") != 0 or body["job"].get("code") != 0:
                    with lock:
                        failed += 1

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    return (jobs // clients * clients) / (time.monotonic() - started), failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    failovers = 1 if args.quick else 3
    changes = 50 if args.quick else 300
    jobs = 240 if args.quick else 1200
    result: dict[str, Any] = {}
    times = []
    for attempt in range(failovers):
        with tempfile.TemporaryDirectory() as data_dir, Database() as db_url:
            times.append(measure_failover(db_url, data_dir))
            log(f"failover {attempt + 1}: {times[-1]:.2f} s")
    result["failover_s_median"] = round(statistics.median(times), 2)
    result["failover_s_max"] = round(max(times), 2)
    with tempfile.TemporaryDirectory() as data_dir, Database() as db_url:
        conductors = fleet(3, data_dir, db_url)
        try:
            latencies = sorted(measure_visibility(conductors, changes))
            result["visibility_ms_p50"] = round(latencies[len(latencies) // 2], 1)
            result["visibility_ms_p99"] = round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1)
            log(f"visibility p50 {result['visibility_ms_p50']} ms, p99 {result['visibility_ms_p99']} ms")
            rate, failed = measure_throughput(conductors, jobs)
            result["run_event_jobs_per_s_3"], result["failed_3"] = round(rate, 1), failed
            log(f"three conductors: {rate:.1f} jobs/s")
        finally:
            for conductor in conductors:
                conductor.stop()
    with tempfile.TemporaryDirectory() as data_dir, Database() as db_url:
        conductors = fleet(1, data_dir, db_url)
        try:
            rate, failed = measure_throughput(conductors, jobs)
            result["run_event_jobs_per_s_1"], result["failed_1"] = round(rate, 1), failed
            log(f"one conductor: {rate:.1f} jobs/s")
        finally:
            conductors[0].stop()
    result["targets"] = TARGETS
    result["meets_targets"] = {
        "failover_s_max": result["failover_s_max"] <= TARGETS["failover_s_max"],
        "visibility_ms_p99_max": result["visibility_ms_p99"] <= TARGETS["visibility_ms_p99_max"],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
