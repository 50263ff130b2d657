"""Issue 8 point 12: the data directory is private (0700) and the database files are 0600; the IP an
activity row records is the peer's unless the peer is a listed proxy (`trusted_proxies`)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cronwright import forwarded
from cronwright.store.base import ActivityQuery
from cronwright.store.sql.store import SqlStore
from tests.api.helpers import run_wait, script_event, uid
from tests.conftest import StartServer
from tests.support.server import Api, Server


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def database_files(data_dir: Path) -> list[Path]:
    files = sorted(data_dir.glob("cronwright.db*"))
    assert data_dir / "cronwright.db" in files, files
    return files


def test_fresh_data_dir_is_private(server_factory: StartServer, tmp_path: Path) -> None:
    """A data directory created by `serve` is 0700 and the SQLite database (with -wal/-shm) is 0600."""
    data_dir = tmp_path / "new" / "data"
    server = server_factory("sqlite", data_dir=data_dir)
    api = server.client()
    run_wait(api, script_event(api, "echo some output")["id"])  # a log file and WAL traffic exist
    assert mode(data_dir) == 0o700
    files = database_files(data_dir)
    assert any(f.name.endswith("-wal") for f in files), files
    for path in files:
        assert mode(path) & 0o077 == 0, (path, oct(mode(path)))


def test_loose_data_dir_and_database_are_tightened(server_factory: StartServer, tmp_path: Path) -> None:
    """An existing 0755 data directory becomes 0700 and a 0644 database 0600 at start, and the server says so."""
    data_dir = tmp_path / "loose"
    first = server_factory("sqlite", data_dir=data_dir)
    first.stop()
    data_dir.chmod(0o755)
    for path in data_dir.glob("cronwright.db*"):
        path.chmod(0o644)
    second = server_factory("sqlite", data_dir=data_dir)
    assert mode(data_dir) == 0o700
    for path in database_files(data_dir):
        assert mode(path) & 0o077 == 0, (path, oct(mode(path)))
    output = "".join(second.output)
    assert "0755" in output and "0700" in output, output


def test_postgresql_data_dir_is_private(server_factory: StartServer, tmp_path: Path) -> None:
    """With PostgreSQL the data directory (logs, files) is 0700 as well."""
    data_dir = tmp_path / "pg-data"
    server_factory("postgresql", data_dir=data_dir)
    assert mode(data_dir) == 0o700


def test_apikey_create_makes_a_private_data_dir(tmp_path: Path) -> None:
    """`cronwright apikey create --init` on a new data directory creates it 0700 with a 0600 database."""
    data_dir = tmp_path / "cli" / "data"
    env = {**os.environ, "CRONWRIGHT_ADMIN_PASSWORD": "cli-admin-password"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cronwright",
            "apikey",
            "create",
            "--init",
            "--title",
            "CLI",
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert mode(data_dir) == 0o700
    for path in database_files(data_dir):
        assert mode(path) & 0o077 == 0, (path, oct(mode(path)))


# forwarded addresses


def activity_row(database_url: str, tag_id: str) -> dict[str, object]:
    store = SqlStore.open(database_url)
    try:
        rows, _ = store.search_activity(ActivityQuery(actions=("tag_create",), keywords=(tag_id,), limit=1))
    finally:
        store.close()
    assert len(rows) == 1, rows
    return rows[0]


def test_spoofed_forwarded_for_is_not_recorded(server: Server, api: Api) -> None:
    """Without trusted proxies an activity row records the peer address, not a client's `X-Forwarded-For` claim."""
    tag_id = uid("tag")
    api.ok("create_tag", {"id": tag_id, "title": "T"}, headers={"X-Forwarded-For": "203.0.113.77"})
    row = activity_row(server.database_url, tag_id)
    assert row["ip"] in ("127.0.0.1", "::1"), row
    assert "203.0.113.77" not in row["ips"], row  # type: ignore[operator]
    store = SqlStore.open(server.database_url)
    try:
        rows, _ = store.search_activity(ActivityQuery(keywords=("203.0.113.77",), limit=5))
    finally:
        store.close()
    assert rows == []


@pytest.fixture(scope="module")
def proxied(server_factory: StartServer) -> Server:
    """A server that trusts the loopback addresses as proxies."""
    return server_factory("sqlite", env={"CRONWRIGHT_TRUSTED_PROXIES": "127.0.0.1 ::1"})


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        ("203.0.113.8", "203.0.113.8"),
        ("198.51.100.1, 203.0.113.8", "203.0.113.8"),
        ("203.0.113.8, 127.0.0.1", "203.0.113.8"),
    ],
)
def test_trusted_proxy_forwarded_for_is_recorded(proxied: Server, forwarded: str, client: str) -> None:
    """Behind a listed proxy the rightmost address that is not a listed proxy is the recorded client IP."""
    server = proxied
    api = server.client()
    tag_id = uid("tag")
    api.ok("create_tag", {"id": tag_id, "title": "T"}, headers={"X-Forwarded-For": forwarded})
    row = activity_row(server.database_url, tag_id)
    assert row["ip"] == client, row
    assert "198.51.100.1" not in row["ips"], row  # type: ignore[operator]


def test_trusted_proxies_setting_is_checked(tmp_path: Path) -> None:
    """A malformed `trusted_proxies` entry stops the server at start with a message naming it."""
    env = {**os.environ, "CRONWRIGHT_TRUSTED_PROXIES": "10.0.0.0/8, not-an-ip"}
    result = subprocess.run(
        [sys.executable, "-m", "cronwright", "serve", "--port", "0", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode != 0
    assert "trusted_proxies" in result.stderr and "not-an-ip" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("peer", "header", "proxies", "client", "chain"),
    [
        ("10.0.0.5", "1.2.3.4", "", "10.0.0.5", ("10.0.0.5",)),
        ("10.0.0.5", "1.2.3.4", "10.0.0.0/8", "1.2.3.4", ("1.2.3.4", "10.0.0.5")),
        ("10.0.0.5", "6.6.6.6, 1.2.3.4", "10.0.0.0/8", "1.2.3.4", ("1.2.3.4", "10.0.0.5")),
        ("10.0.0.5", "1.2.3.4, 10.0.0.9", "10.0.0.0/8", "1.2.3.4", ("1.2.3.4", "10.0.0.9", "10.0.0.5")),
        ("10.0.0.5", "garbage, 1.2.3.4", "10.0.0.5", "1.2.3.4", ("1.2.3.4", "10.0.0.5")),
        ("10.0.0.5", "1.2.3.4, garbage", "10.0.0.5", "10.0.0.5", ("10.0.0.5",)),
        ("10.0.0.5", "", "10.0.0.5", "10.0.0.5", ("10.0.0.5",)),
        ("::ffff:10.0.0.5", "[2001:db8::1]:443", "10.0.0.5", "2001:db8::1", ("2001:db8::1", "10.0.0.5")),
        ("::1", "1.2.3.4:5555", "::1", "1.2.3.4", ("1.2.3.4", "::1")),
        ("192.168.1.1", "1.2.3.4", "10.0.0.0/8", "192.168.1.1", ("192.168.1.1",)),
    ],
)
def test_client_address_rule(peer: str, header: str, proxies: str, client: str, chain: tuple[str, ...]) -> None:
    """The client is the rightmost `X-Forwarded-For` address that is not a trusted proxy, and only behind one."""
    route = forwarded.resolve(peer, header, forwarded.parse_networks(proxies))
    assert (route.client, route.chain) == (client, chain)
