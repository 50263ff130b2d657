"""Which conductor holds which server, shared through the database (several conductors on one
PostgreSQL database: docs/fleet.md, multi-conductor.md point 7).

Each conductor publishes the servers it holds (its own machine, its agents' sockets) as one row of
global state, ``server_presence:<conductor id>``: when a server joins or leaves at once (announced
on the change feed, so the others re-read within moments), and every ``REPUBLISH_S`` with fresh
figures and job counts. Each conductor reads every row every ``READ_INTERVAL_S`` (and on an
announcement), keeps the rows of live conductors only (a conductor that died drops out with its
heartbeat), and gives the result to the registry (``ServerRegistry.set_remote``). When two rows
name one server (its agent moved and the old conductor has not noticed yet), the newest connection
wins; a server held here always wins here.

The same pass disconnects agents held here whose credential another conductor revoked
(``delete_server`` through any conductor). With SQLite (one conductor) none of this runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cronwright.engine.servers import REVOKED_PREFIX
from cronwright.store.base import StoreError

if TYPE_CHECKING:
    from cronwright.engine.catalog import Catalog
    from cronwright.engine.servers import ServerRegistry
    from cronwright.store.base import Store

log = logging.getLogger("cronwright.fleet")

PRESENCE_PREFIX = "server_presence:"
#: how often a pending change is looked for (a join or a leave is published within this)
TICK_S = 0.25
#: how often the held servers are published anyway (figures)
REPUBLISH_S = 5.0
#: new job counts are published at most this often
SOON_S = 1.0
#: how often every conductor's row is read (announcements make it sooner)
READ_INTERVAL_S = 2.0
#: how often agents held here are checked against revocations made elsewhere
REVOKED_CHECK_S = 5.0


class Presence:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        servers: ServerRegistry,
        conductor_id: str,
        live_ids: Callable[[], set[str]],
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._servers = servers
        self._id = conductor_id
        self._live_ids = live_ids
        self._urgent = True
        self._soon = False
        self._last_publish = 0.0
        self._read_soon = True
        self._next_publish = 0.0
        self._next_read = 0.0
        self._next_revoked = 0.0

    @property
    def key(self) -> str:
        return PRESENCE_PREFIX + self._id

    # ---- what happens (called from any thread)

    def changed(self, urgent: bool) -> None:
        """What this conductor holds changed; ``urgent`` (a join or a leave) publishes at once,
        other changes (figures, job counts) within ``SOON_S``."""
        if urgent:
            self._urgent = True
        else:
            self._soon = True

    def announced(self, conductor_id: str) -> None:
        """Another conductor published its row (the change feed): read the rows soon."""
        if conductor_id != self._id:
            self._read_soon = True

    def revoked_elsewhere(self) -> None:
        """``delete_server`` on another conductor: check the agents held here soon."""
        self._next_revoked = 0.0

    # ---- the loop (blocking work runs on a thread)

    async def loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await asyncio.to_thread(self.tick, time.monotonic())
            except StoreError as exc:
                log.warning("server presence not shared: %s", exc)
                self._urgent = True
            except Exception:
                log.exception("server presence pass failed")

    def tick(self, now: float) -> None:
        if self._urgent or now >= self._next_publish or (self._soon and now - self._last_publish >= SOON_S):
            self._urgent = self._soon = False
            self._next_publish = now + REPUBLISH_S
            self._last_publish = now
            self.publish()
        if self._read_soon or now >= self._next_read:
            self._read_soon = False
            self._next_read = now + READ_INTERVAL_S
            self.read()
        if now >= self._next_revoked:
            self._next_revoked = now + REVOKED_CHECK_S
            if self._servers.held_agents():
                revoked = self._store.kv_with_prefix(REVOKED_PREFIX)
                self._servers.check_revoked({key[len(REVOKED_PREFIX) :] for key in revoked})

    def publish(self) -> None:
        row = {"at": time.time(), "servers": self._servers.held()}
        with self._store.write() as w:
            w.set_kv(self.key, row)
        self._store.announce({"k": "presence", "id": self._id})

    def read(self) -> None:
        rows = self._store.kv_with_prefix(PRESENCE_PREFIX)
        live = self._live_ids()
        remote: dict[str, dict[str, Any]] = {}
        for key, row in rows.items():
            conductor = key[len(PRESENCE_PREFIX) :]
            if conductor == self._id or conductor not in live or not isinstance(row, dict):
                continue
            at = row.get("at")
            for entry in row.get("servers") or []:
                held = _entry(entry, conductor, at)
                if held is not None and held["since"] >= remote.get(held["id"], {}).get("since", -1.0):
                    remote[held["id"]] = held
        known = self._catalog["servers"]
        for server_id in remote:
            if server_id not in known:  # joined elsewhere a moment ago: its record may not be here yet
                self._catalog.refresh("servers", server_id)
        self._servers.set_remote(remote)

    def withdraw(self) -> None:
        """At a clean stop: drop this conductor's row (the others stop listing its servers now)."""
        with contextlib.suppress(StoreError):
            with self._store.write() as w:
                w.delete_kv(self.key)
            self._store.announce({"k": "presence", "id": self._id})


def _entry(entry: Any, conductor: str, at: Any) -> dict[str, Any] | None:
    """One published server, checked (the row is data another process wrote)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        return None
    since = entry.get("since")
    jobs = entry.get("jobs")
    info = entry.get("info")
    return {
        "id": entry["id"],
        "conductor": conductor,
        "since": float(since) if isinstance(since, (int, float)) and not isinstance(since, bool) else 0.0,
        "info": info if isinstance(info, dict) else {},
        "jobs": jobs if isinstance(jobs, int) and not isinstance(jobs, bool) and jobs >= 0 else 0,
        "agent": entry.get("agent") is not False,
        #: when the row was published (its job counts are as of then)
        "at": float(at) if isinstance(at, (int, float)) and not isinstance(at, bool) else 0.0,
    }
