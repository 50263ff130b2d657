#!/usr/bin/env python3
"""Benchmark of the web UI's events page with many events (issue 13 point 5: interactive within 1 s).

What it does:

1. starts the real server (``python -m cronwright serve --port 0``, SQLite, a temporary data
   directory; see ``bench/_server.py``);
2. creates ``--events`` events (default 10,000) with ``create_event`` from ``--clients`` parallel
   keep-alive connections; each has a schedule trigger (rotating time zones, some weekday-only),
   a manual trigger, rotating tags and targets, a tenth of them disabled;
3. opens ``#/events`` in Chromium (Playwright, the system ``/usr/bin/chromium``, 1280×800) as a
   logged-in admin, ``--runs`` times in fresh pages, and measures from navigation start
   (``performance.timeOrigin``) until the list shows rows, and then until the search box has
   taken a query and the list shows the one matching event (the filter is debounced by 120 ms;
   that wait is included).

It prints one JSON object: ``{"events": N, "interactive_ms": median, "rows_ms": median,
"summaries_ms": median, "runs": [...], ...}``: ``rows_ms`` is the time to the first frame that
shows rows, ``interactive_ms`` the time until the query typed in that frame has filtered the list,
``summaries_ms`` until the next runs and last results (one ``get_event_summaries`` call) are
filled in, ``render_ms`` the page's own work from the data's arrival to the rendered list (the
``events:render`` measure). Times are taken in the page (``performance.now()``), so the harness's
round trips are not counted. The first run is cold (nothing cached); the figure is the median.
Progress goes to stderr.

    python bench/ui_events.py                 # 10,000 events
    python bench/ui_events.py --events 1000   # a smaller list
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from typing import Any

from _server import start_server

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney")
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench-admin-password"
TARGET_MS = 1000.0


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def payload(i: int) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "type": "schedule",
        "enabled": True,
        "hours": [i % 24],
        "minutes": [(i * 7) % 60],
        "timezone": ZONES[i % len(ZONES)],
    }
    if i % 3 == 0:
        schedule["weekdays"] = [1, 2, 3, 4, 5]
    return {
        "id": f"bench_{i:05d}",
        "title": f"Bench event {i:05d} {['backup', 'report', 'sync', 'cleanup'][i % 4]}",
        "enabled": i % 10 != 0,
        "category": "general",
        "targets": ["main"],
        "algo": "random",
        "plugin": "shellplug",
        "params": {"script": "#!/bin/sh\necho hi\n", "annotate": False},
        "tags": [["important"], ["flag"], []][i % 3],
        "triggers": [schedule, {"type": "manual", "enabled": True}],
    }


def create_events(host: str, port: int, key: str, count: int, clients: int) -> float:
    started = time.perf_counter()
    errors: list[str] = []

    def work(offset: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        headers = {"content-type": "application/json", "x-api-key": key}
        for i in range(offset, count, clients):
            conn.request("POST", "/api/app/create_event/v1", json.dumps(payload(i)), headers)
            body = json.loads(conn.getresponse().read())
            if body.get("code") != 0:
                errors.append(str(body))
        conn.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} events not created, e.g. {errors[0]}")
    return time.perf_counter() - started


#: runs in the page before its own scripts: on the first frame that shows rows it types the query into
#: the search box, then notes when the list shows just the matching event, and when the next-run
#: cells are filled (all in-page times, so the harness's own round trips are not counted)
PROBE = """(query) => {
  const bench = (window.__bench = {});
  function poll() {
    const rows = document.querySelectorAll('.events-table tbody tr');
    const box = document.querySelector('#events-search');
    if (bench.rows === undefined && rows.length && box) {
      bench.rows = performance.now();
      box.value = query;
      box.dispatchEvent(new Event('input', {bubbles: true}));
    } else if (bench.rows !== undefined && bench.filtered === undefined
        && rows.length === 1 && rows[0].textContent.includes(query)) {
      bench.filtered = performance.now();
    }
    if (bench.filtered !== undefined && bench.summaries === undefined) {
      const cell = rows[0] && rows[0].querySelector('.events-next-cell');
      if (cell && !cell.textContent.includes('…')) bench.summaries = performance.now();
    }
    if (bench.summaries === undefined) requestAnimationFrame(poll);
  }
  requestAnimationFrame(poll);
}"""


def measure(url: str, runs: int) -> list[dict[str, float]]:
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 800})
        answer = context.request.post("/api/user/login", data={"username": "admin", "password": PASSWORD})
        assert answer.json()["code"] == 0, answer.text()
        for run in range(runs):
            page = context.new_page()
            query = f"Bench event {(run * 3331 + 17) % 10000:05d}"
            page.add_init_script(f"({PROBE})({json.dumps(query)})")
            page.goto("/#/events", wait_until="commit")
            page.wait_for_function("() => window.__bench && window.__bench.summaries !== undefined", timeout=60_000)
            bench = page.evaluate("window.__bench")
            render = page.evaluate("performance.getEntriesByName('events:render').map((m) => m.duration)[0]")
            results.append(
                {
                    "rows_ms": round(bench["rows"], 1),
                    "interactive_ms": round(bench["filtered"], 1),
                    "summaries_ms": round(bench["summaries"], 1),
                    "render_ms": round(render or 0, 1),
                }
            )
            log(f"run {run + 1}: {results[-1]}")
            page.close()
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    key = "bench_" + secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="cw-bench-ui-") as data_dir:
        proc, host, port = start_server(data_dir, key, CRONWRIGHT_ADMIN_PASSWORD=PASSWORD)
        try:
            log(f"server pid {proc.pid} on {host}:{port}; creating {args.events} events")
            create_s = create_events(host, port, key, args.events, args.clients)
            log(f"created in {create_s:.1f} s")
            runs = measure(f"http://{host}:{port}", args.runs)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    median = {
        name: statistics.median(r[name] for r in runs)
        for name in ("rows_ms", "interactive_ms", "summaries_ms", "render_ms")
    }
    print(
        json.dumps(
            {
                "events": args.events,
                "interactive_ms": median["interactive_ms"],
                "rows_ms": median["rows_ms"],
                "summaries_ms": median["summaries_ms"],
                "render_ms": median["render_ms"],
                "target_ms": TARGET_MS,
                "meets_target": median["interactive_ms"] <= TARGET_MS,
                "create_s": round(create_s, 1),
                "runs": runs,
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
