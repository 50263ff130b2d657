"""What the event use cases need to know about jobs; the job engine's active set answers it."""

from __future__ import annotations

from typing import Any, Protocol


class JobIndex(Protocol):
    def jobs_in_state(self, event_id: str, state: str) -> list[dict[str, Any]]: ...
    def count_in_states(self, event_id: str, states: tuple[str, ...]) -> int: ...
    def delete_history(self, event_id: str) -> int: ...
