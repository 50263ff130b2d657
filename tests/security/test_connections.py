"""Issue 8, point 9: connections time out and their number is capped.

Request headers must arrive within ``http_header_timeout_s`` (slowloris), a request body may not
stall longer than ``http_body_timeout_s``, a client that accepts no response data for
``http_send_timeout_s`` is dropped, idle keep-alive connections close after
``http_keepalive_timeout_s``, and at most ``http_max_connections`` connections are held at once,
so a flooded server keeps the file descriptors its jobs need.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import resource
import selectors
import socket
import time
from collections.abc import Callable

import httpx
import psutil
import pytest

from cronwright.api.server import MAX_HEADER_BYTES, connection_budget, raise_open_files_limit
from tests.api.helpers import run_wait, script_event
from tests.support.server import ADMIN_KEY, Server

PARTIAL_HEADERS = b"GET /api/app/get_events/v1 HTTP/1.1\r\nHost: localhost\r\nX-Trickle: 1\r\n"


def _address(server: Server) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def _connect(server: Server, first: bytes = b"") -> socket.socket:
    sock = socket.create_connection(_address(server), timeout=10)
    if first:
        sock.sendall(first)
    return sock


def _closed_by_peer(sock: socket.socket) -> bool:
    """True when the server has closed the connection (EOF or reset); reads whatever it sent."""
    try:
        while True:
            data = sock.recv(65536, socket.MSG_DONTWAIT)
            if not data:
                return True
    except BlockingIOError:
        return False
    except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError):
        return True


def _wait_closed(sock: socket.socket, timeout_s: float) -> float | None:
    """Seconds until the server closes ``sock`` (None: still open after ``timeout_s``)."""
    started = time.monotonic()
    sock.settimeout(timeout_s)
    try:
        while True:
            if not sock.recv(65536):
                return time.monotonic() - started
    except (ConnectionResetError, BrokenPipeError):
        return time.monotonic() - started
    except TimeoutError:
        return None


def _receive_until_closed(sock: socket.socket, timeout_s: float) -> tuple[bytes, float | None]:
    """Everything the server sends until it closes the connection, and how long that took."""
    started = time.monotonic()
    sock.settimeout(timeout_s)
    data = bytearray()
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        return bytes(data), None
    return bytes(data), time.monotonic() - started


@pytest.mark.slow
def test_slowloris_2000_sockets_closed_within_30s(server_factory: Callable[..., Server]) -> None:
    """2,000 sockets trickling partial headers are all closed within 30 s (header timeout 3 s), and the server keeps answering."""
    server = server_factory("sqlite", env={"CRONWRIGHT_HTTP_HEADER_TIMEOUT_S": "3"})
    selector = selectors.DefaultSelector()
    socks: list[socket.socket] = []
    try:
        for _ in range(2000):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(_address(server))
            socks.append(sock)
        opened = time.monotonic()
        for sock in socks:
            selector.register(sock, selectors.EVENT_WRITE)
        open_socks = set(socks)
        started = set()
        next_trickle = time.monotonic()
        while open_socks and time.monotonic() - opened < 30:
            for key, _ in selector.select(timeout=0.2):
                sock = key.fileobj  # type: ignore[assignment]
                if sock not in started:  # connected: start the request
                    started.add(sock)
                    with contextlib.suppress(OSError):
                        sock.send(PARTIAL_HEADERS)
                    selector.modify(sock, selectors.EVENT_READ)
                elif _closed_by_peer(sock):
                    selector.unregister(sock)
                    open_socks.discard(sock)
            if time.monotonic() >= next_trickle:  # one more header line per second: never complete
                next_trickle += 1
                for sock in started & open_socks:
                    with contextlib.suppress(OSError):
                        sock.send(b"X-More: 1\r\n")
        elapsed = time.monotonic() - opened
        assert not open_socks, f"{len(open_socks)} of 2000 slowloris sockets still open after {elapsed:.1f} s"
        with httpx.Client(base_url=server.url, headers={"X-API-Key": ADMIN_KEY}, timeout=10) as client:
            assert client.get("/api/app/get_events/v1").json()["code"] == 0
    finally:
        selector.close()
        for sock in socks:
            sock.close()


def test_silent_and_partial_connections_time_out(server_factory: Callable[..., Server]) -> None:
    """A connection that sends nothing is closed after the header timeout; one with partial headers gets 408 first."""
    server = server_factory("sqlite", env={"CRONWRIGHT_HTTP_HEADER_TIMEOUT_S": "1"})
    silent = _connect(server)
    partial = _connect(server, PARTIAL_HEADERS)
    try:
        silent_s = _wait_closed(silent, 10)
        data, partial_s = _receive_until_closed(partial, 10)
    finally:
        silent.close()
        partial.close()
    assert silent_s is not None and 0.5 < silent_s < 5, silent_s
    assert partial_s is not None and partial_s < 5, partial_s
    assert data.startswith(b"HTTP/1.1 408 "), data[:200]
    assert b'"code":"api"' in data and b"connection: close" in data.lower()


def test_stalled_body_ends_the_request(server_factory: Callable[..., Server]) -> None:
    """A request body that stalls longer than the body timeout gets 408 and the connection is closed."""
    server = server_factory("sqlite", env={"CRONWRIGHT_HTTP_BODY_TIMEOUT_S": "1"})
    head = (
        b"POST /api/app/get_events/v1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"X-API-Key: " + ADMIN_KEY.encode() + b'\r\nContent-Length: 100\r\n\r\n{"a": '
    )
    sock = _connect(server, head)
    try:
        data, seconds = _receive_until_closed(sock, 10)
    finally:
        sock.close()
    assert seconds is not None and seconds < 6, seconds
    assert data.startswith(b"HTTP/1.1 408 "), data[:200]


def test_slow_but_steady_body_is_accepted(server_factory: Callable[..., Server]) -> None:
    """A body that arrives in pieces, each within the body timeout, is read whole (the timeout is between chunks)."""
    server = server_factory("sqlite", env={"CRONWRIGHT_HTTP_BODY_TIMEOUT_S": "2"})
    body = b'{"unused_filter": "' + b"x" * 20 + b'"}'
    head = (
        b"POST /api/app/get_events/v1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"X-API-Key: "
        + ADMIN_KEY.encode()
        + b"\r\nConnection: close\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
    )
    sock = _connect(server, head)
    try:
        for piece in (body[:10], body[10:20], body[20:]):
            time.sleep(0.7)  # each pause is shorter than the 2 s body timeout, the total is longer
            sock.sendall(piece)
        data, seconds = _receive_until_closed(sock, 10)
    finally:
        sock.close()
    assert seconds is not None and data.startswith(b"HTTP/1.1 200 "), data[:300]


def test_idle_keepalive_connection_closes(server_factory: Callable[..., Server]) -> None:
    """After a response, a keep-alive connection that stays idle is closed after the keep-alive timeout (1 s here)."""
    server = server_factory("sqlite", env={"CRONWRIGHT_HTTP_KEEPALIVE_TIMEOUT_S": "1"})
    sock = _connect(server, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    try:
        sock.settimeout(10)
        data = sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 200 ")
        seconds = _wait_closed(sock, 10)
    finally:
        sock.close()
    assert seconds is not None and 0.5 < seconds < 3.5, seconds


def test_keepalive_cannot_be_held_open_with_blank_lines(server_factory: Callable[..., Server]) -> None:
    """Sending bare CRLFs between requests does not keep a connection alive past the header timeout."""
    server = server_factory(
        "sqlite", env={"CRONWRIGHT_HTTP_KEEPALIVE_TIMEOUT_S": "1", "CRONWRIGHT_HTTP_HEADER_TIMEOUT_S": "2"}
    )
    sock = _connect(server, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    try:
        sock.settimeout(10)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 12 and not closed:
            try:
                sock.sendall(b"\r\n")
            except OSError:
                closed = True
                break
            time.sleep(0.5)
            closed = _closed_by_peer(sock)
    finally:
        sock.close()
    assert closed and time.monotonic() - started < 6


def _plant_big_log(server: Server, job_id: str, size: int) -> None:
    path = server.data_dir / "logs" / "jobs" / f"{job_id}.log.gz"
    tmp = path.with_suffix(".plant")
    line = b"b" * 99 + b"\n"
    block = line * 10000
    with gzip.open(tmp, "wb", compresslevel=1) as fh:
        for _ in range(size // len(block)):
            fh.write(block)
    os.replace(tmp, path)


def _server_has_connection(server: Server, local: tuple[str, int]) -> bool:
    assert server.proc is not None
    for conn in psutil.Process(server.proc.pid).net_connections(kind="tcp"):
        if conn.raddr and (conn.raddr.ip, conn.raddr.port) == local and conn.status == psutil.CONN_ESTABLISHED:
            return True
    return False


def test_client_that_stops_reading_is_dropped(server_factory: Callable[..., Server]) -> None:
    """A client that requests a 50 MB log and accepts no data is disconnected after the send timeout (2 s here)."""
    server = server_factory("sqlite", env={"CRONWRIGHT_HTTP_SEND_TIMEOUT_S": "2"})
    api = server.client()
    job = run_wait(api, script_event(api, "echo small")["id"])
    _plant_big_log(server, job["id"], 50 * 1000 * 1000)
    token = api.ok("get_job", {"id": job["id"]})["token"]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(_address(server))
    try:
        sock.sendall(
            f"GET /api/app/view_job_log/v1?id={job['id']}&t={token} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
        )
        local = sock.getsockname()
        deadline = time.monotonic() + 20
        while _server_has_connection(server, local):
            assert time.monotonic() < deadline, "the server still holds the connection of a client that reads nothing"
            time.sleep(0.2)
    finally:
        sock.close()


@pytest.mark.slow
def test_server_at_its_connection_cap_still_runs_jobs(server_factory: Callable[..., Server]) -> None:
    """With 1,000 sockets flooding a server capped at 50 connections and only ~100 spare descriptors, excess sockets are refused and a job started meanwhile runs to completion."""
    cap = 50
    server = server_factory(
        "sqlite",
        env={
            "CRONWRIGHT_HTTP_MAX_CONNECTIONS": str(cap),
            "CRONWRIGHT_HTTP_HEADER_TIMEOUT_S": "120",
            "CRONWRIGHT_HTTP_KEEPALIVE_TIMEOUT_S": "120",
        },
    )
    assert server.proc is not None
    proc = psutil.Process(server.proc.pid)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=300)
    client = httpx.Client(base_url=server.url, headers={"X-API-Key": ADMIN_KEY}, timeout=60, limits=limits)
    flood: list[socket.socket] = []
    try:
        event = client.post("/api/app/create_event/v1", json=_event()).json()["event"]  # also opens our one connection
        # leave the server about 100 descriptors beyond the cap: without the cap, the flood takes them all
        spare = proc.num_fds() + cap + 100
        proc.rlimit(psutil.RLIMIT_NOFILE, (spare, proc.rlimit(psutil.RLIMIT_NOFILE)[1]))
        for _ in range(1000):  # the kernel completes each handshake, whether or not the server accepts
            sock = socket.create_connection(_address(server), timeout=10)
            sock.setblocking(False)
            flood.append(sock)
        deadline = time.monotonic() + 20
        while True:  # wait for the server to refuse everything beyond its cap
            refused = sum(_closed_by_peer(s) for s in flood)
            if refused >= len(flood) - cap:
                break
            assert time.monotonic() < deadline, f"only {refused} of {len(flood)} excess connections refused"
            time.sleep(0.2)
        body = client.post("/api/app/run_event/v1/wait", json={"id": event["id"]}).json()
        assert body["code"] == 0, body
        assert body["job"]["code"] == 0 and body["job"]["output"] == "flooded but fine\n", body["job"]
        assert proc.num_fds() < spare
    finally:
        client.close()
        for sock in flood:
            sock.close()


def _event() -> dict[str, object]:
    return {
        "id": f"capev_{time.time_ns()}",
        "title": "Cap",
        "enabled": True,
        "category": "general",
        "targets": ["main"],
        "algo": "random",
        "plugin": "shellplug",
        "params": {"script": "#!/bin/sh\necho flooded but fine\n", "annotate": False},
        "triggers": [{"type": "manual", "enabled": True}],
    }


def test_oversized_headers_are_refused(server_factory: Callable[..., Server]) -> None:
    """Request headers beyond MAX_HEADER_BYTES get 400 and the connection closes, whatever the header timeout."""
    server = server_factory("sqlite", env={"CRONWRIGHT_HTTP_HEADER_TIMEOUT_S": "60"})
    sock = _connect(server)
    try:
        with contextlib.suppress(OSError):  # the server may close before it has read everything
            sock.sendall(
                b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"b" * (MAX_HEADER_BYTES + 1000) + b"\r\n\r\n"
            )
        data, seconds = _receive_until_closed(sock, 10)
    finally:
        sock.close()
    assert seconds is not None and data.startswith(b"HTTP/1.1 400 "), data[:200]
    assert f"limit {MAX_HEADER_BYTES} bytes".encode() in data


@pytest.mark.parametrize(
    ("configured", "open_files", "expected"),
    [
        (1000, 65536, 1000),  # plenty of descriptors: the setting holds
        (1000, 1024, 768),  # a quarter (256) stays free
        (1000, 4096, 1000),
        (5000, 4096, 3072),
        (1000, 256, 128),  # tiny limits: half stays free
        (1000, 1, 1),  # never zero
    ],
)
def test_connection_budget_leaves_descriptors_for_jobs(configured: int, open_files: int, expected: int) -> None:
    """The effective connection cap leaves a quarter of the open-files limit (at least min(256, half)) to jobs."""
    assert connection_budget(configured, open_files) == expected


def test_open_files_limit_is_raised_to_the_hard_limit() -> None:
    """At start the soft open-files limit is raised towards the hard limit (capped at 65,536)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if wanted <= 256:
        pytest.skip("the hard limit leaves nothing to raise")
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        assert raise_open_files_limit() == wanted
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (wanted, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
