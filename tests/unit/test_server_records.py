"""Server records on the in-memory store (servers-agents.md §2, §3, §5.2, §8.1, §9): an agent's
join merged with its stored record, groups, keywords, disconnects, minute samples, revocation and
the use cases of the server APIs, without HTTP or sockets."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from cronwright.config import ConfigError, load_settings
from cronwright.engine.activity import Origin
from cronwright.engine.catalog import Catalog
from cronwright.engine.identity import Identity
from cronwright.engine.server_records import (
    RecentlyOffline,
    assign_groups,
    build_keywords,
    coerce_field,
    cpu_combo,
    install_metadata,
    normalize_info,
)
from cronwright.engine.servers import ServerRegistry
from cronwright.engine.setup import ensure_installed
from cronwright.errors import CwError
from cronwright.store.base import ActivityQuery
from cronwright.store.memory import MemoryStore

NOW = 1_796_310_240.0
ADMIN = Identity(kind="user", username="admin", title="admin", privileges={"admin": True})
UPDATER = Identity(kind="key", username="k1", title="Updater", privileges={"update_servers": True})
READER = Identity(kind="key", username="k2", title="Reader")


@dataclass
class FakeClock:
    t: float = NOW

    def now(self) -> float:
        return self.t


@dataclass
class Fleet:
    store: MemoryStore
    catalog: Catalog
    clock: FakeClock
    servers: ServerRegistry
    removed: list[str] = field(default_factory=list)
    pushed: list[tuple[str, list[str]]] = field(default_factory=list)

    def activity(self, action: str) -> list[dict[str, Any]]:
        rows, _ = self.store.search_activity(ActivityQuery(actions=(action,), limit=100, newest_first=False))
        return rows

    def add_group(self, group_id: str, pattern: str, sort_order: int = 50) -> None:
        doc = {"id": group_id, "title": group_id, "hostname_match": pattern, "sort_order": sort_order}
        with self.catalog.transaction() as tx:
            tx.insert("groups", doc)


def make_fleet(*, local_worker: bool = True) -> Fleet:
    store = MemoryStore()
    ensure_installed(store, NOW, {"CRONWRIGHT_ADMIN_KEY": "k" * 32, "CRONWRIGHT_ADMIN_PASSWORD": "p" * 16})
    catalog = Catalog(store)
    clock = FakeClock()
    fleet = Fleet(store, catalog, clock, ServerRegistry(catalog, clock, "conductor-host", local_worker=local_worker))
    fleet.servers.on_remove = fleet.removed.append
    fleet.servers.on_groups = lambda server_id, groups: fleet.pushed.append((server_id, groups))
    fleet.servers.register_local()
    return fleet


@pytest.fixture
def fleet() -> Fleet:
    return make_fleet()


def hello(hostname: str = "web-1", **extra: Any) -> dict[str, Any]:
    info = {
        "os": {"platform": "Linux", "distro": "Debian GNU/Linux", "release": "12", "arch": "x64"},
        "cpu": {"manufacturer": "AMD", "brand": "EPYC", "cores": 2},
        "virt": {"vendor": "Docker"},
    }
    return {"id": "", "hostname": hostname, "info": info, **extra}


# ---- pure rules


@pytest.mark.parametrize(
    ("cpu", "combo"),
    [
        ({"manufacturer": "AMD", "brand": "EPYC"}, "AMD EPYC"),
        ({"manufacturer": "-", "vendor": "GenuineIntel", "brand": "Xeon"}, "GenuineIntel Xeon"),
        ({"manufacturer": "unknown", "brand": " M1 "}, "M1"),
        ({}, "Unknown"),
        ({"manufacturer": 5, "brand": None}, "Unknown"),
    ],
)
def test_cpu_combo(cpu: dict[str, Any], combo: str) -> None:
    """`cpu.combo` is manufacturer (or vendor) and brand, trimmed, `Unknown` without either."""
    assert cpu_combo(cpu) == combo


def test_normalize_info_fills_sections() -> None:
    """Missing or malformed `info` sections become `{}`; a non-object `info` becomes an object."""
    info = normalize_info({"os": "linux", "cpu": {"brand": "X"}, "extra": 1})
    assert info["os"] == {} and info["memory"] == {} and info["deltas"] == {} and info["extra"] == 1
    assert info["cpu"] == {"brand": "X", "combo": "X"}
    assert normalize_info(["not", "a", "dict"])["features"] == {}


@pytest.mark.parametrize(
    ("doc", "keywords"),
    [
        (
            {
                "hostname": "vm",
                "ip": "10.0.4.17",
                "groups": ["main"],
                "info": {
                    "os": {"platform": "Linux", "distro": "Debian GNU/Linux", "release": "12", "arch": "x64"},
                    "cpu": {"manufacturer": "AMD", "brand": "EPYC"},
                    "virt": {"vendor": "Docker"},
                },
            },
            "vm,10.0.4.17,main,Linux,Debian GNU/Linux,12,x64,AMD,EPYC,Docker,unknown,unknown,unknown",
        ),
        (
            {"hostname": "a", "ip": "1.2.3.4", "groups": ["g1", "g2"], "title": "Front", "info": "junk"},
            "a,1.2.3.4,g1,g2,unknown,unknown,unknown,unknown,unknown,unknown,unknown,unknown,unknown,Front",
        ),
    ],
)
def test_keywords(doc: dict[str, Any], keywords: str) -> None:
    """`keywords` is the §2 CSV (the spec's example record), `unknown` for every missing value."""
    assert build_keywords(doc) == keywords


GROUPS = [
    {"id": "web", "hostname_match": "^web", "sort_order": 2},
    {"id": "main", "hostname_match": ".+", "sort_order": 0},
    {"id": "upper", "hostname_match": "^WEB", "sort_order": 1},
    {"id": "broken", "hostname_match": "(", "sort_order": 3},
]


@pytest.mark.parametrize(
    ("doc", "groups", "auto"),
    [
        ({"hostname": "WEB-1", "autoGroup": True}, ["main", "web"], True),  # lower-cased, sort_order, bad regex
        ({"hostname": "db", "autoGroup": True, "groups": ["web"]}, ["main"], True),
        ({"hostname": "db", "autoGroup": False, "groups": ["web", "gone"]}, ["web"], False),  # deleted id dropped
        ({"hostname": "web2", "autoGroup": False, "groups": ["gone"]}, ["main", "web"], True),  # emptied → auto
        ({"hostname": "web2", "autoGroup": False, "groups": []}, [], False),  # empty on purpose stays empty
    ],
)
def test_assign_groups(doc: dict[str, Any], groups: list[str], auto: bool) -> None:
    """§3: auto servers match `hostname_match` on the lower-cased host name in group order; manual
    ones lose deleted groups, and switch to auto when that empties the list."""
    result = assign_groups(doc, GROUPS)
    assert (result["groups"], result["autoGroup"]) == (groups, auto)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("enabled", "false", False),
        ("enabled", "1", True),
        ("enabled", 0, False),
        ("autoGroup", " TRUE ", True),
        ("maxJobs", "3", 3),
        ("maxJobs", 4.0, 4),
        ("maxJobs", 0, 0),
        ("groups", ["a", "a", "b"], ["a", "b"]),
        ("userData", {"k": [1]}, {"k": [1]}),
        ("title", "Front", "Front"),
    ],
)
def test_coerce_field_accepts(key: str, value: Any, expected: Any) -> None:
    """update_server values are coerced to their stored type (§9 CHOICE)."""
    assert coerce_field(key, value) == expected


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("enabled", "nope", "Malformed server parameter: enabled"),
        ("enabled", 2, "Malformed server parameter: enabled"),
        ("maxJobs", -1, "Malformed server parameter: maxJobs"),
        ("maxJobs", True, "Malformed server parameter: maxJobs"),
        ("maxJobs", 1.5, "Malformed server parameter: maxJobs"),
        ("maxJobs", 10**30, "Malformed server parameter: maxJobs"),
        ("maxJobs", "9" * 40, "Malformed server parameter: maxJobs"),
        ("groups", "main", "Malformed server parameter: groups (must be array)"),
        ("groups", ["Bad Id"], "Malformed server parameter: groups"),
        ("groups", [1], "Malformed server parameter: groups"),
        ("userData", [1], "Malformed server parameter: userData"),
        ("title", "x" * 5000, "Malformed server parameter: title"),
    ],
)
def test_coerce_field_refuses(key: str, value: Any, message: str) -> None:
    """A bad update_server value is `api` with the spec's text."""
    with pytest.raises(CwError) as caught:
        coerce_field(key, value)
    assert (caught.value.code, caught.value.description, caught.value.status) == ("api", message, 400)


def test_install_metadata_keeps_only_known_well_formed_keys() -> None:
    """Only title, icon, groups, enabled, maxJobs and userData come from a hello; malformed ones are dropped."""
    found = install_metadata(
        {"id": "x", "socket_id": "evil", "created": 1, "title": "T", "maxJobs": -5, "initial": {"enabled": False}}
    )
    assert found == {"title": "T", "enabled": False}


def test_recently_offline_is_bounded() -> None:
    """The cache keeps the 10 most recent servers, each for at most 24 h."""
    cache = RecentlyOffline()
    for n in range(12):
        cache.put(f"s{n}", {"id": f"s{n}"}, NOW)
    assert cache.ids() == [f"s{n}" for n in range(2, 12)]
    assert cache.get("s5", NOW + 86400) == {"id": "s5"}
    assert cache.get("s5", NOW + 86401) is None and "s5" not in cache.ids()


# ---- the registry


def test_new_agent_record(fleet: Fleet) -> None:
    """A first join: created/modified now, enabled, autoGroup, groups matched, info sections and
    keywords; the server is online after the local one; activity `server_add`."""
    record = fleet.servers.connect_agent("sabc", hello("Web-1.Ex\u00e4mple!"), "10.0.0.5", "ws1")
    assert record["hostname"] == "web-1.example"
    assert (record["created"], record["modified"], record["enabled"], record["autoGroup"]) == (NOW, NOW, True, True)
    assert (
        record["groups"] == ["main"] and record["info"]["memory"] == {} and record["info"]["cpu"]["combo"] == "AMD EPYC"
    )
    assert record["keywords"].startswith("web-1.example,10.0.0.5,main,Linux,")
    assert fleet.catalog["servers"].get("sabc") == record
    assert [s["id"] for s in fleet.servers.connected_servers()] == [fleet.servers.local_id, "sabc"]
    assert fleet.servers.is_agent("sabc") and not fleet.servers.is_agent(fleet.servers.local_id)
    assert fleet.servers.socket_of("sabc") == "ws1" and fleet.servers.socket_of(fleet.servers.local_id) is None
    [row] = fleet.activity("server_add")
    assert row["description"] == "Server connected to the network: web-1.example (10.0.0.5)"


@pytest.mark.parametrize(
    ("extra", "enabled", "auto", "groups"),
    [
        ({"enabled": False}, False, True, ["main"]),
        ({"enabled": "false"}, True, True, ["main"]),  # only a boolean counts
        ({"groups": ["main"]}, True, False, ["main"]),
        ({"groups": ["gone"]}, True, True, ["main"]),  # a deleted group: back to auto
        ({"groups": []}, True, True, ["main"]),
    ],
)
def test_new_agent_install_metadata(
    fleet: Fleet, extra: dict[str, Any], enabled: bool, auto: bool, groups: list[str]
) -> None:
    """A new record honours a boolean `enabled` and manual `groups` of the install metadata."""
    record = fleet.servers.connect_agent("snew", hello(**extra), "10.0.0.5", "ws1")
    assert (record["enabled"], record["autoGroup"], record["groups"]) == (enabled, auto, groups)


def test_hello_cannot_write_server_set_keys(fleet: Fleet) -> None:
    """Keys such as id, socket_id, created or keywords in a hello never reach the record."""
    bad = hello(id="other", socket_id="evil", created=1, keywords="x", modified=2, maxJobs=3, userData={"a": 1})
    record = fleet.servers.connect_agent("sabc", bad, "10.0.0.5", "ws1")
    assert (record["id"], record["socket_id"], record["created"], record["modified"]) == ("sabc", "ws1", NOW, NOW)
    assert record["maxJobs"] == 3 and record["userData"] == {"a": 1} and record["keywords"] != "x"
    assert "info" in record and set(record) >= {"enabled", "autoGroup", "groups", "title"}


def test_reconnect_merges_and_logs_changes(fleet: Fleet) -> None:
    """On a reconnect the hello wins for info, hostname, ip and socket_id, the stored record for
    everything else; host name and IP changes are `warning` rows; the server moves to the end."""
    fleet.servers.connect_agent("sa", hello("a"), "10.0.0.1", "ws1")
    fleet.servers.connect_agent("sb", hello("b"), "10.0.0.2", "ws2")
    fleet.servers.update_server({"id": "sa", "title": "Alpha", "enabled": False, "maxJobs": 2}, ADMIN, Origin())
    fleet.servers.disconnect_agent("sa", "ws1")
    fleet.clock.t += 100
    record = fleet.servers.connect_agent(
        "sa", hello("a2", enabled=True, title="Other", info={"cpu": {"brand": "Z"}}), "10.0.0.9", "ws3"
    )
    assert (record["title"], record["enabled"], record["maxJobs"], record["created"]) == ("Alpha", False, 2, NOW)
    assert (record["hostname"], record["ip"], record["socket_id"], record["modified"]) == (
        "a2",
        "10.0.0.9",
        "ws3",
        NOW + 100,
    )
    assert record["info"]["cpu"] == {"brand": "Z", "combo": "Z"}
    assert [s["id"] for s in fleet.servers.connected_servers()][-2:] == ["sb", "sa"]
    assert [r["description"] for r in fleet.activity("warning")] == [
        "Server hostname has changed: a to: a2",
        "Server IP address has changed: 10.0.0.1 to: 10.0.0.9",
    ]


def test_connect_refuses_bad_reserved_and_revoked_ids(fleet: Fleet) -> None:
    """A malformed id, the local server's id and a revoked id never join."""
    for server_id in ("Bad Id", "x" * 65, fleet.servers.local_id):
        with pytest.raises(CwError):
            fleet.servers.connect_agent(server_id, hello(), "10.0.0.1", "ws1")
    fleet.servers.revoke("sgone")
    assert fleet.servers.is_revoked("sgone") and not fleet.servers.is_revoked("sother")
    assert fleet.store.get_kv("server_revoked:sgone") is not None
    with pytest.raises(CwError):
        fleet.servers.connect_agent("sgone", hello(), "10.0.0.1", "ws1")
    assert not fleet.servers.is_connected("sgone")


def test_disconnect_only_for_the_current_socket(fleet: Fleet) -> None:
    """A late close of an old socket does nothing; the current one takes the server offline,
    stores `modified`, logs `server_remove` and leaves it in the recently-offline cache."""
    fleet.servers.connect_agent("sa", hello("a"), "10.0.0.1", "ws1")
    fleet.servers.connect_agent("sa", hello("a"), "10.0.0.1", "ws2")
    assert fleet.servers.disconnect_agent("sa", "ws1") is False and fleet.servers.is_connected("sa")
    assert fleet.servers.disconnect_agent(fleet.servers.local_id, "") is False
    fleet.clock.t += 30
    assert fleet.servers.disconnect_agent("sa", "ws2") is True
    assert not fleet.servers.is_connected("sa") and fleet.servers.socket_of("sa") is None
    assert fleet.catalog["servers"].get("sa")["modified"] == NOW + 30
    assert fleet.servers.disconnect_agent("sa", "ws2") is False
    [row] = fleet.activity("server_remove")
    assert row["description"] == "Server disconnected from the network: a (10.0.0.1)"
    found = fleet.servers.get_server({"id": "sa"}, ADMIN)
    assert found["online"] is False and found["server"]["info"]["cpu"]["brand"] == "EPYC"


def test_minute_samples(fleet: Fleet) -> None:
    """A `monitor` sample merges cpu facts with avgLoad and memory into the live info (read by
    connected_servers and get_server's `data`); a second one in the same minute is dropped."""
    fleet.servers.connect_agent("sa", hello("a"), "10.0.0.1", "ws1")
    sample = {
        "version": "1.0",
        "date": NOW,
        "data": {"cpu": {"avgLoad": 0.5, "cores": 4}, "memory": {"total": 8, "available": 6}},
    }
    assert fleet.servers.update_info("sa", sample) is True
    assert fleet.servers.update_info("sa", {"data": {"cpu": {"avgLoad": 9.0}}}) is False
    info = next(s for s in fleet.servers.connected_servers() if s["id"] == "sa")["info"]
    assert info["cpu"]["avgLoad"] == 0.5 and info["cpu"]["cores"] == 4 and info["cpu"]["brand"] == "EPYC"
    assert info["memory"] == {"total": 8, "available": 6}
    fleet.clock.t += 60
    assert fleet.servers.update_info("sa", {"cpu": {"avgLoad": float("nan")}, "memory": {"free": 2}}) is True
    info = fleet.servers.get_server({"id": "sa"}, ADMIN)["server"]["info"]
    assert info["cpu"]["avgLoad"] == 0.5 and info["memory"]["free"] == 2
    data = fleet.servers.get_server({"id": "sa"}, ADMIN)["data"]
    assert data["server"] == "sa" and data["ip"] == "10.0.0.1" and data["data"]["memory"] == {"free": 2}
    assert fleet.servers.update_info("soffline", {"data": {}}) is False
    assert fleet.servers.update_info("sa", "junk") is False  # type: ignore[arg-type]


def test_get_server_data_and_scope(fleet: Fleet) -> None:
    """get_server answers `data: {}` without a sample; a group-limited caller outside the server's
    groups gets `access`; an unknown id `notfound`."""
    fleet.add_group("other", "^nothing$")
    fleet.servers.connect_agent("sa", hello("a", groups=["other"]), "10.0.0.1", "ws1")
    assert fleet.servers.get_server({"id": "sa"}, ADMIN) == {
        "server": fleet.servers.connected_servers()[-1],
        "data": {},
        "online": True,
    }
    limited = Identity(kind="key", username="k", title="L", groups=("main",))
    with pytest.raises(CwError) as caught:
        fleet.servers.get_server({"id": "sa"}, limited)
    assert caught.value.description == "You do not have the required account privileges to access targets: other."
    with pytest.raises(CwError) as caught:
        fleet.servers.get_server({"id": "snope"}, ADMIN)
    assert (caught.value.code, caught.value.description) == ("notfound", "Failed to locate server: snope")


def test_update_server_reaches_connected_servers(fleet: Fleet) -> None:
    """update_server applies only its fields, at once for an online server, pushes group changes
    to the agent and logs `server_update`."""
    fleet.add_group("web", "^web")
    fleet.servers.connect_agent("sa", hello("db"), "10.0.0.1", "ws1")
    fleet.servers.update_server(
        {"id": "sa", "enabled": "0", "autoGroup": False, "groups": ["web"], "hostname": "evil", "info": {}},
        UPDATER,
        Origin(),
    )
    live = next(s for s in fleet.servers.connected_servers() if s["id"] == "sa")
    assert (live["enabled"], live["autoGroup"], live["groups"], live["hostname"]) == (False, False, ["web"], "db")
    assert live["info"]["cpu"]["brand"] == "EPYC"
    assert fleet.pushed == [("sa", ["web"])]
    fleet.servers.update_server({"id": "sa", "autoGroup": "true"}, UPDATER, Origin())
    assert fleet.catalog["servers"].get("sa")["groups"] == ["main"]
    [first, _] = fleet.activity("server_update")
    assert first["updates"] == {"enabled": False, "groups": ["web"], "autoGroup": False}
    with pytest.raises(CwError) as caught:
        fleet.servers.update_server({"id": "sa", "title": "x"}, READER, Origin())
    assert caught.value.code == "access"


def test_update_server_group_scope(fleet: Fleet) -> None:
    """A group-limited updater must see the server and may assign only its own groups."""
    fleet.add_group("web", "^web")
    fleet.servers.connect_agent("sa", hello("web1"), "10.0.0.1", "ws1")
    fleet.servers.connect_agent("sb", hello("db1"), "10.0.0.2", "ws2")
    limited = Identity(kind="key", username="k", title="L", privileges={"update_servers": True}, groups=("web",))
    with pytest.raises(CwError) as caught:
        fleet.servers.update_server({"id": "sb", "title": "x"}, limited, Origin())
    assert caught.value.description == "You do not have the required account privileges to access server ID sb."
    with pytest.raises(CwError) as caught:
        fleet.servers.update_server({"id": "sa", "title": "x"}, limited, Origin())  # keeps main, not its group
    assert caught.value.description == (
        "You do not have the required account privileges to assign the requested server groups."
    )
    fleet.servers.update_server({"id": "sa", "autoGroup": False, "groups": ["web"]}, limited, Origin())
    assert fleet.catalog["servers"].get("sa")["groups"] == ["web"]


def test_delete_server(fleet: Fleet) -> None:
    """delete_server revokes: an online agent goes to on_remove (its record goes at the disconnect),
    an offline record is deleted, the local server is refused, an unknown id is `notfound`."""
    fleet.servers.connect_agent("sa", hello("a"), "10.0.0.1", "ws1")
    fleet.servers.connect_agent("sb", hello("b"), "10.0.0.2", "ws2")
    fleet.servers.disconnect_agent("sb", "ws2")
    assert fleet.servers.delete_server({"id": "sa"}, ADMIN, Origin()) == {}
    assert fleet.removed == ["sa"] and fleet.servers.is_revoked("sa") and "sa" in fleet.catalog["servers"]
    fleet.servers.disconnect_agent("sa", "ws1")
    assert "sa" not in fleet.catalog["servers"]
    assert fleet.servers.delete_server({"id": "sb", "history": True}, ADMIN, Origin()) == {}
    assert "sb" not in fleet.catalog["servers"] and fleet.servers.is_revoked("sb") and fleet.removed == ["sa"]
    with pytest.raises(CwError) as caught:
        fleet.servers.get_server({"id": "sb"}, ADMIN)
    assert caught.value.code == "notfound"
    for server_id, code in (("sb", "notfound"), (fleet.servers.local_id, "server")):
        with pytest.raises(CwError) as caught:
            fleet.servers.delete_server({"id": server_id}, ADMIN, Origin())
        assert caught.value.code == code and caught.value.status < 500
    with pytest.raises(CwError) as caught:
        fleet.servers.delete_server({"id": "sa"}, UPDATER, Origin())
    assert caught.value.code == "access"
    assert len(fleet.activity("server_delete")) == 2


def test_group_changes_recompute(fleet: Fleet) -> None:
    """After a group change auto servers are recomputed and manual ones lose deleted groups; an
    online agent is told its new groups."""
    fleet.add_group("web", "^web")
    fleet.servers.connect_agent("sa", hello("web1"), "10.0.0.1", "ws1")
    fleet.servers.connect_agent("sb", hello("db1", groups=["web"]), "10.0.0.2", "ws2")
    assert fleet.catalog["servers"].get("sb")["groups"] == ["web"]
    with fleet.catalog.transaction() as tx:
        tx.delete("groups", "web")
    fleet.servers.recompute_groups()
    assert fleet.catalog["servers"].get("sa")["groups"] == ["main"]
    sb = fleet.catalog["servers"].get("sb")
    assert (sb["groups"], sb["autoGroup"]) == (["main"], True)
    assert sorted(fleet.pushed) == [("sa", ["main"]), ("sb", ["main"])]


def test_local_worker_off() -> None:
    """With local_worker off the local machine is not online, and its id is an ordinary one."""
    fleet = make_fleet(local_worker=False)
    assert fleet.servers.connected_servers() == [] and not fleet.servers.is_connected(fleet.servers.local_id)
    assert fleet.catalog["servers"].get(fleet.servers.local_id) is None
    fleet.servers.connect_agent("sa", hello("a"), "10.0.0.1", "ws1")
    assert [s["id"] for s in fleet.servers.connected_servers()] == ["sa"]
    fleet.servers.refresh_info()  # samples nothing: there is no local server
    local_id = fleet.servers.local_id
    fleet.servers.connect_agent(local_id, hello("b"), "10.0.0.2", "ws2")  # the id is no longer reserved
    assert fleet.servers.is_agent(local_id) and fleet.servers.disconnect_agent(local_id, "ws2")
    fleet.servers.delete_server({"id": local_id}, ADMIN, Origin())
    assert fleet.catalog["servers"].get(local_id) is None


@pytest.mark.parametrize(
    ("value", "expected"), [("false", False), ("0", False), ("off", False), ("true", True), ("1", True)]
)
def test_local_worker_setting(value: str, expected: bool) -> None:
    """CRONWRIGHT_LOCAL_WORKER takes the usual boolean spellings."""
    assert load_settings(environ={"CRONWRIGHT_LOCAL_WORKER": value}).local_worker is expected


def test_local_worker_setting_refuses_junk() -> None:
    """Anything else stops the start with the setting's name."""
    with pytest.raises(ConfigError, match="local_worker"):
        load_settings(environ={"CRONWRIGHT_LOCAL_WORKER": "maybe"})


def test_refresh_info_on_a_thread_while_agents_join(fleet: Fleet) -> None:
    """Sampling the local machine (a thread) and joins never see the online set change mid-iteration."""
    import threading

    stop = time.monotonic() + 0.3
    errors: list[BaseException] = []

    def sample() -> None:
        try:
            while time.monotonic() < stop:
                fleet.servers.refresh_info()
                fleet.servers.connected_servers()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=sample)
    thread.start()
    n = 0
    while time.monotonic() < stop:
        fleet.servers.connect_agent(f"s{n % 20}", hello(f"h{n % 20}"), "10.0.0.1", f"ws{n}")
        n += 1
    thread.join()
    assert errors == []
