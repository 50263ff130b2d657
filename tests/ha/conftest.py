"""Several conductors on one PostgreSQL database (docs/ha.md): a fresh database per test, three
``cronwright serve`` processes sharing one data directory (job logs and files are shared, as
docs/ha.md asks), each with the test clock so minutes can be stepped through."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import require_backend
from tests.support.server import Api, Server, temporary_pg_database

T0 = 1924992000  # 2031-01-01 00:00 UTC


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 30, every_s: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # a conductor restarting, a refused connection: try again
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(every_s)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class Fleet:
    def __init__(self, data_dir: Path, db_url: str, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.db_url = db_url
        self.env = env
        self.servers: list[Server] = []

    def start(self, count: int) -> list[Server]:
        started = [self.add() for _ in range(count)]
        wait_for("every conductor to list all", lambda: all(self.live_count(s) == len(self.servers) for s in started))
        return started

    def add(self) -> Server:
        server = Server(self.data_dir, self.db_url, env=self.env).start()
        self.servers.append(server)
        return server

    def live_count(self, server: Server) -> int:
        return sum(1 for row in server.client().ok("get_conductors")["rows"] if row["online"])

    def leader(self, among: list[Server] | None = None) -> Server:
        """The conductor whose ``/health`` says it leads (waits for one)."""
        candidates = among or [s for s in self.servers if s.proc and s.proc.poll() is None]

        def find() -> Server | None:
            for server in candidates:
                health = server.client().http.get(server.url + "/health", timeout=2).json()
                if health.get("leader"):
                    return server
            return None

        result: Server = wait_for("a leader", find, timeout_s=30)
        return result

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            return list(conn.execute(query, args).fetchall())

    def set_clock(self, now: float, servers: list[Server] | None = None) -> None:
        for server in servers or self.alive():
            server.client().ok("test_set_clock", {"now": now})

    def alive(self) -> list[Server]:
        return [s for s in self.servers if s.proc and s.proc.poll() is None]

    def kill(self, server: Server, sig: int = signal.SIGKILL) -> None:
        assert server.proc is not None
        os.kill(server.proc.pid, sig)
        if sig == signal.SIGKILL:
            server.proc.wait(10)

    def stop_all(self) -> None:
        for server in self.servers:
            if server.proc and server.proc.poll() is None:
                with contextlib.suppress(OSError):
                    os.kill(server.proc.pid, signal.SIGCONT)
            server.stop()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    require_backend("postgresql")
    env = {
        "CRONWRIGHT_TEST_API": "1",
        "CRONWRIGHT_CLOCK_START": str(T0 + 30),
        "CRONWRIGHT_TZ": "UTC",
        "CRONWRIGHT_LOG_LEVEL": "warning,cronwright.cluster=info",
    }
    with temporary_pg_database() as url:
        fleet = Fleet(tmp_path / "shared", url, env)
        try:
            yield fleet
        finally:
            fleet.stop_all()


def client(server: Server) -> Api:
    return server.client()
