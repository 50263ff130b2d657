"""Server presence across conductors (engine/fleet/presence.py) on one in-memory store: what one
conductor holds, the others list, select and manage; dead conductors' rows, stale rows of a moved
agent and hostile rows are ignored."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from cronwright.engine.activity import Origin
from cronwright.engine.catalog import Catalog
from cronwright.engine.fleet.presence import PRESENCE_PREFIX, Presence
from cronwright.engine.servers import ServerRegistry
from cronwright.engine.setup import ensure_installed
from cronwright.errors import CwError
from cronwright.store.memory import MemoryStore
from tests.unit.test_server_records import ADMIN, NOW, FakeClock, hello


@dataclass
class Conductor:
    name: str
    servers: ServerRegistry
    presence: Presence
    removed: list[str] = field(default_factory=list)


@dataclass
class Cluster:
    store: MemoryStore
    live: set[str]
    clock: FakeClock
    members: dict[str, Conductor] = field(default_factory=dict)

    def add(self, name: str, hostname: str) -> Conductor:
        catalog = Catalog(self.store)
        servers = ServerRegistry(catalog, self.clock, hostname)
        presence = Presence(self.store, catalog, servers, name, lambda: set(self.live))
        conductor = Conductor(name, servers, presence)
        servers.on_remove = conductor.removed.append
        servers.register_local()
        self.live.add(name)
        self.members[name] = conductor
        return conductor

    def sync(self) -> None:
        """Every conductor publishes, then every conductor reads."""
        for member in self.members.values():
            if member.name in self.live:
                member.presence.publish()
        for member in self.members.values():
            member.presence.read()


@pytest.fixture
def cluster() -> Cluster:
    store = MemoryStore()
    ensure_installed(store, NOW, {"CRONWRIGHT_ADMIN_KEY": "k" * 32, "CRONWRIGHT_ADMIN_PASSWORD": "p" * 16})
    return Cluster(store, set(), FakeClock())


def ids(conductor: Conductor) -> list[str]:
    return [s["id"] for s in conductor.servers.connected_servers()]


def test_every_conductor_lists_what_the_others_hold(cluster: Cluster) -> None:
    a, b = cluster.add("a", "host-a"), cluster.add("b", "host-b")
    agent = a.servers.connect_agent("sagent01", hello("web-1"), "10.0.0.5", "ws1")
    a.servers.update_info("sagent01", {"cpu": {"avgLoad": 0.25}, "memory": {"active": 100}})
    assert "sagent01" not in ids(b)
    cluster.sync()
    assert ids(b) == ["host_b", "host_a", "sagent01"]  # its own first, then the others'
    assert b.servers.holder_of("sagent01") == "a" and b.servers.holder_of("host_a") == "a"
    assert b.servers.holder_of("host_b") is None and a.servers.holder_of("sagent01") is None
    record, online = b.servers.find("sagent01") or ({}, False)
    assert online and record["hostname"] == agent["hostname"]
    assert record["info"]["cpu"]["avgLoad"] == 0.25  # the published figure, for least_cpu on b
    assert record["info"]["os"]["distro"] == "Debian GNU/Linux"  # the rest from the stored record


def test_a_dead_conductors_servers_drop_out(cluster: Cluster) -> None:
    a, b = cluster.add("a", "host-a"), cluster.add("b", "host-b")
    a.servers.connect_agent("sagent01", hello(), "10.0.0.5", "ws1")
    cluster.sync()
    assert b.servers.is_connected("sagent01")
    cluster.live.discard("a")  # its heartbeat stopped
    b.presence.read()
    assert not b.servers.is_connected("sagent01") and ids(b) == ["host_b"]


def test_the_newest_connection_wins(cluster: Cluster) -> None:
    a, b, c = cluster.add("a", "host-a"), cluster.add("b", "host-b"), cluster.add("c", "host-c")
    a.servers.connect_agent("sagent01", hello(), "10.0.0.5", "ws1")
    cluster.sync()
    c.servers.connect_agent("sagent01", hello(), "10.0.0.5", "ws2")  # it moved; a has not noticed
    cluster.sync()
    assert b.servers.holder_of("sagent01") == "c"
    assert a.servers.holder_of("sagent01") is None  # a still holds its socket: its own wins there


def test_the_same_local_id_stays_local(cluster: Cluster) -> None:
    """Conductors on one machine share its server id: each runs that server's jobs itself."""
    a, b = cluster.add("a", "same-host"), cluster.add("b", "same-host")
    cluster.sync()
    assert ids(a) == ids(b) == ["same_host"]
    assert a.servers.holder_of("same_host") is None and b.servers.holder_of("same_host") is None


@pytest.mark.parametrize(
    "row",
    [
        "not an object",
        {"servers": "nope"},
        {"servers": [1, None, {"id": 5}, {"since": 3}]},
        {"servers": [{"id": "sghost", "since": "x", "jobs": -4, "info": []}]},
    ],
)
def test_hostile_rows_are_ignored(cluster: Cluster, row: Any) -> None:
    b = cluster.add("b", "host-b")
    cluster.live.add("evil")
    with cluster.store.write() as w:
        w.set_kv(PRESENCE_PREFIX + "evil", row)
    b.presence.read()
    assert ids(b) == ["host_b"]  # nothing listed without a stored record; nothing raised


def test_job_counts_of_other_conductors_count(cluster: Cluster) -> None:
    a, b = cluster.add("a", "host-a"), cluster.add("b", "host-b")
    a.servers.connect_agent("sagent01", hello(), "10.0.0.5", "ws1")
    a.servers.job_counts = lambda: {"sagent01": 3}
    cluster.sync()
    assert b.servers.remote_job_counts() == {"sagent01": 3}
    b.servers.job_counts = lambda: {"sagent01": 1}  # one of b's own, on its way there
    record = next(s for s in b.servers.connected_servers() if s["id"] == "sagent01")
    assert record["info"]["monitors"]["active_jobs"] == 4


def test_delete_through_another_conductor(cluster: Cluster) -> None:
    a, b = cluster.add("a", "host-a"), cluster.add("b", "host-b")
    a.servers.connect_agent("sagent01", hello(), "10.0.0.5", "ws1")
    cluster.sync()
    with pytest.raises(CwError, match="conductor a cannot be deleted"):
        b.servers.delete_server({"id": "host_a"}, ADMIN, Origin())
    b.servers.delete_server({"id": "sagent01"}, ADMIN, Origin())
    assert b.removed == []  # b holds no socket for it
    a.presence.revoked_elsewhere()  # told through the change feed (or found on its next check)
    a.presence.tick(1e9)
    assert a.removed == ["sagent01"]
    a.servers.disconnect_agent("sagent01", "ws1")  # the socket closes: the record goes
    assert cluster.store.get_doc("servers", "sagent01") is None


def test_groups_changed_elsewhere_reach_the_agent(cluster: Cluster) -> None:
    a, b = cluster.add("a", "host-a"), cluster.add("b", "host-b")
    pushed: list[tuple[str, list[str]]] = []
    a.servers.on_groups = lambda server_id, groups: pushed.append((server_id, groups))
    a.servers.connect_agent("sagent01", hello(), "10.0.0.5", "ws1")
    cluster.sync()
    with b.servers._catalog.transaction() as tx:  # a group to put it in, made through b
        tx.insert("groups", {"id": "blue", "title": "Blue", "hostname_match": "(?!)"})
    b.servers.update_server({"id": "sagent01", "groups": ["blue"]}, ADMIN, Origin())
    before = a.servers._catalog["servers"].get("sagent01")
    a.servers._catalog.refresh("groups", "blue")
    a.servers._catalog.refresh("servers", "sagent01")  # what the change feed makes a do
    a.servers.refreshed("sagent01", before)
    assert pushed == [("sagent01", ["blue"])]


def test_jobs_sent_count_until_the_holder_publishes_them(cluster: Cluster) -> None:
    a, b = cluster.add("a", "host-a"), cluster.add("b", "host-b")
    a.servers.connect_agent("sagent01", hello(), "10.0.0.5", "ws1")
    cluster.sync()
    b.servers.note_sent("sagent01")
    b.servers.note_sent("sagent01")
    assert b.servers.remote_job_counts() == {"sagent01": 2}  # not in a's row yet
    a.servers.job_counts = lambda: {"sagent01": 2}  # a runs them now and says so
    a.presence.publish()
    b.presence.read()
    assert b.servers.remote_job_counts() == {"sagent01": 2}  # counted once, not twice
