"""What the event use cases need to know about jobs (the job engine of the next layer fills it).

``StoredJobIndex`` answers from the job table; the job engine replaces it with its in-memory
active set, keeping the same contract.
"""

from __future__ import annotations

from typing import Any, Protocol

from cronwright.store.base import ACTIVE_JOB_STATES, Store


class JobIndex(Protocol):
    def jobs_in_state(self, event_id: str, state: str) -> list[dict[str, Any]]: ...
    def count_in_states(self, event_id: str, states: tuple[str, ...]) -> int: ...
    def delete_history(self, event_id: str) -> int: ...


class StoredJobIndex:
    def __init__(self, store: Store) -> None:
        self._store = store

    def jobs_in_state(self, event_id: str, state: str) -> list[dict[str, Any]]:
        return self._store.event_jobs(event_id, (state,))

    def count_in_states(self, event_id: str, states: tuple[str, ...] = ACTIVE_JOB_STATES) -> int:
        return self._store.count_event_jobs(event_id, states)

    def delete_history(self, event_id: str) -> int:
        """Delete every completed job of the event (slow: call it off the event loop)."""
        return sum(len(batch) for batch in self._store.delete_event_jobs(event_id))
