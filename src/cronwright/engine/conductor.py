"""The conductor: every engine service wired together, with its background tasks.

``Conductor.open(settings)`` opens the store (migrating it), installs the fresh-install records on
first start, loads the catalog and registers the local server. ``start()`` / ``stop()`` run and
end the background tasks; ``stop()`` waits for background work (e.g. deleting a job history)
before closing the store, so nothing is cut off by a graceful shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from cronwright import __version__
from cronwright.clock import AdjustableClock, Clock, SystemClock
from cronwright.config import ConfigError, Settings
from cronwright.engine.actions.handlers import Handlers
from cronwright.engine.actions.runner import ActionRunner
from cronwright.engine.auth import Authenticator
from cronwright.engine.catalog import Catalog
from cronwright.engine.cluster import JOB_LEASE_S, Cluster
from cronwright.engine.datadir import prepare_data_dir
from cronwright.engine.entities import EntityService, Kind
from cronwright.engine.events import EventService
from cronwright.engine.fleet.hub import AgentHub
from cronwright.engine.fleet.presence import Presence
from cronwright.engine.fleet.tokens import InstallTokens
from cronwright.engine.jobs.engine import JobEngine
from cronwright.engine.jobs.jobfiles import JobFileRemover
from cronwright.engine.jobs.search import JobSearcher
from cronwright.engine.jobs.service import JobService
from cronwright.engine.kinds import GROUPS
from cronwright.engine.lookup import CatalogLookup
from cronwright.engine.magic import MagicLinks
from cronwright.engine.maintenance import DiskFiles, Maintenance
from cronwright.engine.runs import RunPreparer
from cronwright.engine.scheduler import Scheduler
from cronwright.engine.servers import ServerRegistry
from cronwright.engine.setup import FirstStart, ensure_installed
from cronwright.engine.state import GlobalState
from cronwright.engine.users import UserService
from cronwright.engine.validation import validate_actions, validate_limits
from cronwright.engine.webhook_test import WebHookTester
from cronwright.errors import CwError
from cronwright.logs import fields
from cronwright.metrics import Metrics
from cronwright.store.base import DEFINITION_KINDS, Store, StoreError
from cronwright.store.sql.store import SqlStore
from cronwright.store.sql.timing import time_statements

log = logging.getLogger("cronwright")


def check_universal(settings: Settings, catalog: Catalog) -> None:
    """Refuse to start with malformed universal limits or actions (the message names the entry)."""
    for kind, table, validate in (
        ("job_universal_limits", settings.job_universal_limits, lambda items: validate_limits(items)),
        (
            "job_universal_actions",
            settings.job_universal_actions,
            lambda items: validate_actions(items, lookup=CatalogLookup(catalog)),
        ),
    ):
        for key, items in table.items():
            try:
                validate(items)
            except CwError as exc:
                raise ConfigError(f"Invalid {kind}.{key}: {exc.description}") from None


class Conductor:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock | None = None,
        environ: dict[str, str] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        #: this conductor among those sharing the database (identity, heartbeat, leader lease)
        self.cluster = Cluster(store, settings, getattr(store, "dialect", "memory"))
        self.cluster.claim()
        #: this conductor's Prometheus metrics (its own registry; served by ``/metrics``)
        self.metrics = metrics or Metrics()
        if isinstance(store, SqlStore):
            time_statements(store.engine, self.metrics.db_statement)
        self.clock = clock or (
            AdjustableClock(settings.clock_start or None)
            if settings.clock_start or settings.test_api
            else SystemClock()
        )
        self.first_start: FirstStart | None = ensure_installed(
            store, self.clock.now(), dict(os.environ if environ is None else environ)
        )
        self.secret_key: str = store.get_kv("secret_key") or ""
        self.catalog = Catalog(store)
        check_universal(settings, self.catalog)
        self.auth = Authenticator(self.catalog, store, self.clock, settings.session_ttl_s)
        self.servers = ServerRegistry(self.catalog, self.clock, local_worker=settings.local_worker)
        self.servers.register_local()
        self.jobs = JobEngine(self.catalog, store, self.clock, settings, self.servers, metrics=self.metrics)
        self.jobs.conductor_id = self.cluster.id
        self.jobs.job_lease_s = JOB_LEASE_S
        self.jobs.leading = lambda: self.cluster.leading
        self.jobs.peers = self.cluster.peers_cached
        self.jobs.offload = self.cluster.offload
        self.metrics.watch_active_jobs(lambda: self.jobs.active.values())
        #: the fleet (docs/fleet.md): install tokens, and the agents' sockets the engine dispatches to
        self.install_tokens = InstallTokens(store, self.clock)
        self.hub = AgentHub(self.jobs, self.servers, store, self.secret_key, self.conductor_urls)
        self.jobs.remote_worker = self.hub.worker
        self.servers.on_remove = self.hub.close_server
        self.servers.on_groups = self.hub.send_groups
        self.servers.job_counts = self.jobs.jobs_per_server
        #: which conductor holds which server, shared with the others (PostgreSQL only)
        self.presence: Presence | None = None
        if getattr(store, "dialect", None) == "postgresql":
            self.presence = Presence(store, self.catalog, self.servers, self.cluster.id, self.cluster.live_ids)
            self.servers.on_change = self.presence.changed
        self.permits = self.jobs.permits
        self.events = EventService(
            self.catalog,
            self.jobs,
            self.clock,
            self.run_in_background,
            self.permits,
            max_script_bytes=settings.max_script_bytes,
        )
        self.jobs.apply_event_changes = self.events.apply_job_changes
        self.entities = EntityService(self.catalog, self.clock, on_change=self._entity_changed, permits=self.permits)
        self.runs = RunPreparer(self.catalog, self.permits)
        self.users = UserService(self.catalog, self.auth, self.clock, settings)
        self.state = GlobalState(store, self.clock)
        self.job_service = JobService(self.jobs, store, self.catalog, self.clock, self.secret_key)
        self.job_files = JobFileRemover(self.jobs, store, self.clock)
        self.magic = MagicLinks(
            self.catalog,
            self.permits,
            per_ip=settings.magic_max_per_min_ip,
            per_link=settings.magic_max_per_min_link,
        )
        self.scheduler = Scheduler(
            self.catalog, store, self.clock, settings, self.jobs, self.state, self.cluster, metrics=self.metrics
        )
        self.jobs.zone = ZoneInfo(self.scheduler.default_tz)
        self.action_handlers = Handlers(
            self.catalog,
            store,
            self.clock,
            settings,
            token=self.job_service.token,
            launch=self.jobs.launch,
            note=self.jobs.launcher.note,
            zone=self.jobs.zone,
        )
        self.jobs.actions = ActionRunner(self.action_handlers, metrics=self.metrics)
        self.web_hook_tester = WebHookTester(settings, self.clock)
        self.job_search = JobSearcher(store, self.clock, lambda: self.jobs.zone)
        files = DiskFiles(self.jobs.logs, self.jobs.files)
        self.maintenance = Maintenance(
            store, self.clock, settings, files, lambda: self.jobs.zone, fence=self.cluster.fence
        )
        if isinstance(self.clock, AdjustableClock):
            self.clock.on_change(self.scheduler.wake)
            self.clock.on_change(self.jobs.kick)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[Any]] = []
        #: started and not stopping (``/health`` answers 200)
        self.serving = False
        #: the other conductors' changes (PostgreSQL: LISTEN/NOTIFY; SQLite has no other conductor)
        self._feed = store.watch(self._feed_change, self._feed_connected)
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def open(cls, settings: Settings, clock: Clock | None = None) -> Conductor:
        """Prepare the data directory (private: see ``engine.datadir``), open the store and wire everything."""
        prepare_data_dir(settings)
        store = SqlStore.open(settings.database_url)
        try:
            return cls(settings, store, clock)
        except BaseException:
            store.close()
            raise

    @property
    def leading(self) -> bool:
        return self.cluster.leading

    def _entity_changed(self, kind: Kind) -> None:
        if kind is GROUPS:
            self.servers.recompute_groups()

    # background work

    def run_in_background(self, name: str, work: Callable[[], Any]) -> None:
        """Run blocking ``work`` on a thread; ``stop()`` waits for it."""

        async def runner() -> None:
            try:
                result = await asyncio.to_thread(work)
                log.info("background: %s done (%s)", name, result)
            except Exception:
                log.exception("background: %s failed", name)

        task = asyncio.get_running_loop().create_task(runner(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # the change feed (store/sql/feed.py): called on its thread, applied on the event loop

    def _feed_change(self, change: dict[str, Any]) -> None:
        if self._loop is not None and change.get("o") != self.cluster.id:
            self._loop.call_soon_threadsafe(self._apply_change, change)

    def _feed_connected(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._catch_up)

    def _apply_change(self, change: dict[str, Any]) -> None:
        kind, doc_id = change.get("k"), change.get("id")
        if not isinstance(kind, str) or not isinstance(doc_id, str):
            return
        try:
            if kind in DEFINITION_KINDS:
                before = self.catalog[kind].get(doc_id) if kind == "servers" else None
                self.catalog.refresh(kind, doc_id)
                if kind == GROUPS.kind:
                    self.servers.recompute_groups()
                elif kind == "servers":
                    self.servers.refreshed(doc_id, before)
            elif kind == "control":
                if doc_id in self.jobs.active or change.get("to") == self.cluster.id:
                    self.run_soon(self.jobs.control.apply(), "job requests")
            elif kind == "presence" and self.presence is not None:
                self.presence.announced(doc_id)
            elif kind == "server_revoked" and self.presence is not None:
                self.presence.revoked_elsewhere()
            elif kind == "kv" and doc_id == "state":
                self.state.reload()
                self.scheduler.wake()
        except StoreError as exc:  # the next catch-up re-reads everything
            log.warning("applying a change from another conductor failed: %s", exc)

    def _catch_up(self) -> None:
        """Re-read everything cached (after the feed (re)connected: announcements may be lost)."""
        try:
            for kind in DEFINITION_KINDS:
                self.catalog.reload(kind)
            self.servers.recompute_groups()
            self.state.reload()
        except StoreError as exc:
            log.warning("catching up with the other conductors failed: %s", exc)

    def run_soon(self, coro: Any, name: str) -> None:
        """Run a coroutine on the event loop; ``stop()`` waits for it."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._feed is not None:
            self._feed.start()
        await asyncio.to_thread(self.cluster.start_sync)
        await self.jobs.start()
        await self.scheduler.start()
        await self.cluster.start()
        self._loops.append(
            asyncio.create_task(self._every(self.settings.server_info_interval_s, self.servers.refresh_info))
        )
        self._loops.append(asyncio.create_task(self._every(3600, self._purge_sessions)))
        if self.presence is not None:
            self._loops.append(asyncio.create_task(self.presence.loop()))
        self._loops.append(asyncio.create_task(self.maintenance.loop()))
        self.serving = True
        log.info(
            "conductor started",
            extra=fields(
                version=__version__,
                url=self.settings.public_url,
                database=self.store.dialect if isinstance(self.store, SqlStore) else None,
                conductor=self.cluster.id,
                leader=self.cluster.leading,
                active_jobs=len(self.jobs.active),
            ),
        )

    def conductor_urls(self) -> list[str]:
        """The base URLs of the live conductors, this one first (what agents may connect to)."""
        urls = [self.settings.public_url]
        try:
            rows = self.cluster.conductors()
        except StoreError:
            return urls
        urls.extend(r["address"] for r in rows if r["online"] and not r["self"] and r["address"] not in urls)
        return urls

    async def _every(self, interval_s: float, work: Callable[[], Any]) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await asyncio.to_thread(work)
            except Exception:
                log.exception("periodic task failed")

    def _purge_sessions(self) -> None:
        self.store.purge_sessions(self.clock.now())

    async def stop(self) -> None:
        self.serving = False
        log.info("conductor stopping", extra=fields(active_jobs=len(self.jobs.active)))
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.presence is not None:
            await asyncio.to_thread(self.presence.withdraw)
        await self.scheduler.stop()
        await self.jobs.stop()
        await self.cluster.stop()
        if self._feed is not None:
            await asyncio.to_thread(self._feed.stop)
        await self.action_handlers.close()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self.users.passwords.close()
        self.close()
        log.info("conductor stopped")

    def close(self) -> None:
        self.cluster.close()
        self.store.close()
