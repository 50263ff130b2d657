"""Benchmark of the per-request and per-connection limits (issue 8, points 8 and 9); prints JSON.

Against a real ``cronwright serve`` (SQLite, temporary data directory, default ``http_*``
settings unless stated):

- ``log_reads``: 10 concurrent ``view_job_log`` / ``download_job_log`` reads of one 100 MB
  stored log (a planted gzip file): the server's peak RSS growth (server process only, sampled
  every 10 ms), ``get_events`` latency measured meanwhile from another connection (median, p99,
  max, count) and the aggregate throughput;
- ``compressed_log_reads``: the same with ``get_job_log`` of a 40 MB incompressible gzip log;
- ``stalled_stream``: the RSS growth caused by one ``stream_job_log`` client that reads nothing while
  its job prints 64 MB;
- ``slowloris``: 2,000 sockets trickling partial headers (one header line per second): seconds
  until the last one is closed by the server (default header timeout 10 s, cap 1,000), and
  ``get_events`` latency from a connection opened before the flood;
- ``json_depth_check``: in-process cost of ``jsonutil.loads_untrusted`` against ``orjson.loads``
  on a 16 MB body made of small objects (the worst case the depth walk sees).

Targets (the issue's figures): RSS growth < 50 MB and get_events < 200 ms during the log reads;
every slowloris socket closed within 30 s.

Run: ``python bench/security_limits.py`` (``--quick``: 20 MB logs, 500 slowloris sockets).
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import selectors
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any

import psutil

from _server import start_server

KEY = "bench-security-admin-key"
MB = 1e6
TARGETS = {
    "log_reads_rss_growth_mb_max": 50.0,
    "log_reads_get_events_ms_max": 200.0,
    "slowloris_all_closed_s_max": 30.0,
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Client:
    """One keep-alive connection (reconnects when the server closed it while idle)."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.conn = http.client.HTTPConnection(host, port, timeout=120)

    def call(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        data, headers = json.dumps(body), {"Content-Type": "application/json", "X-API-Key": KEY}
        try:
            self.conn.request("POST", f"/api/app/{name}/v1", data, headers)
            return json.loads(self.conn.getresponse().read())
        except (ConnectionError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection(*self.address, timeout=120)
            self.conn.request("POST", f"/api/app/{name}/v1", data, headers)
            return json.loads(self.conn.getresponse().read())


class RssPeak:
    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self._stop.wait(0.01)

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return round((self.peak - self.base) / MB, 1)


@contextmanager
def get_events_meanwhile(host: str, port: int) -> Iterator[list[float]]:
    """Calls ``get_events`` every 20 ms on its own connection; yields the latencies (ms)."""
    latencies: list[float] = []
    stop = threading.Event()
    client = Client(host, port)
    client.call("get_events", {})  # connected before the load starts

    def run() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            client.call("get_events", {})
            latencies.append((time.perf_counter() - started) * 1000)
            stop.wait(0.02)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield latencies
    finally:
        stop.set()
        thread.join()


def latency_summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    return {
        "count": len(values),
        "median_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max_ms": round(ordered[-1], 2),
    }


def stored_job(client: Client, data_dir: str, write: Callable[[Any], None], size: int, level: int) -> str:
    """A completed job whose stored log is replaced by what ``write`` writes (gzip level ``level``)."""
    event = client.call(
        "create_event",
        {
            "title": f"bench log {time.time_ns()}",
            "enabled": True,
            "category": "general",
            "targets": ["main"],
            "algo": "random",
            "plugin": "shellplug",
            "params": {"script": "#!/bin/sh\necho small\n", "annotate": False},
            "triggers": [{"type": "manual", "enabled": True}],
        },
    )["event"]
    job_id = client.call("run_event", {"id": event["id"]})["id"]
    deadline = time.time() + 30
    while not client.call("get_job", {"id": job_id})["job"].get("final"):
        if time.time() > deadline:
            raise RuntimeError("job did not finish")
        time.sleep(0.05)
    path = os.path.join(data_dir, "logs", "jobs", f"{job_id}.log.gz")
    with gzip.open(path + ".plant", "wb", compresslevel=level) as fh:
        write(fh)
    os.replace(path + ".plant", path)
    client.call("update_job", {"id": job_id, "log_file_size": size})
    return str(job_id)


def read_log(host: str, port: int, path: str) -> int:
    conn = http.client.HTTPConnection(host, port, timeout=300)
    conn.request("GET", path, headers={"X-API-Key": KEY})
    response = conn.getresponse()
    total = 0
    while chunk := response.read(1 << 20):
        total += len(chunk)
    conn.close()
    return total


def bench_log_reads(proc: psutil.Process, host: str, port: int, paths: list[str], expect: int) -> dict[str, Any]:
    with get_events_meanwhile(host, port) as latencies, RssPeak(proc.pid) as rss:
        started = time.perf_counter()
        with ThreadPoolExecutor(len(paths)) as pool:
            sizes = list(pool.map(lambda p: read_log(host, port, p), paths))
        seconds = time.perf_counter() - started
    return {
        "readers": len(paths),
        "complete": all(s == expect for s in sizes),
        "seconds": round(seconds, 2),
        "throughput_mb_per_s": round(sum(sizes) / MB / seconds, 1),
        "server_rss_growth_mb": rss.growth_mb,
        "get_events": latency_summary(latencies),
    }


def text_log(size: int) -> Callable[[Any], None]:
    def write(fh: Any) -> None:
        block = (b"a" * 99 + b"\n") * 10_000
        written = 0
        while written < size:
            piece = block[: size - written]
            fh.write(piece)
            written += len(piece)

    return write


def bench_stalled_stream(proc: psutil.Process, client: Client, host: str, port: int, data_dir: str) -> dict[str, Any]:
    marker = os.path.join(data_dir, f"go-{time.time_ns()}")
    script = (
        f"#!/bin/sh\nwhile [ ! -e {marker} ]; do sleep 0.05; done\n"
        "head -c 64000000 /dev/zero | tr '\\0' 'a' | fold -w 100\n"
    )
    event = client.call(
        "create_event",
        {
            "title": f"bench stream {time.time_ns()}",
            "enabled": True,
            "category": "general",
            "targets": ["main"],
            "algo": "random",
            "plugin": "shellplug",
            "params": {"script": script, "annotate": False},
            "triggers": [{"type": "manual", "enabled": True}],
        },
    )["event"]
    job_id = client.call("run_event", {"id": event["id"]})["id"]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    sock.sendall(
        f"GET /api/app/stream_job_log/v1?id={job_id} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {KEY}\r\n\r\n".encode()
    )
    received = b""
    while b"event: job\n" not in received:
        received += sock.recv(4096)
    with RssPeak(proc.pid) as rss:
        started = time.perf_counter()
        open(marker, "w").close()
        while not client.call("get_job", {"id": job_id})["job"].get("final"):
            time.sleep(0.1)
        seconds = time.perf_counter() - started
    sock.close()
    return {"job_output_mb": 64.0, "job_seconds": round(seconds, 2), "server_rss_growth_mb": rss.growth_mb}


def bench_slowloris(host: str, port: int, count: int) -> dict[str, Any]:
    partial = b"GET /api/app/get_events/v1 HTTP/1.1\r\nHost: localhost\r\n"
    selector = selectors.DefaultSelector()
    socks = []
    with get_events_meanwhile(host, port) as latencies:
        for _ in range(count):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex((host, port))
            socks.append(sock)
            selector.register(sock, selectors.EVENT_WRITE)
        opened = time.monotonic()
        started: set[socket.socket] = set()
        open_socks = set(socks)
        closed_at: list[float] = []
        next_trickle = opened
        while open_socks and time.monotonic() - opened < 120:
            for key, _ in selector.select(0.2):
                sock = key.fileobj  # type: ignore[assignment]
                if sock not in started:
                    started.add(sock)
                    with suppress(OSError):
                        sock.send(partial)
                    selector.modify(sock, selectors.EVENT_READ)
                    continue
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    selector.unregister(sock)
                    open_socks.discard(sock)
                    closed_at.append(time.monotonic() - opened)
            if time.monotonic() >= next_trickle:
                next_trickle += 1
                for sock in started & open_socks:
                    with suppress(OSError):
                        sock.send(b"X-More: 1\r\n")
    for sock in socks:
        sock.close()
    selector.close()
    closed_at.sort()
    return {
        "sockets": count,
        "still_open": len(open_socks),
        "refused_at_once": sum(1 for t in closed_at if t < 1.0),
        "all_closed_s": round(closed_at[-1], 2) if closed_at and not open_socks else None,
        "get_events_meanwhile": latency_summary(latencies),
    }


def bench_json_depth() -> dict[str, Any]:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
    import orjson

    from cronwright.jsonutil import loads_untrusted

    body = orjson.dumps([{"a": [1, {"b": [2, 3]}], "c": "x"} for _ in range(16_000_000 // 30)])
    timings = {}
    for name, parse in (("orjson_loads_ms", orjson.loads), ("loads_untrusted_ms", loads_untrusted)):
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            parse(body)
            runs.append((time.perf_counter() - started) * 1000)
        timings[name] = round(min(runs), 1)
    return {"body_mb": round(len(body) / MB, 1), **timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    log_bytes = 20_000_000 if args.quick else 100_000_000
    raw_bytes = 10_000_000 if args.quick else 40_000_000
    sockets = 500 if args.quick else 2000
    result: dict[str, Any] = {"quick": args.quick}
    with tempfile.TemporaryDirectory() as data_dir:
        proc, host, port = start_server(data_dir, KEY, CRONWRIGHT_MAX_JOBS_PER_MIN="0")
        log(f"server pid {proc.pid} on port {port}")
        try:
            server = psutil.Process(proc.pid)
            client = Client(host, port)
            log("log reads ...")
            job_id = stored_job(client, data_dir, text_log(log_bytes), log_bytes, level=1)
            token = client.call("get_job", {"id": job_id})["token"]
            paths = [f"/api/app/{'view' if n % 2 else 'download'}_job_log/v1?id={job_id}&t={token}" for n in range(10)]
            result["log_reads"] = {
                "log_mb": log_bytes / MB,
                **bench_log_reads(server, host, port, paths, log_bytes),
            }
            log("compressed log reads ...")
            payload = os.urandom(raw_bytes)
            raw_id = stored_job(client, data_dir, lambda fh: fh.write(payload), raw_bytes, level=0)
            gz_size = os.path.getsize(os.path.join(data_dir, "logs", "jobs", f"{raw_id}.log.gz"))
            paths = [f"/api/app/get_job_log/v1?id={raw_id}"] * 10
            result["compressed_log_reads"] = {
                "file_mb": round(gz_size / MB, 1),
                **bench_log_reads(server, host, port, paths, gz_size),
            }
            log("stalled stream_job_log ...")
            result["stalled_stream"] = bench_stalled_stream(server, client, host, port, data_dir)
            log(f"slowloris ({sockets} sockets) ...")
            result["slowloris"] = bench_slowloris(host, port, sockets)
            result["server_rss_mb_end"] = round(server.memory_info().rss / MB, 1)
        finally:
            proc.terminate()
            proc.wait(30)
    log("JSON depth check ...")
    result["json_depth_check"] = bench_json_depth()
    reads = result["log_reads"]
    closed = result["slowloris"]["all_closed_s"]
    result["targets"] = TARGETS
    result["meets_targets"] = {
        "log_reads_rss_growth_mb_max": reads["server_rss_growth_mb"] < TARGETS["log_reads_rss_growth_mb_max"],
        "log_reads_get_events_ms_max": reads["get_events"].get("max_ms", 1e9) < TARGETS["log_reads_get_events_ms_max"],
        "slowloris_all_closed_s_max": closed is not None and closed < TARGETS["slowloris_all_closed_s_max"],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
