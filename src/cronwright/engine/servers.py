"""Servers: the machines that run jobs: the local machine and the agents that join (docs/fleet.md).

The conductor's own machine is one server (id = host name, lower-cased, non-word characters as
``_``) unless ``local_worker`` is off. Agents join through the socket hub, which calls
``connect_agent`` / ``disconnect_agent`` / ``update_info``. Records are stored definitions
(``servers``); which servers are online, in what order, with what live ``info``, is held in this
process's memory: the hub of this conductor holds the sockets. With other conductors on the same
database, each publishes the servers it holds (``engine/fleet/presence.py``) and the others list
them too (``set_remote``): every conductor chooses among every online server, and a job for a
server another conductor holds is sent to that one (``holder_of``). Every reader goes through
``connected_servers``/``is_connected``. Revocations live in global state (``server_revoked:<id>``)
so every conductor refuses them.
The pure rules (merge, groups, keywords, field checks) are in ``server_records.py``.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil

from cronwright.clock import Clock
from cronwright.engine import activity
from cronwright.engine.activity import Origin
from cronwright.engine.catalog import Catalog
from cronwright.engine.identity import Identity
from cronwright.engine.server_records import (
    RecentlyOffline,
    assign_groups,
    build_keywords,
    coerce_update,
    merge_hello,
    merge_sample,
    require_visible,
    updated_record,
)
from cronwright.engine.validation import ID_RE, require_params
from cronwright.errors import BadRequest, CwError, NotFound
from cronwright.store.base import DuplicateId, StoreError

log = logging.getLogger("cronwright.servers")
REVOKED_PREFIX = "server_revoked:"
#: how long a "not revoked" answer holds before the database is read again (another conductor
#: may have revoked the server; its own revocations apply at once)
REVOKED_RECHECK_S = 5.0
#: a monitor sample's header keys kept for ``get_server``'s ``data``
_SAMPLE_KEYS = ("version", "date", "server", "hostname")
#: the live ``info`` sections a conductor publishes for the servers it holds (what the algorithms
#: and target expressions read changes; the rest is in the stored record)
PUBLISHED_INFO = ("cpu", "memory", "process")


def local_server_id(hostname: str) -> str:
    return re.sub(r"\W", "_", hostname.lower()) or "localhost"


def sample_info() -> dict[str, Any]:
    load = psutil.getloadavg()
    memory = psutil.virtual_memory()
    return {
        "cpu": {"avgLoad": round(load[0], 2), "cores": psutil.cpu_count() or 1},
        "memory": {"total": memory.total, "active": memory.total - memory.available, "available": memory.available},
        "booted": int(psutil.boot_time()),
    }


def _not_found(server_id: str) -> NotFound:
    return NotFound("notfound", f"Failed to locate server: {server_id}")


class ServerRegistry:
    def __init__(
        self,
        catalog: Catalog,
        clock: Clock,
        hostname: str | None = None,
        *,
        local_worker: bool = True,
        on_remove: Callable[[str], None] | None = None,
        on_groups: Callable[[str, list[str]], None] | None = None,
    ) -> None:
        self._catalog = catalog
        self._clock = clock
        self.hostname = hostname or socket.gethostname()
        self.local_id = local_server_id(self.hostname)
        self.local_worker = local_worker
        #: called with the id of an online agent that was deleted: the hub sends ``uninstall`` and
        #: disconnects it
        self.on_remove: Callable[[str], None] = on_remove or (lambda server_id: None)
        #: called when an online agent's groups changed: the hub sends ``update {groups}``
        self.on_groups: Callable[[str, list[str]], None] = on_groups or (lambda server_id, groups: None)
        self._lock = threading.RLock()
        #: online servers in connection order → their current socket id ("" for the local one)
        self._online: dict[str, str] = {}
        self._info: dict[str, dict[str, Any]] = {}
        self._samples: dict[str, dict[str, Any]] = {}
        self._time_codes: dict[str, int] = {}
        self._offline = RecentlyOffline()
        #: set by the conductor: this conductor's running jobs per server (``info.monitors.active_jobs``)
        self.job_counts: Callable[[], dict[str, int]] = dict
        #: server id → (revoked, when to read it again): see ``is_revoked``
        self._revoked: dict[str, tuple[bool, float]] = {}
        #: when each server held here came online (wall clock: the newest connection wins across conductors)
        self._since: dict[str, float] = {}
        #: servers other conductors hold (``set_remote``): id → {conductor, since, info, jobs, at}
        self._remote: dict[str, dict[str, Any]] = {}
        #: jobs this conductor sent to the holder of their server: server id → when (wall clock);
        #: counted until the holder publishes a row newer than the send (which counts them itself)
        self._sent: dict[str, list[float]] = {}
        #: called when what this conductor holds changed: ``True`` for a server joining or leaving
        #: (published at once), ``False`` for new figures (published with the next round)
        self.on_change: Callable[[bool], None] = lambda urgent: None

    # ---- the local machine

    def register_local(self) -> dict[str, Any] | None:
        """Insert or refresh the local server's record and mark it online (nothing with
        ``local_worker`` off)."""
        if not self.local_worker:
            return None
        try:
            doc = self._upsert_local()
        except DuplicateId:  # another conductor on the same database registered it meanwhile
            self._catalog.refresh("servers", self.local_id)
            doc = self._upsert_local()
        with self._lock:
            self._online.pop(self.local_id, None)
            self._online[self.local_id] = ""
            self._since[self.local_id] = time.time()
        self.refresh_info()
        self.on_change(True)
        return doc

    def _upsert_local(self) -> dict[str, Any]:
        now = int(self._clock.now())
        current = self._catalog["servers"].get(self.local_id)
        doc = {
            "id": self.local_id,
            "hostname": self.hostname,
            "ip": "127.0.0.1",
            "enabled": True,
            "autoGroup": True,
            "groups": [],
            "maxJobs": 0,
            "userData": {},
            "created": now,
            **(current or {}),
            "modified": now,
        }
        doc = assign_groups(doc, self._groups())
        doc["keywords"] = build_keywords(doc)
        with self._catalog.transaction() as tx:
            if current is None:
                tx.insert("servers", doc)
            else:
                tx.update("servers", doc, expected_revision=None)
        return doc

    def refresh_info(self) -> None:
        """Sample the local machine's load and memory (runs on a thread)."""
        if self.local_worker and self.is_connected(self.local_id) and not self.is_agent(self.local_id):
            info = sample_info()
            with self._lock:
                self._info[self.local_id] = info
            self.on_change(False)

    # ---- agents (called by the hub)

    def connect_agent(self, server_id: str, hello: dict[str, Any], ip: str, socket_id: str) -> dict[str, Any]:
        """Register a joined agent (servers-agents.md §5.2): merge, store, mark online (moved to the
        end of the connection order), log ``server_add`` and host name / IP changes. Returns the
        record. Raises ``BadRequest`` for an id that is malformed, the local server's or revoked."""
        if not isinstance(server_id, str) or not ID_RE.match(server_id) or len(server_id) > 64:
            raise BadRequest("server", f"Malformed server ID: {str(server_id)[:64]}")
        if self.local_worker and server_id == self.local_id:
            raise BadRequest("server", f"Server ID is reserved for the conductor's own server: {server_id}")
        if self.is_revoked(server_id):
            raise BadRequest("server", f"Server has been deleted: {server_id}")
        hello = hello if isinstance(hello, dict) else {}
        stored = self._catalog.refresh("servers", server_id)
        now = int(self._clock.now())
        doc = merge_hello(
            stored, server_id=server_id, hello=hello, ip=ip, socket_id=socket_id, now=now, groups=self._groups()
        )
        label = f"{doc['hostname']} ({doc['ip']})"
        words = [server_id, doc["hostname"], doc["ip"]]
        context = {"server": server_id, "hostname": doc["hostname"], "ip": doc["ip"]}
        try:
            self._store_connect(stored, doc, now, label, words, context)
        except DuplicateId:  # another conductor stored it meanwhile: ours is the newer hello
            self._store_connect(self._catalog.refresh("servers", server_id), doc, now, label, words, context)
        with self._lock:
            self._online.pop(server_id, None)
            self._online[server_id] = doc["socket_id"]
            self._since[server_id] = time.time()
            self._info[server_id] = doc["info"]
            self._samples.pop(server_id, None)
            self._time_codes.pop(server_id, None)
            self._offline.pop(server_id)
        self.on_change(True)
        return doc

    def _store_connect(
        self,
        stored: dict[str, Any] | None,
        doc: dict[str, Any],
        now: int,
        label: str,
        words: list[str],
        context: dict[str, Any],
    ) -> None:
        with self._catalog.transaction() as tx:
            if stored is None:
                tx.insert("servers", doc)
            else:
                tx.update("servers", doc, expected_revision=None)
                for key, name in (("hostname", "hostname"), ("ip", "IP address")):
                    old = stored.get(key)
                    if old and old != doc[key]:
                        text = f"Server {name} has changed: {old} to: {doc[key]}"
                        activity.record(tx.writer, "warning", epoch=now, description=text, keywords=words, **context)
            description = f"Server connected to the network: {label}"
            activity.record(tx.writer, "server_add", epoch=now, description=description, keywords=words, **context)

    def disconnect_agent(self, server_id: str, socket_id: str) -> bool:
        """Take an agent offline when ``socket_id`` is its current socket (a late close of an old
        socket does nothing): ``modified`` stored (a deleted server's record removed), the record
        kept in the recently-offline cache, activity ``server_remove``. True when it went offline."""
        with self._lock:
            if not socket_id or self._online.get(server_id) != socket_id:  # the local server's is ""
                return False
            del self._online[server_id]
            self._since.pop(server_id, None)
            info = self._info.pop(server_id, {})
            self._time_codes.pop(server_id, None)
        self.on_change(True)
        now = int(self._clock.now())
        current = self._catalog["servers"].get(server_id)
        try:
            revoked = self.is_revoked(server_id)
        except StoreError:
            revoked = False
        hostname = str((current or {}).get("hostname") or server_id)
        ip = str((current or {}).get("ip") or "")
        context = {"server": server_id, "hostname": hostname, "ip": ip}
        try:
            with self._catalog.transaction() as tx:
                if current is not None and revoked:
                    tx.delete("servers", server_id)
                elif current is not None:
                    tx.update("servers", {**current, "modified": now}, expected_revision=None)
                activity.record(
                    tx.writer,
                    "server_remove",
                    epoch=now,
                    description=f"Server disconnected from the network: {hostname} ({ip})",
                    keywords=[server_id, hostname, ip],
                    **context,
                )
        except StoreError as exc:  # offline all the same; the record keeps its older `modified`
            log.warning("storing the disconnect of server %s failed: %s", server_id, exc)
        if current is not None and not revoked:
            with self._lock:
                self._offline.put(server_id, {**current, "modified": now, "info": info}, now)
        else:
            with self._lock:
                self._samples.pop(server_id, None)
        return True

    def update_info(self, server_id: str, sample: dict[str, Any]) -> bool:
        """Merge a ``monitor`` minute sample into an online agent's live ``info`` (in memory). A
        second sample in the same clock minute is dropped. True when it was taken. ``sample`` is the
        ``monitor`` message (``{version, date, server, hostname, data}``) or its ``data`` alone."""
        if not isinstance(sample, dict):
            return False
        inner = sample.get("data")
        data: dict[str, Any] = inner if isinstance(inner, dict) else sample
        sample = sample if data is not sample else {}
        time_code = int(self._clock.now() // 60)
        with self._lock:
            if server_id not in self._online or self._time_codes.get(server_id) == time_code:
                return False
            self._time_codes[server_id] = time_code
            self._info[server_id] = merge_sample(self._info.get(server_id, {}), data)
            doc = self._catalog["servers"].get(server_id) or {}
            header = {k: sample[k] for k in _SAMPLE_KEYS if isinstance(sample.get(k), (str, int, float))}
            self._samples[server_id] = {
                **header,
                "server": server_id,
                "ip": doc.get("ip", ""),
                "groups": doc.get("groups", []),
                "data": data,
            }
        self.on_change(False)
        return True

    # ---- who is online

    def connected_servers(self) -> list[dict[str, Any]]:
        """Online servers in connection order, with their live ``info``: those this conductor holds
        (the local one and its agents' sockets), then those other conductors hold (``set_remote``)."""
        with self._lock:
            order = list(self._online)
            infos = dict(self._info)
            remote = [(sid, r) for sid, r in self._remote.items() if sid not in self._online]
        servers = self._catalog["servers"]
        counts = self.job_counts()
        listed = []
        for server_id in order:
            doc = servers.get(server_id)
            if doc is None:
                continue
            listed.append(self._live(doc, infos.get(server_id, doc.get("info") or {}), counts))
        for server_id, presence in remote:
            doc = servers.get(server_id)
            if doc is not None:
                listed.append(self._live_remote(doc, presence, counts))
        return listed

    @classmethod
    def _live_remote(cls, doc: dict[str, Any], presence: dict[str, Any], counts: dict[str, int]) -> dict[str, Any]:
        """A server another conductor holds: its stored record with the published figures; its job
        count is the holder's plus this conductor's own jobs bound for it."""
        info = {**(doc.get("info") or {}), **presence["info"]}
        jobs = {doc["id"]: counts.get(doc["id"], 0) + presence["jobs"]}
        return cls._live(doc, info, jobs)

    @staticmethod
    def _live(doc: dict[str, Any], info: dict[str, Any], counts: dict[str, int]) -> dict[str, Any]:
        """An online server's record with its live ``info`` and job count (``monitors.active_jobs``)."""
        monitors = {**(info.get("monitors") or {}), "active_jobs": counts.get(doc["id"], 0)}
        return {**doc, "info": {**info, "monitors": monitors}}

    def active_servers(self, who: Identity) -> list[dict[str, Any]]:
        """Connected servers the caller may see (group-limited callers: servers of their groups)."""
        return [
            server
            for server in self.connected_servers()
            if who.is_admin or not who.groups or any(g in who.groups for g in server.get("groups") or [])
        ]

    def is_connected(self, server_id: str) -> bool:
        """Online here or on another conductor."""
        with self._lock:
            return server_id in self._online or server_id in self._remote

    def holder_of(self, server_id: str) -> str | None:
        """The conductor that holds an online server another conductor holds (its jobs are sent
        there); None when this conductor holds it (or nobody does)."""
        with self._lock:
            if server_id in self._online:
                return None
            remote = self._remote.get(server_id)
        return remote["conductor"] if remote is not None else None

    # ---- presence across conductors (engine/fleet/presence.py)

    def held(self) -> list[dict[str, Any]]:
        """What this conductor publishes of the servers it holds: id, since when, the figures the
        algorithms read (``cpu``, ``memory``) and how many of its jobs run there."""
        counts = self.job_counts()
        with self._lock:
            return [
                {
                    "id": server_id,
                    "since": self._since.get(server_id, 0.0),
                    "info": {k: self._info[server_id][k] for k in PUBLISHED_INFO if k in self._info.get(server_id, {})},
                    "jobs": counts.get(server_id, 0),
                    "agent": bool(socket_id),
                }
                for server_id, socket_id in self._online.items()
            ]

    def set_remote(self, remote: dict[str, dict[str, Any]]) -> None:
        """Replace the servers other conductors hold: id → {conductor, since, info, jobs}."""
        with self._lock:
            self._remote = remote
            for server_id in remote:
                self._offline.pop(server_id)

    def remote_job_counts(self) -> dict[str, int]:
        """Jobs other conductors run on the servers they hold: as they last published, plus the
        jobs this conductor sent them since (not in that row yet)."""
        with self._lock:
            counts = {}
            for server_id, remote in self._remote.items():
                if server_id in self._online:
                    continue
                sent = [t for t in self._sent.get(server_id, ()) if t >= remote.get("at", 0.0)]
                if sent:
                    self._sent[server_id] = sent
                else:
                    self._sent.pop(server_id, None)
                if remote["jobs"] + len(sent):
                    counts[server_id] = remote["jobs"] + len(sent)
            return counts

    def note_sent(self, server_id: str) -> None:
        """A job was sent to the conductor holding ``server_id`` (see ``remote_job_counts``)."""
        with self._lock:
            self._sent.setdefault(server_id, []).append(time.time())

    def jobs_changed(self) -> None:
        """This conductor's job counts changed (published with the next round, within about 1 s)."""
        self.on_change(False)

    def held_agents(self) -> list[str]:
        """The ids of the agents whose socket this conductor holds."""
        with self._lock:
            return [server_id for server_id, socket_id in self._online.items() if socket_id]

    def refreshed(self, server_id: str, before: dict[str, Any] | None) -> None:
        """Another conductor changed a server's record (the change feed): an agent held here is
        told its new groups."""
        after = self._catalog["servers"].get(server_id)
        if after is None or not self.is_agent(server_id):
            return
        if (before or {}).get("groups") != after.get("groups"):
            self.on_groups(server_id, list(after.get("groups") or []))

    def check_revoked(self, revoked: set[str]) -> None:
        """Disconnect the agents held here whose credential another conductor revoked
        (``revoked``: every revoked id, read in one go)."""
        for server_id in self.held_agents():
            if server_id in revoked:
                with self._lock:
                    self._revoked[server_id] = (True, float("inf"))
                self.on_remove(server_id)

    def is_agent(self, server_id: str) -> bool:
        """Online and not the local machine (an agent holds a socket; the local server has none)."""
        with self._lock:
            return bool(self._online.get(server_id))

    def socket_of(self, server_id: str) -> str | None:
        """The id of an online agent's current socket (None when offline or the local server)."""
        with self._lock:
            socket_id = self._online.get(server_id)
        return socket_id or None

    # ---- revocation

    def revoke(self, server_id: str) -> None:
        """Record the server's credential as revoked, for every conductor."""
        with self._catalog.store.write() as writer:
            writer.set_kv(REVOKED_PREFIX + server_id, {"revoked": int(self._clock.now())})
        with self._lock:
            self._revoked[server_id] = (True, float("inf"))

    def is_revoked(self, server_id: str) -> bool:
        """Whether the credential was revoked (on any conductor: a "not revoked" answer is read
        again after ``REVOKED_RECHECK_S``, so every agent call costs no database read)."""
        now = time.monotonic()
        with self._lock:
            cached = self._revoked.get(server_id)
        if cached is not None and (cached[0] or cached[1] > now):
            return cached[0]
        revoked = self._catalog.store.get_kv(REVOKED_PREFIX + server_id) is not None
        with self._lock:
            if len(self._revoked) > 100_000:
                self._revoked.clear()
            self._revoked[server_id] = (revoked, now + REVOKED_RECHECK_S)
        return revoked

    # ---- groups

    def _groups(self) -> list[dict[str, Any]]:
        return self._catalog["groups"].values()

    def recompute_groups(self) -> None:
        """Re-apply §3 to every server after a group change: ``autoGroup`` servers recomputed,
        manual ones lose deleted groups (an emptied list turns ``autoGroup`` on)."""
        groups = self._groups()
        changed = []
        for server in self._catalog["servers"].values():
            updated = assign_groups(server, groups)
            if updated.get("groups") != server.get("groups") or updated.get("autoGroup") != server.get("autoGroup"):
                updated["keywords"] = build_keywords(updated)
                changed.append({**updated, "modified": int(self._clock.now())})
        if changed:
            with self._catalog.transaction() as tx:
                for doc in changed:
                    tx.update("servers", doc, expected_revision=None)
            for doc in changed:
                if self.is_agent(doc["id"]):
                    self.on_groups(doc["id"], doc["groups"])

    # ---- the server APIs (servers-agents.md §9)

    def find(self, server_id: str) -> tuple[dict[str, Any], bool] | None:
        """(record, online): the online record with live ``info``, else the recently-offline one,
        else the stored one (re-read, another conductor may have written it); None when unknown."""
        with self._lock:
            online = server_id in self._online
            info = self._info.get(server_id)
            remote = self._remote.get(server_id)
            recent = self._offline.get(server_id, self._clock.now())
        if online:
            doc = self._catalog["servers"].get(server_id)
            if doc is not None:
                return self._live(doc, info if info is not None else doc.get("info") or {}, self.job_counts()), True
        if remote is not None:
            doc = self._catalog["servers"].get(server_id)
            if doc is not None:
                return self._live_remote(doc, remote, self.job_counts()), True
        if recent is not None and server_id in self._catalog["servers"]:
            return recent, False
        stored = self._catalog.refresh("servers", server_id)
        return (stored, False) if stored is not None else None

    def get_server(self, params: dict[str, Any], who: Identity) -> dict[str, Any]:
        require_params(params, {"id": ID_RE})
        found = self.find(params["id"])
        if found is None:
            raise _not_found(params["id"])
        server, online = found
        require_visible(who, server)
        with self._lock:
            data = self._samples.get(server["id"], {})
        return {"server": server, "data": data, "online": online}

    def update_server(self, params: dict[str, Any], who: Identity, origin: Origin) -> dict[str, Any]:
        """Apply ``UPDATABLE_KEYS`` (coerced) to a server's record; online servers see it at once."""
        require_params(params, {"id": ID_RE})
        who.require("update_servers")
        changes = coerce_update(params)
        server_id = params["id"]
        if self.find(server_id) is None:
            raise _not_found(server_id)
        current = self._catalog["servers"].get(server_id)
        if current is None:
            raise _not_found(server_id)
        now = int(self._clock.now())
        merged = updated_record(current, changes, who=who, groups=self._groups(), now=now)
        hostname = str(current.get("hostname") or server_id)
        try:
            with self._catalog.transaction() as tx:
                tx.update("servers", merged, expected_revision=None)
                activity.record(
                    tx.writer,
                    "server_update",
                    epoch=now,
                    description=str(merged.get("title") or hostname),
                    who=who,
                    origin=origin,
                    keywords=[server_id, hostname],
                    server=server_id,
                    hostname=hostname,
                    updates=changes,
                )
        except StoreError as exc:
            raise CwError("server", f"Failed to update server: {exc}") from None
        with self._lock:
            self._offline.pop(server_id)
        if merged.get("groups") != current.get("groups") and self.is_agent(server_id):
            self.on_groups(server_id, list(merged.get("groups") or []))
        return {}

    def delete_server(self, params: dict[str, Any], who: Identity, origin: Origin) -> dict[str, Any]:
        """Revoke a server's credential; an online agent is told to uninstall (``on_remove``), an
        offline one's record is deleted."""
        require_params(params, {"id": ID_RE})
        who.require_admin()
        server_id = params["id"]
        if self.local_worker and server_id == self.local_id:
            raise BadRequest(
                "server", "The conductor's own server cannot be deleted (set local_worker = false instead)."
            )
        with self._lock:
            remote = None if server_id in self._online else self._remote.get(server_id)
        if remote is not None and not remote.get("agent", True):
            raise BadRequest(
                "server",
                f"The server of conductor {remote['conductor']} cannot be deleted (set local_worker = false there).",
            )
        online = self.is_agent(server_id)
        current = self._catalog["servers"].get(server_id) if online else self._catalog.refresh("servers", server_id)
        if current is None:
            raise _not_found(server_id)
        hostname = str(current.get("hostname") or server_id)
        now = int(self._clock.now())
        self.revoke(server_id)
        if remote is not None:  # its conductor disconnects it (and deletes the record then)
            self._catalog.store.announce({"k": "server_revoked", "id": server_id})
        with self._catalog.transaction() as tx:
            if not online and remote is None:
                tx.delete("servers", server_id)
            activity.record(
                tx.writer,
                "server_delete",
                epoch=now,
                description=str(current.get("title") or hostname),
                who=who,
                origin=origin,
                keywords=[server_id, hostname],
                server=server_id,
                hostname=hostname,
            )
        with self._lock:
            self._offline.pop(server_id)
            if not online:
                self._samples.pop(server_id, None)
        if online:
            self.on_remove(server_id)
        return {}
