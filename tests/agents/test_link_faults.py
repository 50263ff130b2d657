"""A job on a real ``cronwright agent`` survives faults of its link to the conductor
(servers-agents.md §8.1, fleet.md "The agent program"): the TCP link cut (every proxied connection
reset, new ones refused) for a few seconds, and the agent process frozen (SIGSTOP) for a few
seconds. Either way the job ends with code 0 and its stored log holds every line exactly once.

The agent reaches the conductor only through a TCP proxy on 127.0.0.1 that the test controls; the
conductor advertises the proxy's URL (``CRONWRIGHT_BASE_URL``), so a reconnecting agent cannot go
around it."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from tests.agents.conftest import Agent, Fleet, free_port, job_log, wait_for
from tests.api.helpers import script_event, start_job, wait_job, wait_state
from tests.support.proxy import LinkProxy

LINES = 80  # about 8 s of output
OUTAGE_S = 4.0


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
