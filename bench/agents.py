"""Benchmark of running jobs on agents; prints one JSON object.

Against a real ``cronwright serve`` (SQLite in a temporary data directory, launch brake off, the
local worker off) with ``--agents`` real ``cronwright agent`` processes on this machine (distinct
``--hostname``s), and an event whose script is ``#!/bin/sh\\ntrue`` targeting all of them
(``fewest_jobs``):

- ``latency_ms_median``: ``run_event/v1/wait`` → completed job through an agent, client-measured,
  50 sequential runs (target ≤ 20 ms);
- ``throughput_jobs_per_s``: ``--jobs`` jobs submitted by 16 concurrent clients, each waiting for
  its job through ``/wait`` (target ≥ 200 jobs/s across 4 agents), with the failed (code ≠ 0) and
  lost (no final record) counts (target 0);
- ``jobs_per_agent``: how the jobs spread over the agents.

Run: ``python bench/agents.py`` (``--quick`` for 200 jobs).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _server import start_server
from jobs import KEY, Client, count_lost, run_many

TARGETS = {"latency_ms_median_max": 20.0, "throughput_jobs_per_s_min": 200.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=1000)
    args = parser.parse_args()
    count = 200 if args.quick else args.jobs
    agents: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as root:
        data_dir = Path(root) / "conductor"
        proc, host, port = start_server(
            str(data_dir), KEY, CRONWRIGHT_MAX_JOBS_PER_MIN="0", CRONWRIGHT_LOCAL_WORKER="false"
        )
        url = f"http://{host}:{port}"
        try:
            client = Client(host, port)
            token = client.call("/api/app/get_satellite_token/v1", {})["token"]
            for index in range(args.agents):
                agents.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "cronwright", "agent", "--conductor", url, "--token", token,
                         "--hostname", f"bench-agent-{index}", "--data-dir", f"{root}/agent{index}"],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )  # fmt: skip
            deadline = time.monotonic() + 60
            while True:
                servers = client.call("/api/app/get_active_servers/v1", {})["rows"]
                if len(servers) >= args.agents:
                    break
                assert time.monotonic() < deadline, f"only {len(servers)} agents came online"
                time.sleep(0.2)
            event = client.call(
                "/api/app/create_event/v1",
                {
                    "title": "bench agents",
                    "enabled": True,
                    "category": "general",
                    "targets": [s["id"] for s in servers],
                    "algo": "fewest_jobs",
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
            seconds, failed, ids = run_many(host, port, event["id"], count, 16)
            lost = count_lost(client, ids)
            spread: Counter[str] = Counter()
            for start in range(0, len(ids), 200):
                batch = [i or "jnone" for i in ids[start : start + 200]]
                for job in client.call("/api/app/get_jobs/v1", {"ids": batch})["jobs"]:
                    spread[str(job.get("server"))] += 1
        finally:
            for agent in agents:
                agent.send_signal(signal.SIGTERM)
            for agent in agents:
                agent.wait(70)
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    result = {
        "benchmark": "agents",
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "agents": args.agents,
        "latency_ms_median": round(statistics.median(latencies), 2),
        "latency_ms_p90": round(statistics.quantiles(latencies, n=10)[-1], 2),
        "throughput_jobs_per_s": round(count / seconds, 1),
        "jobs": count,
        "failed": failed,
        "lost": lost,
        "jobs_per_agent": sorted(spread.values()),
        "targets": TARGETS,
        "meets_targets": {
            "latency": statistics.median(latencies) <= TARGETS["latency_ms_median_max"],
            "throughput": count / seconds >= TARGETS["throughput_jobs_per_s_min"],
            "none_failed_or_lost": failed + lost == 0,
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
