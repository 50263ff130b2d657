"""Target selection (servers-agents.md §7) over a real fleet: three ``cronwright agent`` processes
(``sel-carol``, ``sel-bob``, ``sel-alice``, connected in that order) in a group whose
``hostname_match`` is ``^sel-``. Every algorithm's choice, disabled and offline servers, the caps of
§7.4, ``multiplex`` and the "no candidate" abort, judged from the jobs' ``server`` alone."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.agents.conftest import Fleet, active_server, wait_for, wait_offline
from tests.api.helpers import script_event, start_job, uid, wait_job, wait_state
from tests.support.server import Api

NAMES = ("sel-carol", "sel-bob", "sel-alice")  # connection (natural) order
NO_SERVER = "No available servers matching targets."


class Selection:
    def __init__(self, fleet: Fleet, group: str) -> None:
        self.fleet = fleet
        self.api = fleet.api
        self.group = group
        self.ids = {agent.hostname: agent.server_id for agent in fleet.agents}
        self.names = {server_id: hostname for hostname, server_id in self.ids.items()}

    def id(self, hostname: str) -> str:
        return self.ids[hostname]

    def event(self, algo: str, targets: list[str] | None = None, script: str = "true", **extra: Any) -> str:
        return str(script_event(self.api, script, algo=algo, targets=targets or [self.group], **extra)["id"])

    def chosen(self, event_id: str) -> str:
        """Run the event once, wait for the end; the host name of the server that ran it."""
        job = wait_job(self.api, start_job(self.api, event_id))
        assert job["code"] == 0, job
        return self.names[job["server"]]

    def running(self, event_id: str) -> tuple[str, str]:
        """Start the event (a long job) and wait until it is active: (job id, host name)."""
        job_id = start_job(self.api, event_id)
        job = wait_state(self.api, job_id, "active")
        return job_id, self.names[job["server"]]


def wait_in_group(api: Api, server_id: str, group: str) -> None:
    def member() -> bool:
        return group in (active_server(api, server_id) or {}).get("groups", [])

    wait_for(member, 10, f"{server_id} in group {group}")


@pytest.fixture(scope="module")
def sel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Selection]:
    fleet = Fleet(tmp_path_factory.mktemp("selection"))
    try:
        group = uid("sel")
        fleet.api.ok("create_group", {"id": group, "title": "Selection", "hostname_match": "^sel-"})
        for name in NAMES:  # one by one: the connection order is the natural order
            fleet.start_agent(name)
        selection = Selection(fleet, group)
        for server_id in selection.ids.values():
            wait_in_group(fleet.api, server_id, group)
        yield selection
    finally:
        fleet.close()


@pytest.fixture
def cleanup(sel: Selection) -> Iterator[list[str]]:
    """Job ids to abort after the test (long jobs), if still running."""
    job_ids: list[str] = []
    yield job_ids
    for job_id in job_ids:
        if not sel.api.ok("get_job", {"id": job_id})["job"].get("final"):
            sel.api.call("abort_job", {"id": job_id})
    for job_id in job_ids:
        wait_job(sel.api, job_id)


def test_natural_order_algorithms(sel: Selection) -> None:
    """``prefer_first_natural`` / ``prefer_last_natural`` pick the first / last server to have connected."""
    assert sel.chosen(sel.event("prefer_first_natural")) == "sel-carol"
    assert sel.chosen(sel.event("prefer_last_natural")) == "sel-alice"


def test_explicit_targets_keep_their_order(sel: Selection) -> None:
    """Server ids in ``targets`` come before a group's members, in target order, de-duplicated."""
    targets = [sel.id("sel-alice"), sel.group, sel.id("sel-bob")]
    assert sel.chosen(sel.event("prefer_first_natural", targets)) == "sel-alice"
    assert sel.chosen(sel.event("prefer_last_natural", targets)) == "sel-bob"


def test_sorted_algorithms_use_lower_case_title_or_hostname(sel: Selection) -> None:
    """``prefer_first`` / ``prefer_last`` sort by host name, or by the lower-cased title when a server
    has one ("ZED" sorts as "zed", after every "sel-…")."""
    assert sel.chosen(sel.event("prefer_first")) == "sel-alice"
    assert sel.chosen(sel.event("prefer_last")) == "sel-carol"
    bob = sel.id("sel-bob")
    sel.api.ok("update_server", {"id": bob, "title": "ZED"})
    try:
        assert sel.chosen(sel.event("prefer_last")) == "sel-bob"
        assert sel.chosen(sel.event("prefer_first")) == "sel-alice"
    finally:
        sel.api.ok("update_server", {"id": bob, "title": ""})


def test_sorted_algorithms_compare_code_points(sel: Selection) -> None:
    """With titles "Node 9" and "Node 10", "node 10" sorts first: code-point order, not numeric."""
    carol, bob = sel.id("sel-carol"), sel.id("sel-bob")
    sel.api.ok("update_server", {"id": carol, "title": "Node 9"})
    sel.api.ok("update_server", {"id": bob, "title": "Node 10"})
    try:
        targets = [carol, bob]
        assert sel.chosen(sel.event("prefer_first", targets)) == "sel-bob"
        assert sel.chosen(sel.event("prefer_last", targets)) == "sel-carol"
    finally:
        sel.api.ok("update_server", {"id": carol, "title": ""})
        sel.api.ok("update_server", {"id": bob, "title": ""})


def test_round_robin_cycles_in_natural_order(sel: Selection) -> None:
    """Runs of one ``round_robin`` event go to each server in natural order, then start over."""
    event_id = sel.event("round_robin")
    assert [sel.chosen(event_id) for _ in range(4)] == ["sel-carol", "sel-bob", "sel-alice", "sel-carol"]


def test_random_reaches_every_server(sel: Selection) -> None:
    """30 ``random`` runs land on every one of the three servers (a miss has odds of about 1e-5)."""
    event_id = sel.event("random")
    job_ids = [start_job(sel.api, event_id) for _ in range(30)]
    jobs = [wait_job(sel.api, job_id) for job_id in job_ids]
    assert all(job["code"] == 0 for job in jobs), [j for j in jobs if j["code"] != 0][:1]
    counts = Counter(sel.names[job["server"]] for job in jobs)
    assert set(counts) == set(NAMES), counts


def test_fewest_jobs_avoids_busy_servers(sel: Selection, cleanup: list[str]) -> None:
    """With a long job on carol and on bob, ``fewest_jobs`` picks alice; with one on carol only,
    bob (a tie between bob and alice goes to the earlier)."""
    long_on = {name: sel.event("prefer_first_natural", [sel.id(name)], "sleep 60") for name in ("sel-carol", "sel-bob")}
    job_id, where = sel.running(long_on["sel-carol"])
    cleanup.append(job_id)
    assert where == "sel-carol"
    event_id = sel.event("fewest_jobs")
    assert sel.chosen(event_id) == "sel-bob"
    job_id, where = sel.running(long_on["sel-bob"])
    cleanup.append(job_id)
    assert sel.chosen(event_id) == "sel-alice"


def test_monitor_samples_reach_the_conductor(sel: Selection) -> None:
    """Each agent's ``monitor`` sample lands in its live ``info``: ``cpu.avgLoad``, ``cpu.currentLoad``
    (only a sample carries it) and the memory figures."""
    for server_id in sel.ids.values():

        def sampled(server_id: str = server_id) -> dict[str, Any] | None:
            info: dict[str, Any] = (active_server(sel.api, server_id) or {}).get("info") or {}
            return info if "currentLoad" in (info.get("cpu") or {}) else None

        info = wait_for(sampled, 15, "a monitor sample in info")
        assert isinstance(info["cpu"]["avgLoad"], (int, float)) and info["cpu"]["cores"] >= 1
        assert {"total", "free", "available", "active", "used"} <= set(info["memory"])


def metric_snapshot(api: Api, ids: list[str], path: tuple[str, str]) -> list[float | None]:
    values = []
    for server_id in ids:
        info = (active_server(api, server_id) or {}).get("info") or {}
        value = (info.get(path[0]) or {}).get(path[1])
        values.append(value if isinstance(value, (int, float)) else None)
    return values


@pytest.mark.parametrize(("algo", "path"), [("least_cpu", ("cpu", "avgLoad")), ("least_mem", ("memory", "active"))])
def test_least_loaded_picks_the_smallest_figure(sel: Selection, algo: str, path: tuple[str, str]) -> None:
    """``least_cpu`` / ``least_mem`` pick the server with the smallest ``info.cpu.avgLoad`` /
    ``info.memory.active`` as ``get_active_servers`` shows it (ties: the earliest in natural order).
    The figures are read before and after the run; a run during which they changed is repeated."""
    ids = [sel.id(name) for name in NAMES]
    event_id = sel.event(algo)
    for _ in range(5):
        before = metric_snapshot(sel.api, ids, path)
        chosen = sel.chosen(event_id)
        if metric_snapshot(sel.api, ids, path) != before:
            continue
        assert all(value is not None for value in before), before
        smallest = min(v for v in before if v is not None)
        assert chosen == NAMES[before.index(smallest)], (before, chosen)
        return
    pytest.fail(f"the {path} figures kept changing during the runs")


def test_a_disabled_server_is_never_chosen(sel: Selection) -> None:
    """A disabled server stays online but is skipped by every algorithm; alone in the targets, the
    job ends with the "no available servers" error."""
    carol = sel.id("sel-carol")
    sel.api.ok("update_server", {"id": carol, "enabled": False})
    try:
        assert sel.chosen(sel.event("prefer_first_natural")) == "sel-bob"
        event_id = sel.event("round_robin")
        assert {sel.chosen(event_id) for _ in range(4)} == {"sel-bob", "sel-alice"}
        alone = wait_job(sel.api, start_job(sel.api, sel.event("random", [carol])))
        assert (alone["code"], alone["description"]) == ("abort", NO_SERVER), alone
        assert carol in {s["id"] for s in sel.api.ok("get_active_servers")["rows"]}
    finally:
        sel.api.ok("update_server", {"id": carol, "enabled": True})
    assert sel.chosen(sel.event("prefer_first_natural")) == "sel-carol"


def test_an_offline_server_is_skipped(sel: Selection) -> None:
    """An agent killed outright goes offline; targets naming it first fall through to the next
    server, and targets naming only it end with the "no available servers" error."""
    agent = sel.fleet.start_agent("off-dave")
    targets = [agent.server_id, sel.id("sel-bob")]
    first = wait_job(sel.api, start_job(sel.api, sel.event("prefer_first_natural", targets)))
    assert first["server"] == agent.server_id
    agent.stop(signal.SIGKILL)
    wait_offline(sel.api, agent.server_id)
    again = wait_job(sel.api, start_job(sel.api, sel.event("prefer_first_natural", targets)))
    assert again["server"] == sel.id("sel-bob") and again["code"] == 0
    alone = wait_job(sel.api, start_job(sel.api, sel.event("random", [agent.server_id])))
    assert (alone["code"], alone["description"]) == ("abort", NO_SERVER), alone


def test_max_jobs_per_server_and_server_max_jobs(sel: Selection, cleanup: list[str]) -> None:
    """A group cap of one job per server moves the second job to the next server and leaves none for
    the third (queued by the event's queue limit); a job heavier than the cap never runs there; a
    freed slot starts the queued job; a server's own ``maxJobs`` overrides the group cap."""
    cap_group = uid("cap")
    sel.api.ok(
        "create_group",
        {"id": cap_group, "title": "Capped", "hostname_match": "^sel-(carol|bob)$", "max_jobs_per_server": 1},
    )
    carol = sel.id("sel-carol")
    try:
        for server_id in (carol, sel.id("sel-bob")):
            wait_in_group(sel.api, server_id, cap_group)
        limits = [
            {"type": "job", "enabled": True, "amount": 10},
            {"type": "queue", "enabled": True, "amount": 10},
        ]
        event_id = sel.event("prefer_first_natural", [cap_group], "sleep 60", limits=limits)
        first, where = sel.running(event_id)
        cleanup.append(first)
        assert where == "sel-carol"
        second, where = sel.running(event_id)
        cleanup.append(second)
        assert where == "sel-bob"
        third = start_job(sel.api, event_id)
        cleanup.append(third)
        wait_state(sel.api, third, "queued")

        heavy_limits = [{"type": "job", "enabled": True, "amount": 10, "weight": 2}]
        heavy = wait_job(sel.api, start_job(sel.api, sel.event("random", [sel.id("sel-alice")], limits=heavy_limits)))
        assert heavy["code"] == 0, heavy  # no cap on alice
        heavy = wait_job(sel.api, start_job(sel.api, sel.event("random", [sel.id("sel-bob")], limits=heavy_limits)))
        assert (heavy["code"], heavy["description"]) == ("abort", NO_SERVER), heavy

        sel.api.ok("abort_job", {"id": second})
        wait_job(sel.api, second)
        job = wait_state(sel.api, third, "active")  # bob's freed slot starts the queued job
        assert sel.names[job["server"]] == "sel-bob"

        sel.api.ok("update_server", {"id": carol, "maxJobs": 2})  # its own cap wins over the group's 1
        fourth, where = sel.running(sel.event("prefer_first_natural", [cap_group], "sleep 60"))
        cleanup.append(fourth)
        assert where == "sel-carol"
        fifth = wait_job(sel.api, start_job(sel.api, sel.event("prefer_first_natural", [carol], "sleep 60")))
        assert (fifth["code"], fifth["description"]) == ("abort", NO_SERVER), fifth  # 1 + 2 > 2
    finally:
        sel.api.ok("update_server", {"id": carol, "maxJobs": 0})
        sel.api.ok("delete_group", {"id": cap_group})


def test_multiplex_runs_one_job_per_server(sel: Selection) -> None:
    """``multiplex`` launches one job on each eligible online server (a disabled one is left out)."""
    body = sel.api.ok("run_event", {"id": sel.event("multiplex")})
    jobs = [wait_job(sel.api, job_id) for job_id in body["ids"]]
    assert body["id"] == body["ids"][0]
    assert sorted(sel.names[j["server"]] for j in jobs) == sorted(NAMES)
    assert all(j["code"] == 0 for j in jobs)
    carol = sel.id("sel-carol")
    sel.api.ok("update_server", {"id": carol, "enabled": False})
    try:
        body = sel.api.ok("run_event", {"id": sel.event("multiplex")})
        jobs = [wait_job(sel.api, job_id) for job_id in body["ids"]]
        assert sorted(sel.names[j["server"]] for j in jobs) == ["sel-alice", "sel-bob"]
    finally:
        sel.api.ok("update_server", {"id": carol, "enabled": True})


def test_no_matching_server_aborts(sel: Selection) -> None:
    """Targets matching no online server end the job at once: code "abort", "No available servers
    matching targets."."""
    job = wait_job(sel.api, start_job(sel.api, sel.event("random", [uid("nogroup")])))
    assert (job["code"], job["description"]) == ("abort", NO_SERVER), job
    assert not job.get("server")
