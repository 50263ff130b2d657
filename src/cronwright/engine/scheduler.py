"""The scheduler loop (triggers.md §3, §6, §7): once a minute, decide which events fire and launch
them through the job engine — exactly once.

The loop only fetches, asks the pure trigger maths (``cronwright.triggers``) and persists:

- Every launch writes its fire row (event, instant, trigger) in the same transaction as the job;
  a fire already recorded (a tick replayed after a crash, a second conductor on the same
  PostgreSQL database) launches nothing.
- Catch-up events keep a cursor (the last minute processed, in the event state); after downtime
  every missed minute is evaluated in order and its fires run. A launch refused by the
  per-minute brake stops the replay; the rest follows on the next tick, so none is lost.
- Events without catch-up evaluate only the current minute; fires they missed while the
  scheduler was not running are recorded as ``skipped`` with the reason.
- The global switch (``scheduler.enabled``), disabled events, disabled or missing categories and
  disabled plugins are honoured; their cursors do not move.
- Only the leader ticks (engine/cluster.py). Every write of a tick (fire rows with their jobs,
  cursors, the last minute) first checks the leader's epoch in its transaction (``Cluster.fence``),
  so a conductor that lost the lease cannot fire. A new leader continues from the stored last
  minute: catch-up events replay what fell due meanwhile, the others record it as skipped.
- Startup triggers fire when a young conductor (up for less than ``min_startup_trigger_uptime``)
  takes the lease at a cold start (no earlier leader, its own earlier process, or a leader gone for
  longer than that), once per event and start: through the fire ledger, fenced like the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from cronwright.clock import Clock
from cronwright.config import Settings
from cronwright.engine.catalog import Catalog
from cronwright.engine.cluster import Cluster
from cronwright.engine.jobs.engine import JobEngine
from cronwright.engine.jobs.launch import LaunchError
from cronwright.engine.jobs.rules import event_request
from cronwright.engine.scheduler_plugins import SchedulerPlugins
from cronwright.engine.state import GlobalState
from cronwright.logs import fields
from cronwright.metrics import Metrics
from cronwright.store.base import DuplicateId, Lease, NotLeader, Store, StoreError, StoreWriter
from cronwright.triggers import CompiledTriggers, Fire, ZoneCache, compile_triggers

log = logging.getLogger("cronwright.scheduler")

#: events processed between two yields to the event loop during a long catch-up
_BATCH = 200
#: at most this many missed fires are recorded per event after one downtime
MAX_MISSED_PER_EVENT = 1000
MISSED_REASON = "Missed: Cronwright's scheduler was not running at this time, and the event has no catch-up trigger."


@dataclass
class _Compiled:
    revision: Any
    modified: Any
    triggers: CompiledTriggers


def launch_request(event: dict[str, Any], fire: Fire, source: str = "scheduler") -> dict[str, Any]:
    """The job request of a scheduled fire (triggers.md §3 step 5.7)."""
    request = event_request(event)
    request["now"] = fire.at
    request["source"] = source
    if fire.stype:
        request["stype"] = fire.stype
    params = dict(event.get("params") or {})
    params.update(fire.params or {})
    request["params"] = params
    if fire.tags:
        request["tags"] = list(event.get("tags") or []) + [t for t in fire.tags if t not in (event.get("tags") or [])]
    if fire.data is not None:
        data = {"items": fire.data} if isinstance(fire.data, list) else dict(fire.data)
        request["input"] = {**(event.get("input") or {}), "data": data}
    if fire.until is not None:
        request["state"], request["until"] = "start_delay", fire.until
    if fire.invisible:
        request["invisible"] = True
    if fire.ephemeral:
        request["ephemeral"] = True
    return request


class Scheduler:
    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        clock: Clock,
        settings: Settings,
        jobs: JobEngine,
        state: GlobalState,
        cluster: Cluster,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self._catalog = catalog
        self._metrics = metrics or Metrics()
        self._store = store
        self._clock = clock
        self._settings = settings
        self._jobs = jobs
        self._state = state
        self.default_tz = settings.tz or _local_zone()
        self._compiled: dict[str, _Compiled] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last: int | None = (store.get_kv("scheduler") or {}).get("last_minute")
        self.plugins = SchedulerPlugins(catalog, settings, self._launch_gated)
        self._started_at = time.monotonic()
        self.last_tick_s = 0.0
        self._cluster = cluster
        #: set when this conductor took the lease (with the second it did): re-read the last minute,
        #: maybe run startup triggers
        self._took_lease: tuple[Lease, int] | None = None
        cluster.on_lead.append(self._on_lead)

    # ---- lifecycle

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="scheduler")

    def _on_lead(self, lease: Lease) -> None:
        self._took_lease = (lease, int(self._clock.now()))
        self._wake.set()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.plugins.stop()

    def wake(self) -> None:
        """Re-evaluate now (the clock was moved, or the switch flipped)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            minute = int(self._clock.now() // 60) * 60
            if not self._cluster.leading:
                delay = 1.0  # a follower: look again soon (and at once when it takes the lease)
            else:
                await self._lead_started()
                if self._last is None or minute > self._last:
                    try:
                        await self.tick(minute)
                    except NotLeader as exc:
                        log.warning("scheduler tick for minute %s stopped: %s", minute, exc)
                    except Exception:
                        log.exception("scheduler tick for minute %s failed", minute)
                delay = minute + 60 - self._clock.now()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, delay) + 0.002)

    async def _lead_started(self) -> None:
        took, self._took_lease = self._took_lease, None
        if took is None:
            return
        lease, at = took
        try:
            stored = await asyncio.to_thread(self._store.get_kv, "scheduler")
            self._last = (stored or {}).get("last_minute", self._last)
            if self._cold_start(lease):
                self._run_startup_triggers(at)
        except StoreError as exc:
            log.warning("taking over the scheduler failed (retrying): %s", exc)
            self._took_lease = took

    def _cold_start(self, lease: Lease) -> bool:
        """Startup triggers belong to a start of the cluster, not to a fail-over."""
        if time.monotonic() - self._started_at > self._settings.min_startup_trigger_uptime_s:
            return False
        previous = lease.previous_holder
        if previous is None or previous == self._cluster.id:
            return True
        gone_for = time.time() - float(lease.previous_expires or 0)
        return gone_for > self._settings.min_startup_trigger_uptime_s and previous not in self._cluster.live_ids()

    def _fence(self, w: StoreWriter) -> None:
        self._cluster.fence(w)

    # ---- one tick

    def compiled(self, event: dict[str, Any]) -> CompiledTriggers:
        cached = self._compiled.get(event["id"])
        if cached is None or cached.revision != event.get("revision") or cached.modified != event.get("modified"):
            cached = _Compiled(
                event.get("revision"),
                event.get("modified"),
                compile_triggers(event.get("triggers") or [], self.default_tz),
            )
            self._compiled[event["id"]] = cached
        return cached.triggers

    def eligible(self, event: dict[str, Any]) -> bool:
        if not event.get("enabled"):
            return False
        category = self._catalog["categories"].get(event.get("category"))
        if category is None or not category.get("enabled"):
            return False
        plugin = self._catalog["plugins"].get(event.get("plugin"))
        return not (plugin is not None and not plugin.get("enabled"))

    async def tick(self, now_minute: int) -> None:
        started = time.process_time()
        if not self._state.scheduler_enabled:
            self._save_last(now_minute)
            return
        last = self._last if self._last is not None else now_minute - 60
        zones = ZoneCache()
        events = [e for e in self._catalog["events"].values() if self.eligible(e)]
        self._compiled = {k: v for k, v in self._compiled.items() if k in self._catalog["events"]}
        for start in range(0, len(events), _BATCH):
            batch = events[start : start + _BATCH]
            states = self._states_for(batch)
            changes: dict[str, dict[str, Any]] = {}
            for event in batch:
                if event["id"] not in self._catalog["events"]:
                    continue  # deleted while we yielded
                compiled = self.compiled(event)
                if not compiled.launching:
                    continue
                state = states.get(event["id"], {})
                try:
                    change = self._process(event, compiled, state, last, now_minute, zones)
                except Exception:  # one event's trouble must not stop the others' launches
                    log.exception("scheduling event %s at %s failed", event["id"], now_minute)
                    continue
                if change:
                    changes[event["id"]] = change
            self._save_states(changes)
            await asyncio.sleep(0)
        self.plugins.run_pending()
        self._save_last(now_minute)
        self.last_tick_s = time.process_time() - started
        log.debug(
            "scheduler tick", extra=fields(minute=now_minute, events=len(events), cpu_s=round(self.last_tick_s, 4))
        )

    def _process(
        self,
        event: dict[str, Any],
        compiled: CompiledTriggers,
        state: dict[str, Any],
        last: int,
        now_minute: int,
        zones: ZoneCache,
    ) -> dict[str, Any]:
        nth = int(state.get("nth") or 0)
        if compiled.catchup:
            cursor = state.get("cursor")
            cursor = int(cursor // 60 * 60) if isinstance(cursor, (int, float)) and cursor else now_minute - 60
            minute = cursor + 60
        else:
            if now_minute - last > 60:
                self._record_missed(event, compiled, last, now_minute, nth, zones)
            minute = now_minute
        processed = minute - 60
        while minute <= now_minute:
            result = compiled.evaluate(minute, nth, zones)
            braked = False
            for fire in result.fires:
                if fire.plugin_gate:
                    self._metrics.fire("deferred")
                    log.debug("fire deferred to a scheduler plugin", extra=_fire_fields(event, fire))
                    self.plugins.defer(event, fire)
                elif not self._launch(event, fire, round_=int(state.get("round") or 0)):
                    braked = True
                    break
            if braked:
                break  # the brake refused: this minute (and the rest) is replayed next tick
            nth = result.nth
            processed = minute
            minute += 60
        change: dict[str, Any] = {}
        if compiled.catchup and processed != state.get("cursor"):
            change["cursor"] = processed
        if nth != int(state.get("nth") or 0):
            change["nth"] = nth
        return change

    def _launch(self, event: dict[str, Any], fire: Fire, source: str = "scheduler", round_: int = 0) -> bool:
        """Launch one fire; False when the launch brake or the database refused it (retry later)."""
        ledger = {"event_id": event["id"], "at": fire.at, "trigger": fire.trigger_index, "round": round_}
        try:
            jobs = self._jobs.launch(launch_request(event, fire, source), fire=ledger, fence=self._fence)
        except NotLeader:
            raise  # the tick ends: another conductor leads now
        except DuplicateId:
            self._metrics.fire("duplicate")
            log.debug("fire already launched", extra=_fire_fields(event, fire))
            return True  # already launched (replayed tick or another conductor)
        except StoreError as exc:
            self._metrics.fire("postponed")
            log.warning(
                "scheduled launch of %s postponed: %s",
                event["id"],
                exc,
                extra=_fire_fields(event, fire, reason="database"),
            )
            return False
        except LaunchError as exc:
            if str(exc).startswith("Global jobs per minute limit"):
                self._metrics.fire("postponed")
                log.info("fire postponed", extra=_fire_fields(event, fire, reason=str(exc)))
                return False
            self._record(ledger, "failed", str(exc))
            self._metrics.fire("failed")
            log.warning(
                "scheduled launch of %s failed: %s", event["id"], exc, extra=_fire_fields(event, fire, reason=str(exc))
            )
            return True
        lateness_s = self._clock.now() - fire.at
        self._metrics.fire("launched", lateness_s)
        log.debug(
            "fire launched",
            extra=_fire_fields(event, fire, job_id=jobs[0]["id"] if jobs else None, lateness_s=round(lateness_s, 3)),
        )
        return True

    def _launch_gated(self, event: dict[str, Any], fire: Fire) -> None:
        self._launch(event, fire, source="plugin")

    def _record_missed(
        self, event: dict[str, Any], compiled: CompiledTriggers, last: int, now_minute: int, nth: int, zones: ZoneCache
    ) -> None:
        horizon = math.ceil((now_minute - last) / 86400) + 1
        missed = compiled.forecast(
            last + 59.5, MAX_MISSED_PER_EVENT, nth, zones, horizon_days=horizon, include_suppressed=False
        )
        skipped = [f for f in missed if isinstance(f, Fire) and f.minute < now_minute]
        for fire in skipped:
            ledger = {"event_id": event["id"], "at": fire.at, "trigger": fire.trigger_index, "round": 0}
            self._record(ledger, "skipped", MISSED_REASON)
            self._metrics.fire("skipped")
        if skipped:  # one line per event and downtime, however many fires it missed
            log.info(
                "fires skipped",
                extra=fields(
                    event=event["id"],
                    count=len(skipped),
                    first_at=skipped[0].at,
                    last_at=skipped[-1].at,
                    reason="missed",
                    description=MISSED_REASON,
                ),
            )

    def _record(self, ledger: dict[str, Any], status: str, reason: str) -> None:
        try:
            with self._store.write() as w:
                self._fence(w)
                w.record_fire(
                    {**ledger, "status": status, "job_id": None, "reason": reason, "recorded": self._clock.now()}
                )
        except DuplicateId:
            pass

    # ---- state

    def _states_for(self, events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        wanted = []
        for event in events:
            compiled = self.compiled(event)
            if compiled.launching and (compiled.catchup or compiled.nth_every):  # the rest need no state
                wanted.append(event["id"])
        return self._store.event_states(wanted) if wanted else {}

    def _save_states(self, changes: dict[str, dict[str, Any]]) -> None:
        if not changes:
            return
        fresh = self._store.event_states(list(changes))
        with self._store.write() as w:
            self._fence(w)
            for event_id, change in changes.items():
                if event_id in self._catalog["events"]:
                    w.set_event_state(event_id, {**fresh.get(event_id, {}), **change})

    def _save_last(self, minute: int) -> None:
        with self._store.write() as w:
            self._fence(w)
            w.set_kv("scheduler", {"last_minute": minute})
        self._last = minute

    # ---- startup triggers

    def _run_startup_triggers(self, at: int) -> None:
        """Launch every startup trigger, each through the ledger as a fire at ``at`` (the second
        this conductor took the lease), so a retried take-over launches none twice."""
        if not self._state.scheduler_enabled:
            return
        now = float(at)
        for event in self._catalog["events"].values():
            if not self.eligible(event):
                continue
            trigger = self.compiled(event).startup
            if trigger is None:
                continue
            fire = Fire(
                trigger_index=-1,
                stype="startup",
                minute=int(now // 60 * 60),
                at=int(now),
                until=None,
                params=dict(trigger.get("params") or {}),
                tags=list(trigger.get("tags") or []),
                data=trigger.get("data"),
                invisible=False,
                ephemeral=False,
                plugin_gate=None,
                dst=None,
                key=f"startup:{int(now)}",
            )
            ledger = {"event_id": event["id"], "at": at, "trigger": -1, "round": 0}
            try:
                self._jobs.launch(launch_request(event, fire, source="startup"), fire=ledger, fence=self._fence)
            except DuplicateId:
                pass
            except (LaunchError, StoreError) as exc:
                log.warning("startup launch of %s failed: %s", event["id"], exc)


def _fire_fields(event: dict[str, Any], fire: Fire, **more: Any) -> dict[str, Any]:
    """``extra`` of a fire's log line: the event, the fire's time and trigger, and ``more``."""
    return fields(event=event["id"], at=fire.at, trigger=fire.trigger_index, stype=fire.stype or None, **more)


def _local_zone() -> str:
    """The host's IANA zone name, or UTC when it cannot be told."""
    try:
        from pathlib import Path

        link = Path("/etc/localtime").resolve()
        if "zoneinfo/" in str(link):
            return str(link).split("zoneinfo/", 1)[1]
    except OSError:
        pass
    import os

    return os.environ.get("TZ") or "UTC"
