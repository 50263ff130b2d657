#!/usr/bin/env python3
"""Benchmark of the Events API, measured over HTTP exactly as an xyOps client sees it.

What it does:

1. starts the real server as a subprocess (``python -m cronwright serve --port 0``) with a fresh
   temporary data directory (SQLite by default; ``--db-url`` passes a database URL through, and
   ``--postgres`` creates a throw-away ``cw_bench_<random>`` database on the local PostgreSQL and
   drops it afterwards);
2. creates ``--events`` events (default 10,000) one after another with
   ``POST /api/app/create_event/v1`` over one keep-alive connection, each with a schedule
   trigger (rotating time zones) and a manual trigger;
3. pauses creation at exactly 1,000 events to time ``GET /api/app/get_events/v1`` (the full list,
   no filters), times it again with all events, then times ``GET /api/app/get_event/v1?id=...``
   for random existing events;
4. samples the server's RSS (children included) right after start-up and at the end.

It prints one JSON object to stdout (medians and percentiles in milliseconds, the targets and
whether each was met); progress goes to stderr. Latencies are measured by the client
(``http.client``, persistent connection, time until the whole body is read), so they include the
client's own overhead; response bodies are parsed outside the timed region.

Run it from the repository root with the project's virtualenv active::

    python bench/events_api.py                 # 10,000 events, SQLite
    python bench/events_api.py --quick         # 1,000 events, fewer iterations (smoke run)
    python bench/events_api.py --postgres      # throw-away database on 127.0.0.1:5432
    python bench/events_api.py --db-url postgresql://postgres@127.0.0.1:5432/mydb
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import queue
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import psutil

LISTENING = re.compile(r"is listening on (http://\S+)")
TIMEZONES = ("UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney")
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CHECKPOINT = 1000  # get_events is timed when exactly this many events exist

TARGETS: dict[str, float] = {
    "create_rate_per_s_min": 1000.0,
    "get_events_ms_median_1000_max": 5.0,
    "get_events_ms_median_10000_max": 60.0,
    "get_event_ms_median_max": 2.0,
    "server_rss_mb_max": 200.0,
}

CLIENT_OVERHEAD_NOTE = (
    "Latencies are measured by the benchmark client (stdlib http.client, one persistent keep-alive "
    "connection, from sending the request until the whole response body is read) on the same "
    "machine as the server, so they include the client's request building, socket I/O and "
    "header parsing (typically a few tens of microseconds per request) and the CPU it competes "
    "for; JSON parsing of responses happens outside the timed region."
)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Plan:
    events: int
    list_iterations_checkpoint: int
    list_iterations_final: int
    get_iterations: int
    startup_timeout_s: float


def ms(ns: float) -> float:
    return round(ns / 1e6, 3)


def median_ms(samples_ns: list[int]) -> float:
    return ms(statistics.median(samples_ns))


def percentile_ms(samples_ns: list[int], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples_ns)
    rank = max(1, min(len(ordered), -(-len(ordered) * pct // 100)))
    return ms(ordered[int(rank) - 1])


def rss_mb(pid: int) -> float:
    """Resident set size of the process and all its children, MiB."""
    proc = psutil.Process(pid)
    total: int = proc.memory_info().rss
    for child in proc.children(recursive=True):
        with suppress(psutil.NoSuchProcess):
            total += child.memory_info().rss
    return round(total / (1024 * 1024), 1)


# --------------------------------------------------------------------------------------- server


class Server:
    """The ``cronwright serve`` subprocess; its stdout is drained to stderr once it listens."""

    def __init__(self, data_dir: str, admin_key: str, db_url: str | None, startup_timeout_s: float) -> None:
        cmd = [sys.executable, "-m", "cronwright", "serve", "--port", "0", "--data-dir", data_dir]
        if db_url:
            cmd += ["--db-url", db_url]
        env = {**os.environ, "CRONWRIGHT_ADMIN_KEY": admin_key, "CRONWRIGHT_LOG_LEVEL": "warning"}
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._drain, name="server-stdout", daemon=True)
        self._reader.start()
        try:
            self.url = self._wait_listening(startup_timeout_s)
        except BaseException:
            self.stop()
            raise
        self.startup_s = round(time.perf_counter() - started, 3)

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _wait_listening(self, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"server did not report listening within {timeout_s:g} s")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"server exited before listening (status {self.proc.wait()})")
            print(f"[server] {line.rstrip()}", file=sys.stderr, flush=True)
            match = LISTENING.search(line)
            if match:
                threading.Thread(target=self._forward, name="server-forward", daemon=True).start()
                return match.group(1)

    def _forward(self) -> None:
        while (line := self._lines.get()) is not None:
            print(f"[server] {line.rstrip()}", file=sys.stderr, flush=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                log("server ignored SIGTERM for 20 s; killing it")
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)


@contextmanager
def running_server(data_dir: str, admin_key: str, db_url: str | None, timeout_s: float) -> Iterator[Server]:
    server = Server(data_dir, admin_key, db_url, timeout_s)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def scratch_postgres(admin_url: str) -> Iterator[str]:
    """A fresh ``cw_bench_<random>`` database; yields its URL and drops it afterwards."""
    import psycopg
    from psycopg import sql

    name = f"cw_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log(f"created database {name}")
    parts = urllib.parse.urlsplit(admin_url)
    try:
        yield urllib.parse.urlunsplit(parts._replace(path="/" + name))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        log(f"dropped database {name}")


# --------------------------------------------------------------------------------------- client


class Client:
    """A persistent HTTP/1.1 connection that times each request until the body is read."""

    def __init__(self, url: str, api_key: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"unsupported server URL {url!r}")
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=120)
        self.get_headers = {"X-API-Key": api_key}
        self.post_headers = {"X-API-Key": api_key, "Content-Type": "application/json"}

    def get(self, path: str) -> tuple[int, bytes]:
        """Returns (elapsed ns, body)."""
        t0 = time.perf_counter_ns()
        self.conn.request("GET", path, headers=self.get_headers)
        resp = self.conn.getresponse()
        body = resp.read()
        elapsed = time.perf_counter_ns() - t0
        self._check_status(resp, path, body)
        return elapsed, body

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        t0 = time.perf_counter_ns()
        self.conn.request("POST", path, body=body, headers=self.post_headers)
        resp = self.conn.getresponse()
        data = resp.read()
        elapsed = time.perf_counter_ns() - t0
        self._check_status(resp, path, data)
        return elapsed, data

    @staticmethod
    def _check_status(resp: http.client.HTTPResponse, path: str, body: bytes) -> None:
        if resp.status != 200:
            raise RuntimeError(f"{path}: HTTP {resp.status}: {body[:500]!r}")

    def close(self) -> None:
        self.conn.close()


def api_ok(path: str, body: bytes) -> dict[str, Any]:
    doc = json.loads(body)
    if not isinstance(doc, dict) or doc.get("code") != 0:
        raise RuntimeError(f"{path}: API error: {body[:500]!r}")
    return doc


def event_body(n: int) -> bytes:
    return json.dumps(
        {
            "title": f"Bench {n}",
            "enabled": True,
            "category": "general",
            "targets": ["main"],
            "algo": "random",
            "plugin": "shellplug",
            "params": {"script": f"#!/bin/sh\necho {n}\n"},
            "triggers": [
                {
                    "type": "schedule",
                    "enabled": True,
                    "hours": [n % 24],
                    "minutes": [n % 60],
                    "timezone": TIMEZONES[n % len(TIMEZONES)],
                },
                {"type": "manual", "enabled": True},
            ],
        },
        separators=(",", ":"),
    ).encode()


# --------------------------------------------------------------------------------------- phases


CREATE_PATH = "/api/app/create_event/v1"
LIST_PATH = "/api/app/get_events/v1"
GET_PATH = "/api/app/get_event/v1"


def create_events(client: Client, start: int, stop: int, ids: list[str], samples: list[int]) -> float:
    """Creates events ``start..stop-1``; returns the wall time spent, seconds."""
    t0 = time.perf_counter()
    for n in range(start, stop):
        elapsed, body = client.post(CREATE_PATH, event_body(n))
        samples.append(elapsed)
        ids.append(api_ok(CREATE_PATH, body)["event"]["id"])
        if (n + 1) % 1000 == 0:
            log(f"created {n + 1} events")
    return time.perf_counter() - t0


def time_list(client: Client, expected: int, iterations: int, warmup: int = 3) -> tuple[list[int], int]:
    """Times the full event list; returns (samples ns, response size in bytes)."""
    _, body = client.get(LIST_PATH)
    doc = api_ok(LIST_PATH, body)
    if len(doc["rows"]) != expected or doc["list"]["length"] != expected:
        raise RuntimeError(
            f"get_events returned {len(doc['rows'])} rows (length {doc['list']['length']}), expected {expected}"
        )
    for _ in range(warmup - 1):
        client.get(LIST_PATH)
    samples: list[int] = []
    for _ in range(iterations):
        elapsed, body = client.get(LIST_PATH)
        if not body.startswith(b'{"code":0'):
            api_ok(LIST_PATH, body)
        samples.append(elapsed)
    return samples, len(body)


def time_get(client: Client, ids: list[str], iterations: int, rng: random.Random) -> list[int]:
    samples: list[int] = []
    for _ in range(iterations):
        event_id = rng.choice(ids)
        elapsed, body = client.get(f"{GET_PATH}?id={urllib.parse.quote(event_id)}")
        doc = api_ok(GET_PATH, body)
        if doc["event"]["id"] != event_id:
            raise RuntimeError(f"get_event returned {doc['event']['id']!r} for {event_id!r}")
        samples.append(elapsed)
    return samples


def run(plan: Plan, db_url: str | None, backend: str, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    admin_key = secrets.token_urlsafe(32)
    result: dict[str, Any] = {
        "benchmark": "events_api",
        "events": plan.events,
        "backend": backend,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "iterations": {
            "get_events_at_1000": plan.list_iterations_checkpoint,
            "get_events_at_all": plan.list_iterations_final if plan.events > CHECKPOINT else 0,
            "get_event": plan.get_iterations,
        },
        "seed": seed,
    }
    with (
        tempfile.TemporaryDirectory(prefix="cw-bench-") as data_dir,
        running_server(data_dir, admin_key, db_url, plan.startup_timeout_s) as server,
    ):
        log(f"server pid {server.pid} listening on {server.url} after {server.startup_s} s")
        result["server_startup_s"] = server.startup_s
        result["server_rss_mb_start"] = rss_mb(server.pid)
        client = Client(server.url, admin_key)
        try:
            ids: list[str] = []
            create_samples: list[int] = []
            checkpoint = min(CHECKPOINT, plan.events)
            create_s = create_events(client, 0, checkpoint, ids, create_samples)

            list_samples, size = time_list(client, checkpoint, plan.list_iterations_checkpoint)
            result[f"get_events_ms_median_{checkpoint}"] = median_ms(list_samples)
            result[f"get_events_ms_p99_{checkpoint}"] = percentile_ms(list_samples, 99)
            result[f"get_events_bytes_{checkpoint}"] = size
            log(f"get_events @{checkpoint}: median {median_ms(list_samples)} ms, {size} bytes")

            if plan.events > checkpoint:
                create_s += create_events(client, checkpoint, plan.events, ids, create_samples)
                list_samples, size = time_list(client, plan.events, plan.list_iterations_final)
                result[f"get_events_ms_median_{plan.events}"] = median_ms(list_samples)
                result[f"get_events_ms_p99_{plan.events}"] = percentile_ms(list_samples, 99)
                result[f"get_events_bytes_{plan.events}"] = size
                log(f"get_events @{plan.events}: median {median_ms(list_samples)} ms, {size} bytes")

            result["create_rate_per_s"] = round(plan.events / create_s, 1)
            result["create_ms_median"] = median_ms(create_samples)
            result["create_ms_mean"] = ms(statistics.fmean(create_samples))
            result["create_ms_p99"] = percentile_ms(create_samples, 99)
            log(f"create: {result['create_rate_per_s']}/s, median {result['create_ms_median']} ms")

            get_samples = time_get(client, ids, plan.get_iterations, rng)
            result["get_event_ms_median"] = median_ms(get_samples)
            result["get_event_ms_p99"] = percentile_ms(get_samples, 99)
            log(f"get_event: median {result['get_event_ms_median']} ms")
        finally:
            client.close()
        result["server_rss_mb"] = rss_mb(server.pid)
    result["client_overhead_note"] = CLIENT_OVERHEAD_NOTE
    result["targets"] = TARGETS
    result["meets_targets"] = meets_targets(result)
    return result


def meets_targets(result: dict[str, Any]) -> dict[str, bool | None]:
    """``None`` where the measurement was not taken (e.g. ``@10000`` in a ``--quick`` run)."""

    def at_most(key: str, limit: float) -> bool | None:
        value = result.get(key)
        return None if value is None else bool(value <= limit)

    rate = result.get("create_rate_per_s")
    return {
        "create_rate_per_s": None if rate is None else bool(rate >= TARGETS["create_rate_per_s_min"]),
        "get_events_ms_median_1000": at_most("get_events_ms_median_1000", TARGETS["get_events_ms_median_1000_max"]),
        "get_events_ms_median_10000": at_most("get_events_ms_median_10000", TARGETS["get_events_ms_median_10000_max"]),
        "get_event_ms_median": at_most("get_event_ms_median", TARGETS["get_event_ms_median_max"]),
        "server_rss_mb": at_most("server_rss_mb", TARGETS["server_rss_mb_max"]),
    }


# --------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=None, help="events to create (default 10000; 1000 with --quick)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1,000 events, fewer iterations")
    storage = parser.add_mutually_exclusive_group()
    storage.add_argument("--db-url", help="database URL passed to the server as is (default: SQLite in a temp dir)")
    storage.add_argument(
        "--postgres", action="store_true", help="create a throw-away cw_bench_<random> database and drop it at the end"
    )
    parser.add_argument(
        "--pg-admin-url",
        default=PG_ADMIN_URL,
        help=f"maintenance connection used by --postgres (default {PG_ADMIN_URL})",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed for picking random event ids")
    parser.add_argument("--startup-timeout", type=float, default=60.0, help="seconds to wait for the server")
    args = parser.parse_args(argv)
    if args.events is not None and args.events < 1:
        parser.error("--events must be at least 1")
    return args


def backend_of(db_url: str | None) -> str:
    if not db_url:
        return "sqlite"
    scheme = urllib.parse.urlsplit(db_url).scheme
    return "postgresql" if scheme.startswith("postgres") else scheme.split("+")[0]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        plan = Plan(
            events=args.events or 1000,
            list_iterations_checkpoint=50,
            list_iterations_final=10,
            get_iterations=200,
            startup_timeout_s=args.startup_timeout,
        )
    else:
        plan = Plan(
            events=args.events or 10_000,
            list_iterations_checkpoint=200,
            list_iterations_final=50,
            get_iterations=1000,
            startup_timeout_s=args.startup_timeout,
        )
    if args.postgres:
        with scratch_postgres(args.pg_admin_url) as db_url:
            result = run(plan, db_url, "postgresql", args.seed)
    else:
        result = run(plan, args.db_url, backend_of(args.db_url), args.seed)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
