"""The live jobs' records: written at once (state transitions) or by the next flush (progress).

A write that another conductor's adoption made stale raises ``LostJob`` in the store; the engine is
told (``on_lost``) and writes nothing more about that job. A write the database refuses for now is
retried by the monitor's next ``flush``; it never fails the running job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from cronwright.store.base import LostJob, Store, StoreError

log = logging.getLogger("cronwright.jobs")


class JobRecords:
    def __init__(
        self, store: Store, active: dict[str, dict[str, Any]], on_lost: Callable[[dict[str, Any]], None]
    ) -> None:
        self._store = store
        self._active = active
        self._on_lost = on_lost
        self._dirty: set[str] = set()

    @property
    def pending(self) -> int:
        """How many jobs have progress not stored yet."""
        return len(self._dirty)

    def persist(self, job: dict[str, Any]) -> None:
        """Store the job's record now; raises ``StoreError`` (transient failures were retried)."""
        try:
            self._store.transact(lambda w: w.put_job(job))
        except LostJob:
            self._on_lost(job)
            raise
        self._dirty.discard(job["id"])

    def try_persist(self, job: dict[str, Any]) -> bool:
        """Store the job's record now, or leave it to the monitor's next flush (False)."""
        try:
            self.persist(job)
        except LostJob:
            return False
        except StoreError as exc:
            log.warning("job %s not stored yet (%s); retrying on the next pass", job["id"], exc)
            self._dirty.add(job["id"])
            return False
        return True

    def mark_dirty(self, job_id: str) -> None:
        """The job's progress changed: store it with the next flush."""
        self._dirty.add(job_id)

    def forget(self, job_id: str) -> None:
        """The job's record is stored by someone else now (finished, queued, lost)."""
        self._dirty.discard(job_id)

    def flush(self) -> bool:
        """Write the progress of running jobs in one transaction. False when the database refused:
        the jobs stay dirty for the next pass."""
        ids = [j for j in self._dirty if j in self._active]
        self._dirty.clear()
        if not ids:
            return True
        dirty = [self._active[j] for j in ids]

        def put_all(w: Any) -> None:
            for job in dirty:
                w.put_job(job)

        try:
            self._store.transact(put_all)
        except LostJob:  # one of them was adopted elsewhere: store them one by one
            return all([self.try_persist(job) or job.get("lost", False) for job in dirty])
        except StoreError as exc:
            log.warning("progress of %d job(s) not stored (%s); retrying on the next pass", len(ids), exc)
            self._dirty.update(ids)
            return False
        return True
