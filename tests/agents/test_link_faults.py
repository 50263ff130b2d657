"""A job on a real ``cronwright agent`` survives faults of its link to the conductor
(servers-agents.md §8.1, fleet.md "The agent program"): the TCP link cut (every proxied connection
reset, new ones refused) for a few seconds, and the agent process frozen (SIGSTOP) for a few
seconds. Either way the job ends with code 0 and its stored log holds every line exactly once.

The agent reaches the conductor only through a TCP proxy on 127.0.0.1 that the test controls; the
conductor advertises the proxy's URL (``CRONWRIGHT_BASE_URL``), so a reconnecting agent cannot go
around it."""

from __future__ import annotations

import contextlib
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from tests.agents.conftest import Agent, Fleet, job_log, wait_for
from tests.api.helpers import script_event, start_job, wait_job, wait_state

LINES = 80  # about 8 s of output
OUTAGE_S = 4.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reset(sock: socket.socket) -> None:
    """Close with a TCP reset (no orderly FIN): what a broken link looks like to both ends."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class LinkProxy:
    """Forwards every TCP connection on 127.0.0.1:``port`` to ``target``; ``cut()`` resets the
    open ones and refuses (resets) new ones until ``restore()``."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.target: tuple[str, int] | None = None
        self.accepted = 0  # connections forwarded
        self.refused = 0  # connections reset while cut
        self._lock = threading.Lock()
        self._refusing = False
        self._open: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refusing = self._refusing or self.target is None or self._closed
                if refusing:
                    self.refused += 1
            if refusing:
                reset(client)
                continue
            try:
                assert self.target is not None
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                reset(client)
                continue
            with self._lock:
                self.accepted += 1
                self._open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            self._drop(source, sink)

    def _drop(self, *socks: socket.socket) -> None:
        with self._lock:
            mine = [s for s in socks if s in self._open]
            self._open.difference_update(mine)
        for sock in mine:
            reset(sock)

    def cut(self) -> None:
        with self._lock:
            self._refusing = True
            socks = list(self._open)
        self._drop(*socks)

    def restore(self) -> None:
        with self._lock:
            self._refusing = False

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._listener.close()
        self.cut()


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fleet, LinkProxy, Agent]]:
    """A conductor on a known port that advertises the proxy, and one agent that joined through it."""
    proxy = LinkProxy()
    port = free_port()
    fleet = Fleet(
        tmp_path_factory.mktemp("link"),
        env={"CRONWRIGHT_BASE_URL": proxy.url},
        args=["--port", str(port)],
    )
    try:
        direct = f"http://127.0.0.1:{port}"
        assert fleet.server.url == proxy.url  # it announces its public URL: the test talks to it directly
        fleet.server.url = direct
        fleet.api = fleet.server.client()
        proxy.target = ("127.0.0.1", port)
        agent = fleet.start_agent("link-one", conductor_url=proxy.url)
        yield fleet, proxy, agent
    finally:
        fleet.close()
        proxy.close()


def counting_script(lines: int) -> str:
    return f"i=1\nwhile [ $i -le {lines} ]; do echo line-$i; i=$((i+1)); sleep 0.1; done"


def counted(lines: int) -> bytes:
    return "".join(f"line-{i}\n" for i in range(1, lines + 1)).encode()


def run_with_fault(fleet: Fleet, agent: Agent, fault: str, proxy: LinkProxy, lines: int = LINES) -> dict[str, object]:
    """Start a job printing ``lines`` numbered lines (10 a second) on ``agent``, apply ``fault``
    for OUTAGE_S once some lines are in, and return the final job."""
    api = fleet.api
    event = script_event(api, counting_script(lines), targets=[agent.server_id])
    job_id = start_job(api, event["id"])
    wait_state(api, job_id, "active")
    wait_for(lambda: (api.ok("get_job", {"id": job_id})["job"].get("log_file_size") or 0) > 40, 10, "some output")
    if fault == "cut":
        proxy.cut()
        time.sleep(OUTAGE_S)  # the outage itself
        proxy.restore()
    else:
        agent.send(signal.SIGSTOP)
        time.sleep(OUTAGE_S)  # the freeze itself
        agent.send(signal.SIGCONT)
    return wait_job(api, job_id, timeout_s=40)


@pytest.mark.parametrize("lines", [LINES, 20], ids=["job-outlasts-outage", "job-ends-during-outage"])
def test_cut_link_loses_and_doubles_no_line(linked: tuple[Fleet, LinkProxy, Agent], lines: int) -> None:
    """Every connection reset and new ones refused for 4 s mid-job (also when the job ends during
    the outage): the agent reconnects through the proxy, the job ends with code 0 and its stored log
    equals the printed lines byte for byte."""
    fleet, proxy, agent = linked
    accepted_before, refused_before = proxy.accepted, proxy.refused
    job = run_with_fault(fleet, agent, "cut", proxy, lines)
    assert job["code"] == 0, job
    assert job["server"] == agent.server_id
    assert proxy.refused > refused_before  # the agent did try during the outage
    assert proxy.accepted > accepted_before  # and came back through the proxy
    assert job_log(fleet.api, str(job["id"])) == counted(lines)


def test_frozen_agent_loses_and_doubles_no_line(linked: tuple[Fleet, LinkProxy, Agent]) -> None:
    """The agent stopped (SIGSTOP) for 4 s mid-job while its job keeps printing: after SIGCONT the
    job ends with code 0 and its stored log equals the printed lines byte for byte."""
    fleet, proxy, agent = linked
    job = run_with_fault(fleet, agent, "stop", proxy)
    assert job["code"] == 0, job
    assert job_log(fleet.api, str(job["id"])) == counted(LINES)
