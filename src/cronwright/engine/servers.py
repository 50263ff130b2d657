"""Servers: the local machine registered as a target, group membership and live metrics.

The conductor's own machine is one server (id = host name, lower-cased, non-word characters as
``_``). Servers with ``autoGroup`` belong to every group whose ``hostname_match`` regular
expression matches their host name; memberships are recomputed whenever groups change.
Load and memory figures are sampled in memory only (they are not definitions).
"""

from __future__ import annotations

import re
import socket
from typing import Any

import psutil

from cronwright.clock import Clock
from cronwright.engine.catalog import Catalog
from cronwright.engine.identity import Identity
from cronwright.engine.validation.patterns import RegexTooCostly, compile_user_regex
from cronwright.errors import CwError
from cronwright.store.base import DuplicateId


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


class ServerRegistry:
    def __init__(self, catalog: Catalog, clock: Clock, hostname: str | None = None) -> None:
        self._catalog = catalog
        self._clock = clock
        self.hostname = hostname or socket.gethostname()
        self.local_id = local_server_id(self.hostname)
        self._connected: set[str] = set()
        self._info: dict[str, dict[str, Any]] = {}

    def register_local(self) -> dict[str, Any]:
        """Insert or refresh the local server's record and mark it connected."""
        try:
            doc = self._upsert_local()
        except DuplicateId:  # another conductor on the same database registered it meanwhile
            self._catalog.refresh("servers", self.local_id)
            doc = self._upsert_local()
        self._connected.add(self.local_id)
        self.refresh_info()
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
        if doc.get("autoGroup"):
            doc["groups"] = self._matching_groups(doc["hostname"])
        with self._catalog.transaction() as tx:
            if current is None:
                tx.insert("servers", doc)
            else:
                tx.update("servers", doc, expected_revision=None)
        return doc

    def _matching_groups(self, hostname: str) -> list[str]:
        matched = []
        for group in self._catalog["groups"].values():
            try:
                if compile_user_regex(group.get("hostname_match")).search(hostname):
                    matched.append(group["id"])
            except (CwError, RegexTooCostly):  # an invalid (or too costly) pattern matches nothing
                continue
        return matched

    def recompute_groups(self) -> None:
        """Re-apply every ``autoGroup`` server's memberships after a group change."""
        changed = []
        for server in self._catalog["servers"].values():
            if server.get("autoGroup"):
                groups = self._matching_groups(str(server.get("hostname") or server["id"]))
                if groups != server.get("groups"):
                    changed.append({**server, "groups": groups, "modified": int(self._clock.now())})
        if changed:
            with self._catalog.transaction() as tx:
                for doc in changed:
                    tx.update("servers", doc, expected_revision=None)

    def refresh_info(self) -> None:
        for server_id in self._connected:
            self._info[server_id] = sample_info()

    def connected_servers(self) -> list[dict[str, Any]]:
        """Connected servers with their live ``info``."""
        return [
            {**server, "info": self._info.get(server["id"], {})}
            for server in self._catalog["servers"].values()
            if server["id"] in self._connected
        ]

    def active_servers(self, who: Identity) -> list[dict[str, Any]]:
        """Connected servers the caller may see (group-limited callers: servers of their groups)."""
        return [
            server
            for server in self.connected_servers()
            if who.is_admin or not who.groups or any(g in who.groups for g in server.get("groups") or [])
        ]

    def is_connected(self, server_id: str) -> bool:
        return server_id in self._connected
