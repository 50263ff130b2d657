"""This conductor among the others sharing its database (docs/ha.md).

- **Identity**: ``conductor_id`` (default: the host name, plus ``:port`` on PostgreSQL) is held by
  one live process at a time: on PostgreSQL by a session advisory lock on a connection kept for the
  process's life, on SQLite by an exclusive lock on ``<database>.lock`` (which also refuses a second
  conductor on the file, whatever its id).
- **Heartbeat**: every ``HEARTBEAT_S`` the conductor's row in ``conductors`` is renewed, and with
  it the lease on every unfinished job it owns (``JOB_LEASE_S``). A job whose lease ran out is an
  orphan: the leader adopts it (``engine/jobs/recovery.py``).
- **Leader**: one conductor holds the expiring leader lease (``LEADER_LEASE_S``), renewed on every
  heartbeat; each change of holder increases the epoch. Leader-only writes call ``fence(w)`` first
  in their transaction, so a former leader (paused, partitioned, its connection cut) cannot write
  after another took over. A leader that could not renew for ``LEADER_LEASE_S - STEP_DOWN_MARGIN_S``
  steps down by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

from cronwright import __version__
from cronwright.config import ConfigError, Settings
from cronwright.logs import fields
from cronwright.store.base import Lease, NotLeader, Store, StoreError, StoreWriter

log = logging.getLogger("cronwright.cluster")
T = TypeVar("T")

HEARTBEAT_S = 2.0
LEADER_LEASE_S = 10.0
JOB_LEASE_S = 15.0
#: a leader that has not renewed for ``LEADER_LEASE_S`` minus this stops leading (its lease may
#: have run out by the time a write reaches the database; the fence refuses it anyway)
STEP_DOWN_MARGIN_S = 2.0
#: a conductor whose heartbeat is older than this is shown offline and dropped from peer lists
CONDUCTOR_TIMEOUT_S = 3 * HEARTBEAT_S + 4


def default_conductor_id(settings: Settings, dialect: str) -> str:
    host = socket.gethostname().lower() or "localhost"
    return host if dialect == "sqlite" else f"{host}:{settings.port}"


class Cluster:
    def __init__(self, store: Store, settings: Settings, dialect: str, *, conductor_id: str = "") -> None:
        self._store = store
        self._settings = settings
        self.dialect = dialect
        self.id = conductor_id or settings.conductor_id or default_conductor_id(settings, dialect)
        self.instance = secrets.token_hex(8)
        self.started = time.time()
        self.epoch: int | None = None
        self.leader = False
        self._renewed = 0.0  # monotonic time of the last successful lease renewal
        #: called (on the event loop) when this conductor starts leading; the ``Lease`` tells a
        #: take-over's previous holder and when its lease ran out (for startup triggers)
        self.on_lead: list[Callable[[Lease], Any]] = []
        self._peers = False
        #: the last heartbeat reached the database (``/health`` answers 503 otherwise)
        self.database_ok = True
        self._lock_file: Any = None
        self._task: asyncio.Task[None] | None = None
        #: one thread for the periodic cluster work (heartbeats, leases, adoption, job requests):
        #: off the event loop (a database outage may make a call wait), without fanning out over
        #: the default pool's threads (each costs its own memory arena)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cluster")

    def offload(self, work: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Run a short blocking call on the cluster thread."""
        return asyncio.get_running_loop().run_in_executor(self._worker, work, *args)

    # ---- start and stop

    def claim(self) -> None:
        """Take this conductor's id (and, on SQLite, the database) or raise ``ConfigError``."""
        if self.dialect == "sqlite":
            self._claim_sqlite()
        elif self.dialect == "postgresql":
            self._claim_pg()
        self._store.owner = self.id
        self._store.job_lease_s = JOB_LEASE_S

    def _claim_sqlite(self) -> None:
        database = make_url(self._settings.database_url).database
        if not database or database == ":memory:":
            return
        path = Path(database + ".lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)  # private like the database beside it
        handle = os.fdopen(fd, "r+")  # held open (and locked) for the process's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConfigError(
                f"Another conductor ({holder}) is using the SQLite database {database}: SQLite serves one "
                "conductor. Stop it, or use PostgreSQL (--db-url postgresql://...) to run several."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, {self._settings.public_url}\n")
        handle.flush()
        self._lock_file = handle

    def _claim_pg(self) -> None:
        if not self._store.claim_conductor(self.id):
            raise ConfigError(
                f"Conductor id {self.id!r} is in use by another running conductor on this database; "
                "start this one with its own --conductor-id."
            )

    def _marker(self, conductor_id: str) -> Path:
        """A file each conductor keeps in its data directory: seeing another's tells that the two
        share their files (job logs, output files, uploads), as several conductors must (docs/ha.md).
        Named by a hash of the id, so no id can name another path."""
        return self._settings.data_dir / "conductors" / hashlib.sha256(conductor_id.encode()).hexdigest()[:32]

    def start_sync(self) -> None:
        """First heartbeat and leader attempt, before the engine starts (a single conductor leads at once)."""
        with contextlib.suppress(OSError):
            self._marker(self.id).parent.mkdir(mode=0o700, exist_ok=True)
            self._marker(self.id).write_text(f"{self._settings.public_url}\n")
        self._store.heartbeat(self._row(), JOB_LEASE_S)
        self._peers = self.peers_alive()
        self._try_lead()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="cluster")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.leader and self.epoch is not None:
            with contextlib.suppress(StoreError):
                self._store.release_leader(self.id, self.epoch)
        self._set_follower("stopping")
        with contextlib.suppress(StoreError):
            self._store.forget_conductor(self.id)
        with contextlib.suppress(OSError):
            self._marker(self.id).unlink()

    def close(self) -> None:
        self._worker.shutdown(wait=False)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    # ---- the loop

    def _row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "address": self._settings.public_url,
            "version": __version__,
            "started": self.started,
            "instance": self.instance,
        }

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self.offload(self._store.heartbeat, self._row(), JOB_LEASE_S)
                self._peers = await self.offload(self.peers_alive)
                self.database_ok = True
            except StoreError as exc:
                self.database_ok = False
                log.warning("conductor heartbeat failed: %s", exc)
            lease = None
            try:
                lease = await self.offload(self._store.acquire_leader, self.id, self.epoch, LEADER_LEASE_S)
            except StoreError as exc:
                log.warning("leader lease renewal failed: %s", exc)
                if self.leader and time.monotonic() - self._renewed > LEADER_LEASE_S - STEP_DOWN_MARGIN_S:
                    self._set_follower("its lease could not be renewed")
                continue
            self._apply(lease)

    def _try_lead(self) -> None:
        self._apply(self._store.acquire_leader(self.id, self.epoch, LEADER_LEASE_S))

    def _apply(self, lease: Lease | None) -> None:
        if lease is None:
            if self.leader:
                self._set_follower("another conductor holds the lease")
            return
        self._renewed = time.monotonic()
        if lease.acquired or not self.leader:
            if self.leader:  # a new epoch while we thought we led: our old one is gone
                self._set_follower("its epoch was superseded")
            self.epoch = lease.epoch
            self.leader = True
            log.info("this conductor leads", extra=fields(conductor=self.id, epoch=lease.epoch))
            for callback in self.on_lead:
                try:
                    callback(lease)
                except Exception:
                    log.exception("starting the leader duties failed")

    def _set_follower(self, why: str) -> None:
        """Stop leading (the scheduler and the other leader duties check ``leading``)."""
        if not self.leader:
            return
        self.leader = False
        log.warning("this conductor stopped leading: %s", why, extra=fields(conductor=self.id, epoch=self.epoch))

    # ---- fencing

    @property
    def leading(self) -> bool:
        """This conductor holds the lease and renewed it recently enough to act on it."""
        return self.leader and time.monotonic() - self._renewed < LEADER_LEASE_S - STEP_DOWN_MARGIN_S

    def fence(self, w: StoreWriter) -> None:
        """First call in a leader-only transaction: raises ``NotLeader`` unless this conductor leads."""
        if not self.leading or self.epoch is None:
            raise NotLeader(f"conductor {self.id} does not lead")
        w.check_leader(self.id, self.epoch)

    # ---- the conductor list

    def conductors(self) -> list[dict[str, Any]]:
        """Live conductors (recent heartbeat), for the list endpoint."""
        now = time.time()
        lease = self._store.leader() or {}
        rows = []
        for row in self._store.conductors():
            age = now - float(row["heartbeat"])
            holder = lease.get("holder") == row["id"] and float(lease.get("expires") or 0) > now
            rows.append(
                {
                    "id": row["id"],
                    "address": row["address"],
                    "leader": holder,
                    "epoch": lease.get("epoch") if holder else None,
                    "heartbeat": row["heartbeat"],
                    "online": age < CONDUCTOR_TIMEOUT_S,
                    "started": row["started"],
                    "version": row["version"],
                    "self": row["id"] == self.id,
                    "files_shared": self._marker(row["id"]).exists(),
                }
            )
        return rows

    def live_ids(self) -> set[str]:
        now = time.time()
        return {r["id"] for r in self._store.conductors() if now - float(r["heartbeat"]) < CONDUCTOR_TIMEOUT_S}

    def peers_cached(self) -> bool:
        """``peers_alive`` as of the last heartbeat (no database read)."""
        return self._peers

    def peers_alive(self) -> bool:
        """Whether another conductor has a recent heartbeat (PostgreSQL only)."""
        return self.dialect == "postgresql" and bool(self.live_ids() - {self.id})
