"""``stream_job`` timing as the SDK sees it (sdk-wire.md §1.6): the time to the first bytes, the gap
between live updates (1 s in xyOps), the delay from a job's completion to its final update, and
the server's memory with many concurrent streams open. Prints JSON.

    python bench/stream_job.py [--jobs 5] [--streams 50]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from _server import start_server

KEY = "bench-stream-key-0123456789abcdef"


def _stream(base: str, job_id: str, out: dict[str, object]) -> None:
    started = time.time()
    times: list[float] = []
    final = None
    with httpx.stream(
        "GET", f"{base}/api/app/stream_job", params={"id": job_id}, headers={"X-API-Key": KEY}, timeout=60
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data:"):
                data = json.loads(line[5:])
                if data.get("xy"):
                    times.append(time.time())
                    if "code" in data:
                        final = data
    out.update(first_s=times[0] - started, times=times, final=final, ended=time.time())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=5, help="jobs streamed one after another")
    parser.add_argument("--streams", type=int, default=50, help="concurrent streams of one job")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        proc, host, port = start_server(data_dir, KEY)
        base = f"http://{host}:{port}"
        try:
            api = httpx.Client(base_url=base, headers={"X-API-Key": KEY}, timeout=30)
            script = '#!/bin/sh\nfor i in 1 2 3 4 5; do echo "{\\"xy\\":1,\\"progress\\":0.$i}"; sleep 1; done\n'
            event = api.post(
                "/api/app/create_event/v1",
                json={
                    "title": "stream bench",
                    "enabled": True,
                    "category": "general",
                    "targets": ["main"],
                    "algo": "random",
                    "plugin": "shellplug",
                    "params": {"script": script},
                    "triggers": [{"type": "manual", "enabled": True}],
                },
            ).json()["event"]
            firsts, gaps, finals = [], [], []
            for _ in range(args.jobs):
                job_id = api.post("/api/app/run_event/v1", json={"id": event["id"]}).json()["id"]
                out: dict[str, object] = {}
                _stream(base, job_id, out)
                times: list[float] = out["times"]  # type: ignore[assignment]
                final = out["final"]
                assert isinstance(final, dict)
                firsts.append(out["first_s"])
                gaps += [b - a for a, b in itertools.pairwise(times[:-1])]
                finals.append(times[-1] - final["completed"])
            server = psutil.Process(proc.pid)
            before = server.memory_info().rss
            job_id = api.post("/api/app/run_event/v1", json={"id": event["id"]}).json()["id"]
            outs: list[dict[str, object]] = [{} for _ in range(args.streams)]
            threads = [threading.Thread(target=_stream, args=(base, job_id, o)) for o in outs]
            for thread in threads:
                thread.start()
            time.sleep(2.5)
            during = server.memory_info().rss
            for thread in threads:
                thread.join()
            complete = sum(1 for o in outs if isinstance(o.get("final"), dict))
        finally:
            proc.terminate()
            proc.wait(10)
    print(
        json.dumps(
            {
                "first_update_ms": {
                    "median": round(statistics.median(firsts) * 1000, 1),  # type: ignore[arg-type]
                    "max": round(max(firsts) * 1000, 1),  # type: ignore[arg-type]
                },
                "update_gap_s": {
                    "min": round(min(gaps), 3),
                    "median": round(statistics.median(gaps), 3),
                    "max": round(max(gaps), 3),
                },
                "completion_to_final_update_s": {
                    "median": round(statistics.median(finals), 3),
                    "max": round(max(finals), 3),
                },
                "concurrent_streams": args.streams,
                "streams_with_final_update": complete,
                "server_rss_growth_mb": round((during - before) / 1e6, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
