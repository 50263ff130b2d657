#!/usr/bin/env python3
"""Micro-benchmark of the runner: how fast ``JobRun`` starts and finishes trivial Shell jobs.

What it does, for each event loop (the default asyncio loop and uvloop):

1. runs ``--jobs`` (default 1,000) Shell-plugin jobs whose script is ``#!/bin/sh\\ntrue`` through
   ``JobRun``, at most ``--concurrency`` (default 16) at a time, and reports jobs per second;
2. runs ``--latency-runs`` (default 50) such jobs one after another and reports the median
   wall time of ``await JobRun(...).wait()``;
3. as a baseline, the median time of ``subprocess.run`` of the same script file (what the process
   itself costs), so ``overhead_ms_median`` is what the runner adds.

Every job writes its own script file into one temporary job directory (the job directories a
conductor creates are not part of the measurement). It prints one JSON object to stdout.

Run it from the repository root with the project's virtualenv active::

    python bench/runner_spawn.py
    python bench/runner_spawn.py --jobs 200 --latency-runs 20   # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import uvloop

from cronwright.runner import JobRun, RunResult, RunSpec

SCRIPT = "#!/bin/sh\ntrue\n"


class NullSink:
    """Accepts every report and keeps nothing."""

    def on_start(self, pid: int) -> None:
        pass

    def on_log(self, chunk: bytes) -> None:
        pass

    def on_update(self, changes: dict[str, Any]) -> None:
        pass

    def on_push(self, push: dict[str, list[Any]]) -> None:
        pass

    def on_notice(self, message: str) -> None:
        pass


def make_spec(cwd: Path, job_id: str) -> RunSpec:
    job = {"id": job_id, "now": time.time(), "params": {"script": SCRIPT}, "input": {"data": {}, "files": []}}
    return RunSpec(job=job, command="[shell-plugin]", cwd=cwd, base_env={"PATH": os.environ.get("PATH", "/bin")})


async def run_one(cwd: Path, job_id: str) -> RunResult:
    result = await JobRun(make_spec(cwd, job_id), NullSink()).wait()
    if result.code != 0:
        raise SystemExit(f"job {job_id} failed: {result.code} {result.description}")
    return result


async def throughput(cwd: Path, jobs: int, concurrency: int) -> float:
    semaphore = asyncio.Semaphore(concurrency)

    async def limited(index: int) -> None:
        async with semaphore:
            await run_one(cwd, f"t{index}")

    started = time.perf_counter()
    await asyncio.gather(*(limited(index) for index in range(jobs)))
    return jobs / (time.perf_counter() - started)


async def latencies(cwd: Path, runs: int) -> list[float]:
    times = []
    for index in range(runs):
        started = time.perf_counter()
        await run_one(cwd, f"l{index}")
        times.append((time.perf_counter() - started) * 1000)
    return times


def baseline(cwd: Path, runs: int) -> list[float]:
    script = cwd / "baseline.sh"
    script.write_text(SCRIPT)
    script.chmod(0o775)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(script)], stdin=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure(run: Callable[[Coroutine[Any, Any, Any]], Any], args: argparse.Namespace, cwd: Path) -> dict[str, Any]:
    run(latencies(cwd, 5))  # warm-up
    rate = run(throughput(cwd, args.jobs, args.concurrency))
    times = run(latencies(cwd, args.latency_runs))
    base = baseline(cwd, args.latency_runs)
    return {
        "jobs_per_s": round(rate, 1),
        "latency_ms_median": round(statistics.median(times), 3),
        "latency_ms_p90": round(statistics.quantiles(times, n=10)[-1], 3),
        "process_only_ms_median": round(statistics.median(base), 3),
        "overhead_ms_median": round(statistics.median(times) - statistics.median(base), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency-runs", type=int, default=50)
    args = parser.parse_args()
    report: dict[str, Any] = {
        "jobs": args.jobs,
        "concurrency": args.concurrency,
        "latency_runs": args.latency_runs,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "targets": {"jobs_per_s": 200, "overhead_ms_median": 5},
    }
    with tempfile.TemporaryDirectory(prefix="cw-bench-runner-") as tmp:
        for name, run in (("asyncio", asyncio.run), ("uvloop", uvloop.run)):
            cwd = Path(tmp) / name
            cwd.mkdir()
            print(f"measuring on {name} ...", file=sys.stderr)
            report[name] = measure(run, args, cwd)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
