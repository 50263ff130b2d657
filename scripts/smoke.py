#!/usr/bin/env python3
"""Smoke test of a plain install: start ``cronwright serve`` from the given virtualenv on a free
port and a temporary data directory, create the README's example event and run it to completion over
HTTP, exactly as the README shows, and stop the server. Standard library only, so it runs with any Python 3.11+.

Usage: ``python3 scripts/smoke.py VENV_DIR``. Exits 0 when the job succeeded, non-zero otherwise
(the server's output is printed on failure). Used by ``.ci/run`` after ``pip install .`` with no
extras, so a runtime import that only a test extra installs fails CI.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

LISTENING = re.compile(r"is listening on (http://\S+)")
START_TIMEOUT_S = 60
RUN_TIMEOUT_S = 60

README = Path(__file__).resolve().parent.parent / "README.md"
#: a ``curl ... -d '{JSON}' http://127.0.0.1:5522/api/app/PATH`` request of the README's "Using it" section
README_REQUEST = re.compile(r"-d '([^']*)'\s*(?:\\\s*)?http://127\.0\.0\.1:5522/api/app/(\S+)")


def readme_requests() -> list[tuple[str, dict[str, object]]]:
    """The README's example requests, in order, as (API path, JSON body): the smoke test runs
    them exactly as written, so the README's example keeps working."""
    found = [(path, json.loads(body)) for body, path in README_REQUEST.findall(README.read_text())]
    if [path for path, _ in found][:2] != ["create_event/v1", "run_event/v1/wait"]:
        raise SystemExit(f"README.md no longer shows create_event then run_event/v1/wait: {found}")
    return found


def call(base: str, key: str, path: str, params: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        f"{base}/api/app/{path}",
        data=json.dumps(params).encode(),
        headers={"X-API-Key": key, "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=RUN_TIMEOUT_S) as response:
            answer: dict[str, object] = json.load(response)
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{path} answered HTTP {exc.code}: {exc.read()[:500]!r}") from None
    if answer.get("code") != 0:
        raise RuntimeError(f"{path} answered {answer}")
    return answer


def check_ui(base: str) -> int:
    """The web UI ships in the wheel: ``/`` and every asset it names, and every page module of the
    route table, are served. Returns how many files were fetched."""

    def get(path: str) -> str:
        with urllib.request.urlopen(f"{base}{path}", timeout=RUN_TIMEOUT_S) as response:
            return str(response.read().decode())

    index = get("/")
    assets = re.findall(r'(?:src|href)="(/ui/[^"]+)"', index)
    routes = get("/ui/js/pages/index.js")
    assets += sorted({f"/ui/js/pages/{name}.js" for name in re.findall(r"\./pages/(\w+)\.js", routes)})
    if len(assets) < 5:
        raise RuntimeError(f"the web UI's shell names too few assets: {assets}")
    for asset in assets:
        get(asset)
    return len(assets)


def main(venv: Path) -> int:
    key = secrets.token_hex(16)
    output: list[str] = []
    with tempfile.TemporaryDirectory(prefix="cronwright-smoke-") as data_dir:
        env = {**os.environ, "CRONWRIGHT_ADMIN_KEY": key}
        server = subprocess.Popen(
            [str(venv / "bin" / "cronwright"), "serve", "--port", "0", "--data-dir", data_dir],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        found = threading.Event()
        base: list[str] = []

        def read() -> None:
            assert server.stdout is not None
            for line in server.stdout:
                output.append(line)
                match = LISTENING.search(line)
                if match and not found.is_set():
                    base.append(match.group(1))
                    found.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not found.wait(0.2):
                if server.poll() is not None:
                    reader.join(timeout=5)
                    raise RuntimeError(f"the server exited with code {server.returncode} before it listened")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not announce its address within {START_TIMEOUT_S} s")
            started = time.monotonic()
            (create_path, create_body), (run_path, run_body) = readme_requests()[:2]
            event = call(base[0], key, create_path, create_body)["event"]
            assert isinstance(event, dict)
            result = call(base[0], key, run_path, run_body)
            job = result.get("job")
            if not isinstance(job, dict) or job.get("code") != 0:
                raise RuntimeError(f"the example job did not succeed: {result}")
            ui_files = check_ui(base[0])
            print(
                json.dumps(
                    {
                        "smoke": "ok",
                        "event": event["id"],
                        "job": job["id"],
                        "ui_files": ui_files,
                        "seconds": round(time.monotonic() - started, 2),
                    }
                )
            )
            return 0
        except Exception as exc:  # report anything, with the server output
            print(f"smoke test failed: {exc}", file=sys.stderr)
            sys.stderr.write("".join(output))
            return 1
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
            reader.join(timeout=5)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1])))
