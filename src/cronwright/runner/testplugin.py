"""The built-in Test plugin (``[test-plugin]``, plugins.md §7), run as
``python -I -m cronwright.runner.testplugin`` (isolated: nothing in the job directory is imported):
reads the job line from stdin, reports progress every second for ``duration`` seconds, then
finishes as ``action`` says.

Params: ``duration`` (seconds: a number, "N" or a random range "N-M"; 0 allowed), ``action``
(Success | Error | Warning | Critical | Crash; a list such as "Success, Error" means its first
entry), ``custom`` (echoed in the output data), ``burn`` (keep a CPU busy while running),
``upload`` (write a sample file and push it as an output file).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import socket
import sys
import time
from typing import Any

_OUTCOMES: dict[str, tuple[int | str, str]] = {
    "error": (999, "Simulating an error message here.  Something went wrong!"),
    "warning": ("warning", "Simulating a warning message here.  Something is concerning!"),
    "critical": ("critical", "Simulating a critical error message here.  Something is VERY wrong!"),
}


def emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps({"xy": 1, **record}, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def parse_duration(value: Any) -> float:
    """Seconds from a number, "N" or "N-M" (a random whole number in the range)."""
    text = str(value if value is not None else 0).strip()
    if match := re.fullmatch(r"(\d+)\s*-\s*(\d+)", text):
        low, high = sorted((int(match[1]), int(match[2])))
        return float(random.randint(low, high))
    try:
        return max(0.0, float(text))
    except ValueError:
        return 0.0


def parse_action(value: Any) -> str:
    return (str(value or "Success").split(",")[0].strip() or "Success").lower()


def truthy(value: Any) -> bool:
    return value.strip().lower() not in ("", "0", "false", "no", "off") if isinstance(value, str) else bool(value)


def work(seconds: float, burn: bool) -> None:
    end = time.monotonic() + seconds
    while (now := time.monotonic()) < end:
        if not burn:
            time.sleep(end - now)


def run(job: dict[str, Any]) -> None:
    params = job.get("params") or {}
    duration = parse_duration(params.get("duration", 0))
    action = parse_action(params.get("action"))
    burn = truthy(params.get("burn"))
    print("Job start!", flush=True)
    started = time.monotonic()
    elapsed = 0.0
    while elapsed < duration:
        step = min(1.0, duration - elapsed)
        work(step, burn)
        elapsed = time.monotonic() - started
        progress = min(elapsed / duration, 1.0)
        print(f"Progress: {progress * 100:.0f}%", flush=True)
        emit({"progress": round(progress, 4)})
    if truthy(params.get("upload")):
        with contextlib.suppress(FileNotFoundError):
            os.unlink("sample.txt")  # an input file of that name may be a hard link to the stored upload
        with open("sample.txt", "x", encoding="utf-8") as handle:
            handle.write(f"Sample report for job {job.get('id', '')}\n")
        emit({"push": {"files": ["sample.txt"]}})
    print("We're done!", flush=True)
    total = round(time.monotonic() - started, 3)
    perf = {"total": total, "db_query": round(total * 0.3, 3), "http_post": round(total * 0.5, 3)}
    if action == "crash":
        raise RuntimeError("Test Crash")
    if action in _OUTCOMES:
        code, description = _OUTCOMES[action]
        emit({"code": code, "description": description, "perf": perf})
        return
    table = {
        "title": "Sample Job Stats",
        "header": ["IP Address", "Count", "Percentage"],
        "rows": [["62.121.210.2", 138, "0.0032%"], ["97.247.105.50", 84, "0.0019%"]],
        "caption": "An example table a plugin can report.",
    }
    html = {"title": "Sample Job Report", "content": "<pre>A sample report.</pre>", "caption": ""}
    data = {
        "text": "This is some sample data to pass to the next job!",
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "random": round(random.random(), 3),
        "obj": {"foo": 1, "bar": None, "bool": True},
        "custom": params.get("custom", ""),
    }
    emit({"code": 0, "description": "Success!", "data": data, "table": table, "html": html, "perf": perf})


def main() -> None:
    line = sys.stdin.readline()
    job = json.loads(line) if line.strip() else {}
    run(job if isinstance(job, dict) else {})


if __name__ == "__main__":
    main()
