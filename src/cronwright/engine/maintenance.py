"""The daily retention pass: trims the job history (records, logs, output and input files) and the
activity log to their configured maxima, oldest first.

It runs once a day at ``retention_time`` (local time in the conductor's zone) and on demand
(``run_maintenance``). Work is done in small batches: each batch is one short transaction run on
a thread together with its file deletions, and the pass pauses between batches, so API requests
(including ones that write) wait at most one batch. Only stored final records are trimmed; running
jobs are never touched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from cronwright.clock import Clock
from cronwright.config import Settings
from cronwright.engine.jobs.rules import own_uploads
from cronwright.store.base import NotLeader, Store, StoreWriter

log = logging.getLogger("cronwright.maintenance")

#: records deleted per transaction: adapted between these so one transaction takes about
#: ``BATCH_TARGET_S`` (a writer waiting for the database's lock waits at most one batch)
BATCH_MIN, BATCH_START, BATCH_MAX = 10, 20, 200
BATCH_TARGET_S = 0.01
#: pause between two batches, seconds (lets the event loop and other writers in)
PAUSE_S = 0.02
#: how often the daily loop looks at the clock, seconds (so a changed clock is noticed)
POLL_S = 60.0


class JobFiles(Protocol):
    """Deletes what a job record leaves on disk (``LogStore`` + ``FileStore``)."""

    def delete_log(self, job_id: str) -> None: ...
    def delete_job_files(self, job: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Outcome:
    jobs: int = 0
    activity: int = 0
    #: the longest batch transaction, milliseconds: how long a writer could have waited for it
    longest_batch_ms: float = 0.0


def parse_time_of_day(text: str) -> tuple[int, int]:
    """``"HH:MM"`` → (hour, minute); raises ``ValueError``."""
    hour_text, _, minute_text = text.strip().partition(":")
    hour, minute = int(hour_text), int(minute_text or "0")
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"not a time of day: {text!r}")
    return hour, minute


def next_run(now: float, zone: ZoneInfo, at: tuple[int, int]) -> float:
    """The first ``at`` (local wall time in ``zone``) strictly after ``now``, as Unix seconds. On a
    day where that wall time does not exist (DST gap), the instant after the gap."""
    today = datetime.fromtimestamp(now, zone).date()
    for offset in range(0, 3):
        day = today + timedelta(days=offset)
        candidate = datetime(day.year, day.month, day.day, at[0], at[1], tzinfo=zone)
        if candidate.timestamp() > now:
            return candidate.timestamp()
    raise AssertionError("unreachable")  # pragma: no cover


class Maintenance:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        settings: Settings,
        files: JobFiles,
        zone: Callable[[], ZoneInfo],
        *,
        fence: Callable[[StoreWriter], None] | None = None,
    ) -> None:
        #: the leader's check (``Cluster.fence``): only the leader trims, and a former one cannot
        self._fence = fence
        self._fenced = True
        self._store = store
        self._clock = clock
        self._settings = settings
        self._files = files
        self._zone = zone
        self._lock = asyncio.Lock()

    async def run(self, *, fenced: bool = True) -> Outcome:
        """One whole pass (a pass already under way is waited for, then another runs). The daily
        pass is the leader's (``fenced``); one asked for through the API runs on any conductor (a
        trim is idempotent: two at once delete the same oldest records)."""
        async with self._lock:
            self._fenced = fenced
            started = time.monotonic()
            settings = self._settings
            max_age_s = settings.retention_max_age_days * 86400
            before = self._clock.now() - max_age_s if max_age_s > 0 else None
            jobs, jobs_longest_s = await self._trim(
                lambda size: self._jobs_batch(settings.retention_max_jobs, before, size)
            )
            activity, activity_longest_s = await self._trim(
                lambda size: self._activity_batch(settings.retention_max_activity, before, size)
            )
            longest_ms = round(max(jobs_longest_s, activity_longest_s) * 1000, 1)
            log.info(
                "maintenance: trimmed %d job record(s) with their logs and files and %d activity record(s) "
                "in %.1f s (longest batch %.1f ms)",
                jobs,
                activity,
                time.monotonic() - started,
                longest_ms,
            )
            return Outcome(jobs=jobs, activity=activity, longest_batch_ms=longest_ms)

    async def _trim(self, batch: Callable[[int], tuple[int, float]]) -> tuple[int, float]:
        """Run batches until one comes back short; each runs on a thread, with a pause between.
        Returns (records deleted, longest batch transaction in seconds)."""
        total, size, longest_s = 0, BATCH_START, 0.0
        while True:
            count, took_s = await asyncio.to_thread(batch, size)
            total += count
            longest_s = max(longest_s, took_s)
            if count < size:
                return total, longest_s
            size = next_batch_size(size, took_s)
            await asyncio.sleep(PAUSE_S)

    def _activity_batch(self, maximum: int, before: float | None, size: int) -> tuple[int, float]:
        started = time.monotonic()
        count = self._store.trim_activity(
            keep=_keep(maximum), epoch_before=before, batch=size, fence=self._fence if self._fenced else None
        )
        return count, time.monotonic() - started

    def _jobs_batch(self, max_jobs: int, before: float | None, size: int) -> tuple[int, float]:
        """One transaction (timed: it is what other writers wait for), then the files."""
        started = time.monotonic()
        deleted = self._store.trim_jobs(
            keep=_keep(max_jobs), completed_before=before, batch=size, fence=self._fence if self._fenced else None
        )
        took_s = time.monotonic() - started
        for job in deleted:
            try:
                self._files.delete_log(job["id"])
                self._files.delete_job_files(job)
            except OSError as exc:  # the record is gone; a leftover file must not stop the pass
                log.warning("maintenance: files of job %s not deleted: %s", job.get("id"), exc)
        return len(deleted), took_s

    async def loop(self) -> None:
        """Run the pass every day at ``retention_time`` in the conductor's zone (forever)."""
        at = parse_time_of_day(self._settings.retention_time)
        due = next_run(self._clock.now(), self._zone(), at)
        while True:
            await asyncio.sleep(max(0.0, min(POLL_S, due - self._clock.now())))
            if self._clock.now() < due:
                continue
            try:
                await self.run()
            except NotLeader:
                log.info("maintenance pass left to the leader")
            except Exception:
                log.exception("maintenance pass failed")
            due = next_run(self._clock.now(), self._zone(), at)


def next_batch_size(size: int, took_s: float) -> int:
    """Grow a batch that was quick, shrink one that was slow (bounded)."""
    if took_s < BATCH_TARGET_S / 2:
        return min(BATCH_MAX, size * 2)
    if took_s > BATCH_TARGET_S * 1.5:
        return max(BATCH_MIN, size // 2)
    return size


def _keep(maximum: int) -> int:
    """A maximum of 0 keeps everything."""
    return maximum if maximum > 0 else 1 << 62


class DiskFiles:
    """``JobFiles`` over the job engine's log store and file store."""

    def __init__(self, logs: Any, files: Any) -> None:
        self._logs = logs
        self._files = files

    def delete_log(self, job_id: str) -> None:
        self._logs.delete(job_id)

    def delete_job_files(self, job: dict[str, Any]) -> None:
        """Output files, and the files uploaded with the job's own request (as ``delete_job`` does;
        never a parent's outputs or an original's uploads: ``own_uploads``)."""
        self._files.delete_job_outputs(job["id"])
        for key in own_uploads(job):
            self._files.delete_key(key)
