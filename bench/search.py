"""Benchmark of ``search_jobs`` and of the retention pass over a large job history; prints JSON.

1. writes ``--jobs`` (default 100,000) completed job records straight into a fresh database through
   the store's own index code (realistic documents: params, tags, meta log rows, cpu/mem; spread
   over 100 days, 100 events, 10 categories, 10 % failures), each with a ~200-byte gzip log file;
2. starts the real server on it and times, over one keep-alive HTTP connection:
   ``event_last_50`` (``query=event:X``, limit 50) and ``category_failed_last_day``
   (``query=category:C tags:_error date:>=<now - 1 day>``, limit 50), each ``--iterations`` times;
3. reports database bytes per job and log bytes per job;
4. runs ``run_maintenance`` with ``retention_max_jobs`` = 1,000 (trimming all others with their
   logs) while another connection samples ``get_events`` and ``create_tag`` every few ms, and
   reports the trim's duration and the largest latencies seen during it (the API stall).

Run from the repository root with the virtualenv active::

    python bench/search.py                 # 100,000 jobs, SQLite
    python bench/search.py --jobs 20000    # smaller
    python bench/search.py --postgres      # throw-away database on 127.0.0.1:5432
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from typing import Any

from sqlalchemy import insert

from _server import start_server
from cronwright import jsonutil
from cronwright.store.sql import tables
from cronwright.store.sql.jobindex import index_rows
from cronwright.store.sql.store import SqlStore

KEY = "bench-search-admin-key"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET_MS = 20.0
DAYS = 100
EVENTS = 100
CATEGORIES = 10
LOG_LINE = "2026-01-01 00:00:00 [info] processed batch 0042 of 0100: 1834 rows in 0.412 s\n"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def job_doc(n: int, total: int, now: float, rng: random.Random) -> dict[str, Any]:
    completed = now - (total - n) * (DAYS * 86400 / total) - rng.random()
    elapsed = round(rng.uniform(0.05, 30.0), 3)
    roll = rng.random()
    code: Any = 0 if roll < 0.9 else (1 if roll < 0.97 else "abort")
    event = f"ev_{n % EVENTS:03d}"
    tags = ["_success" if code == 0 else "_error", "_last"] + (["important"] if n % 7 == 0 else [])
    return {
        "id": f"j{n:015d}",
        "event": event,
        "category": f"cat_{(n % EVENTS) % CATEGORIES}",
        "plugin": "shellplug",
        "targets": ["main"],
        "algo": "random",
        "server": "bench_host",
        "groups": ["main"],
        "source": "scheduler",
        "username": "admin",
        "params": {"script": "#!/bin/sh\n/usr/local/bin/nightly-export --batch 100\n", "annotate": False},
        "tags": tags,
        "limits": [],
        "actions": [],
        "state": "complete",
        "complete": True,
        "final": True,
        "now": completed - elapsed,
        "started": completed - elapsed,
        "completed": completed,
        "elapsed": elapsed,
        "code": code,
        "description": "" if code == 0 else "Script exited with code 1",
        "progress": 1.0,
        "log_file_size": 200,
        "retry_ok": False,
        "files": [],
        "data": {},
        "cpu": {"min": 0.5, "max": 37.2, "total": 212.4, "count": 12, "current": 3.1},
        "mem": {"min": 3_145_728, "max": 52_428_800, "total": 310_378_496, "count": 12, "current": 8_388_608},
        "activity": [
            {"id": f"m{n:015d}a", "epoch": completed - elapsed, "msg": "Job started on server: bench_host"},
            {"id": f"m{n:015d}b", "epoch": completed, "msg": "Job completed"},
        ],
        "event_title": f"Nightly export {event}",
        "event_revision": 3,
    }


def fill(url: str, data_dir: str, total: int, now: float) -> None:
    """Write ``total`` final job records (with their index rows) and their gzip logs."""
    rng = random.Random(42)
    store = SqlStore.open(url)
    logs = os.path.join(data_dir, "logs", "jobs")
    os.makedirs(logs, exist_ok=True)
    log_text = (LOG_LINE * 3).encode()
    started = time.monotonic()
    try:
        for start in range(0, total, 2000):
            docs = [job_doc(n, total, now, rng) for n in range(start, min(total, start + 2000))]
            job_rows, search_rows, word_rows = [], [], []
            for doc in docs:
                job_rows.append(
                    {
                        "id": doc["id"],
                        "event": doc["event"],
                        "state": "complete",
                        "source": doc["source"],
                        "category": doc["category"],
                        "started": doc["started"],
                        "completed": doc["completed"],
                        "doc": jsonutil.dumps_str(doc),
                    }
                )
                one, words = index_rows(doc)
                search_rows.append(one)
                word_rows.extend(words)
            with store.write() as w:
                w.conn.execute(insert(tables.jobs), job_rows)
                w.conn.execute(insert(tables.job_search), search_rows)
                w.conn.execute(insert(tables.job_words), word_rows)
            for doc in docs:
                with open(os.path.join(logs, f"{doc['id']}.log.gz"), "wb") as fh:
                    fh.write(gzip.compress(log_text, mtime=0))
            if start % 20000 == 0:
                log(f"  {start + len(docs)} jobs written ({time.monotonic() - started:.0f} s)")
        if store.dialect == "postgresql":  # what autovacuum does soon after a bulk load
            with store.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    finally:
        store.close()


class Client:
    def __init__(self, host: str, port: int) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=1800)

    def call(self, name: str, params: dict[str, Any] | None = None, method: str = "GET") -> tuple[float, Any]:
        headers = {"X-API-Key": KEY}
        path = f"/api/app/{name}/v1"
        body = None
        if method == "GET":
            path += "?" + urllib.parse.urlencode(params or {})
        else:
            body, headers["Content-Type"] = json.dumps(params or {}), "application/json"
        begin = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        data = self.conn.getresponse().read()
        elapsed_ms = (time.perf_counter() - begin) * 1000
        return elapsed_ms, json.loads(data)


def timed(client: Client, queries: list[dict[str, Any]], iterations: int) -> dict[str, Any]:
    samples, rows, total = [], 0, 0
    for i in range(iterations):
        ms, body = client.call("search_jobs", queries[i % len(queries)])
        assert body.get("code") == 0, body
        samples.append(ms)
        rows, total = rows + len(body["rows"]), total + body["list"]["length"]
    samples.sort()
    return {
        "ms_median": round(statistics.median(samples), 2),
        "ms_p95": round(samples[int(len(samples) * 0.95) - 1], 2),
        "rows_mean": round(rows / iterations, 1),
        "matches_mean": round(total / iterations, 1),
    }


def probe(sampler: Client, n: int | str) -> tuple[float, float]:
    """One read and one write (a tag created, then deleted untimed, so the catalog keeps its size
    and a growing catalog does not pollute the figures)."""
    read_ms, _ = sampler.call("get_events", {"limit": 50})
    write_ms, body = sampler.call("create_tag", {"id": f"t{n}", "title": f"Stall probe {n}"}, method="POST")
    assert body.get("code") == 0, body
    _, body = sampler.call("delete_tag", {"id": f"t{n}"}, method="POST")
    assert body.get("code") == 0, body
    return read_ms, write_ms


def baseline(host: str, port: int, seconds: float = 5.0) -> dict[str, Any]:
    """The same probes without a trim running (what the machine does anyway)."""
    sampler, reads, writes = Client(host, port), [], []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        read_ms, write_ms = probe(sampler, f"b{len(reads)}")
        reads.append(read_ms)
        writes.append(write_ms)
        time.sleep(0.002)
    return {"get_events_ms_max": round(max(reads), 1), "create_tag_ms_max": round(max(writes), 1)}


def stall_during_trim(host: str, port: int) -> dict[str, Any]:
    """Trim to 1,000 jobs while sampling a read and a write; the largest latencies seen."""
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def trim() -> None:
        begin = time.perf_counter()
        _, body = Client(host, port).call("run_maintenance", {}, method="POST")
        outcome.update(body=body, seconds=round(time.perf_counter() - begin, 2))
        done.set()

    sampler = Client(host, port)
    reads, writes = [], []
    worker = threading.Thread(target=trim)
    worker.start()
    n = 0
    while not done.is_set():
        read_ms, write_ms = probe(sampler, n)
        reads.append(read_ms)
        writes.append(write_ms)
        n += 1
        time.sleep(0.002)
    worker.join()
    return {
        "trimmed": outcome["body"].get("jobs"),
        "trim_seconds": outcome["seconds"],
        "longest_batch_ms": outcome["body"].get("longest_batch_ms"),
        "samples": len(reads),
        "get_events_ms_max": round(max(reads), 1),
        "get_events_ms_p99": round(sorted(reads)[max(0, int(len(reads) * 0.99) - 1)], 1),
        "create_tag_ms_max": round(max(writes), 1),
        "create_tag_ms_p99": round(sorted(writes)[max(0, int(len(writes) * 0.99) - 1)], 1),
        "target_stall_ms": 50.0,
    }


def database_bytes(url: str, data_dir: str) -> int:
    if url.startswith("sqlite"):
        base = os.path.join(data_dir, "cronwright.db")
        return sum(os.path.getsize(p) for p in (base, base + "-wal") if os.path.exists(p))
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--postgres", action="store_true", help="use a throw-away database on 127.0.0.1:5432")
    parser.add_argument("--no-trim", action="store_true", help="skip the retention measurement")
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="cw-bench-search-")
    pg_name = ""
    if args.postgres:
        import psycopg

        pg_name = "cw_bench_" + uuid.uuid4().hex[:10]
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + pg_name
    else:
        url = f"sqlite:///{os.path.join(data_dir, 'cronwright.db')}"
    now = time.time()
    proc = None
    try:
        log(f"writing {args.jobs} jobs to {'PostgreSQL' if args.postgres else 'SQLite'} in {data_dir}")
        fill(url, data_dir, args.jobs, now)
        env = {"CRONWRIGHT_RETENTION_MAX_JOBS": "1000", "CRONWRIGHT_MAX_JOBS_PER_MIN": "0"}
        if args.postgres:
            env["CRONWRIGHT_DB_URL"] = url
        proc, host, port = start_server(data_dir, KEY, **env)
        client = Client(host, port)
        client.call("search_jobs", {"query": "*"})  # warm-up
        day_ago = int(now - 86400)
        results: dict[str, Any] = {
            "backend": "postgresql" if args.postgres else "sqlite",
            "jobs": args.jobs,
            "event_last_50": timed(
                client, [{"query": f"event:ev_{e:03d}", "limit": 50} for e in range(EVENTS)], args.iterations
            ),
            "category_failed_last_day": timed(
                client,
                [{"query": f"category:cat_{c} tags:_error date:>={day_ago}", "limit": 50} for c in range(CATEGORIES)],
                args.iterations,
            ),
            "all_last_50": timed(client, [{"query": "*", "limit": 50}], args.iterations),
            "target_ms_median": TARGET_MS,
        }
        logs_dir = os.path.join(data_dir, "logs", "jobs")
        log_bytes = sum(e.stat().st_blocks * 512 for e in os.scandir(logs_dir))
        log_apparent = sum(e.stat().st_size for e in os.scandir(logs_dir))
        results["db_bytes_per_job"] = round(database_bytes(url, data_dir) / args.jobs)
        results["log_bytes_per_job"] = round(log_apparent / args.jobs)
        results["log_disk_bytes_per_job"] = round(log_bytes / args.jobs)
        results["meets_target"] = all(
            results[k]["ms_median"] <= TARGET_MS for k in ("event_last_50", "category_failed_last_day")
        )
        if not args.no_trim:
            log("trimming to 1,000 jobs while sampling get_events and create_tag")
            results["probes_without_trim"] = baseline(host, port)
            results["retention"] = stall_during_trim(host, port)
            results["retention"]["logs_left"] = len(os.listdir(logs_dir))
        print(json.dumps(results, indent=2))
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        shutil.rmtree(data_dir, ignore_errors=True)
        if pg_name:
            import psycopg

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
