"""First start, restart, shutdown, the CLI and settings: the server as an operator meets it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import StartServer, require_backend
from tests.support.server import ADMIN_KEY, Server, temporary_pg_database


def _printed_key(server: Server) -> str:
    match = re.search(r"Admin API key \(shown only now.*\): (\S+)", "".join(server.output))
    assert match, server.output
    return match.group(1)


def _count(url: str, key: str, name: str) -> int:
    return httpx.get(f"{url}/api/app/{name}/v1", headers={"X-API-Key": key}).json()["list"]["length"]


def test_first_start_prints_key_once_and_restart_is_idempotent(tmp_path: Path) -> None:
    """Without CRONWRIGHT_ADMIN_KEY a key is printed once; a restart creates nothing twice."""
    unset = {"CRONWRIGHT_ADMIN_KEY": "", "CRONWRIGHT_ADMIN_PASSWORD": ""}
    first = Server(tmp_path, env=unset).start()
    key = _printed_key(first)
    assert re.search(r"User 'admin' password \(shown only now\): \S+", "".join(first.output))
    counts = {name: _count(first.url, key, name) for name in ("get_tags", "get_plugins", "get_api_keys", "get_roles")}
    assert first.stop() == 0
    second = Server(tmp_path, env=unset).start()
    try:
        assert "First start" not in "".join(second.output)
        assert {name: _count(second.url, key, name) for name in counts} == counts
        assert counts["get_api_keys"] == 1
    finally:
        second.stop()


def test_sigterm_and_sigint_shut_down_cleanly(server_factory: StartServer) -> None:
    """SIGTERM and Ctrl-C (SIGINT) end the server with exit status 0."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        server = server_factory("sqlite")
        assert server.stop(sig) == 0, "".join(server.output)


def test_cli_apikey_create_works_against_running_server(server_factory: StartServer) -> None:
    """`cronwright apikey create` prints a plain key that the running server accepts."""
    server = server_factory("sqlite")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cronwright",
            "apikey",
            "create",
            "--title",
            "CLI Key",
            "--privilege",
            "run_jobs",
            "--data-dir",
            str(server.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=server.env,
    )
    assert result.returncode == 0, result.stderr
    plain = re.search(r"Plain key \(shown only now\): (\S+)", result.stdout).group(1)  # type: ignore[union-attr]
    body = httpx.get(f"{server.url}/api/app/get_events/v1", headers={"X-API-Key": plain}).json()
    assert body["code"] == 0
    keys = httpx.get(f"{server.url}/api/app/get_api_keys/v1", headers={"X-API-Key": ADMIN_KEY}).json()["rows"]
    record = next(k for k in keys if k["title"] == "CLI Key")
    assert record["privileges"] == {"run_jobs": True} and plain not in repr(keys)


def test_config_file_and_environment(tmp_path: Path, server_factory: StartServer) -> None:
    """Settings come from a TOML file and CRONWRIGHT_* variables (here: the body size limit)."""
    (tmp_path / "config.toml").write_text("max_body_bytes = 2048\n")
    server = server_factory("sqlite", data_dir=tmp_path)
    body = {"title": "x" * 4096}
    response = httpx.post(f"{server.url}/api/app/create_tag/v1", json=body, headers={"X-API-Key": ADMIN_KEY})
    assert response.status_code == 413
    env_server = server_factory("sqlite", env={"CRONWRIGHT_MAX_BODY_BYTES": "3000"})
    response = httpx.post(f"{env_server.url}/api/app/create_tag/v1", json=body, headers={"X-API-Key": ADMIN_KEY})
    assert response.status_code == 413


def test_bad_settings_fail_with_a_message(tmp_path: Path) -> None:
    """An unusable setting stops `serve` with a one-line error, not a traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "cronwright", "serve", "--data-dir", str(tmp_path), "--db-url", "mysql://x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "Unsupported database URL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.postgresql
def test_concurrent_first_start_on_postgresql(tmp_path: Path) -> None:
    """Two conductors starting at once on one empty PostgreSQL database install the defaults once."""
    require_backend("postgresql")
    with temporary_pg_database() as url:
        servers = [Server(tmp_path / str(i), url) for i in range(2)]
        threads = [threading.Thread(target=s.start) for s in servers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        try:
            assert all(s.url for s in servers), [s.output for s in servers]
            assert _count(servers[0].url, ADMIN_KEY, "get_api_keys") == 1
            assert _count(servers[1].url, ADMIN_KEY, "get_tags") == 2
        finally:
            for s in servers:
                s.stop()
