"""Run the real ``cronwright serve`` as a subprocess and talk to it over HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ADMIN_KEY = "test-admin-key-0123456789abcdef"
ADMIN_PASSWORD = "test-admin-password"
PG_ADMIN_URL = os.environ.get("CRONWRIGHT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
_LISTENING = re.compile(r"is listening on (http://\S+)")


class Server:
    """One ``cronwright serve`` process on a free port with its own data directory."""

    def __init__(
        self,
        data_dir: Path,
        db_url: str | None = None,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.db_url = db_url
        self.args = list(args or [])  # extra ``serve`` options, e.g. ["--log-format", "json"]
        self.env = {
            **os.environ,
            "CRONWRIGHT_ADMIN_KEY": ADMIN_KEY,
            "CRONWRIGHT_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "CRONWRIGHT_LOG_LEVEL": "warning",
            "CRONWRIGHT_MAX_JOBS_PER_MIN": "0",
            "CRONWRIGHT_CHILD_KILL_TIMEOUT_S": "1",
            # no test server may send a web hook off this machine (the OpenAPI fuzzer included)
            "CRONWRIGHT_WEB_HOOK_ALLOW_NETWORKS": "127.0.0.0/8, ::1",
            **(env or {}),
        }
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []
        self._clients: list[Api] = []

    def start(self, timeout_s: float = 60) -> Server:
        cmd = [sys.executable, "-m", "cronwright", "serve", "--port", "0", "--data-dir", str(self.data_dir)]
        if self.db_url:
            cmd += ["--db-url", self.db_url]
        cmd += self.args
        self.url = ""  # a restart (the same port with --port P) announces it again
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env, bufsize=1
        )
        found = threading.Event()

        def pump() -> None:
            assert self.proc and self.proc.stdout
            try:
                for line in self.proc.stdout:
                    self.output.append(line)
                    match = _LISTENING.search(line)
                    if match and not self.url:
                        self.url = match.group(1)
                        found.set()
            except ValueError:  # the pipe was closed by stop()
                pass
            found.set()

        threading.Thread(target=pump, daemon=True).start()
        if not found.wait(timeout_s) or not self.url:
            self.stop()
            raise RuntimeError("server did not start:\n" + "".join(self.output))
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 20) -> int | None:
        for client in self._clients:
            client.http.close()
        self._clients.clear()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'cronwright.db'}"

    def client(self, **kwargs: Any) -> Api:
        client = Api(self.url, **kwargs)
        self._clients.append(client)
        return client


class Api:
    """A thin xyOps API client: ``call(name, params)`` → (HTTP status, JSON body)."""

    def __init__(self, base_url: str, key: str | None = ADMIN_KEY) -> None:
        self.base_url = base_url
        self.key = key
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def with_key(self, key: str | None) -> Api:
        clone = Api.__new__(Api)
        clone.base_url, clone.key, clone.http = self.base_url, key, self.http
        return clone

    def call(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        *,
        method: str = "POST",
        versioned: bool = True,
        headers: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        path = f"/api/app/{name}" + ("/v1" if versioned else "")
        all_headers = {"X-API-Key": self.key} if self.key else {}
        all_headers.update(headers or {})
        if method == "GET":
            response = self.http.get(path, params={**(params or {}), **(query or {})}, headers=all_headers)
        else:
            response = self.http.request(method, path, json=params or {}, params=query, headers=all_headers)
        return response.status_code, response.json()

    def ok(self, name: str, params: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        """Call and assert success; returns the body."""
        status, body = self.call(name, params, **kwargs)
        assert status == 200 and body.get("code") == 0, (name, status, body)
        return body

    def error(self, name: str, params: dict[str, Any] | None = None, **kwargs: Any) -> tuple[int, str, str]:
        """Call and assert failure; returns (status, code, description)."""
        status, body = self.call(name, params, **kwargs)
        assert body.get("code") != 0, (name, status, body)
        assert isinstance(body.get("description"), str) and body["description"], body
        return status, body["code"], body["description"]


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


@contextmanager
def temporary_pg_database() -> Iterator[str]:
    """A new empty PostgreSQL database, dropped afterwards; yields its URL."""
    import psycopg

    name = "cw_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        deadline = time.time() + 10
        while True:
            try:
                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
