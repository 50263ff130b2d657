"""Global state (supporting-apis.md §9): the scheduler switch and other operator flags.

The state is one JSON document; per-event state (catch-up cursor, counters) is stored per event
and shown under ``events`` when the state is read.
"""

from __future__ import annotations

import copy
from typing import Any

from cronwright.clock import Clock
from cronwright.engine import activity
from cronwright.engine.activity import Origin
from cronwright.engine.identity import Identity
from cronwright.engine.validation import RESERVED_WORDS
from cronwright.errors import api_error
from cronwright.store.base import Store

_PATH_PART = r"^\w+$"


class GlobalState:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._state: dict[str, Any] = store.get_kv("state") or {"scheduler": {"enabled": True}}

    def reload(self) -> None:
        """Re-read the state (another conductor changed it)."""
        self._state = self._store.get_kv("state") or {"scheduler": {"enabled": True}}

    @property
    def scheduler_enabled(self) -> bool:
        return bool((self._state.get("scheduler") or {}).get("enabled"))

    def snapshot(self, event_states: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {**copy.deepcopy(self._state), "events": event_states}

    def update(self, changes: dict[str, Any], who: Identity, origin: Origin) -> dict[str, Any]:
        who.require_admin()
        if not changes:
            raise api_error("No state changes given.")
        self.reload()  # another conductor may have changed it since
        state = copy.deepcopy(self._state)
        for path, value in changes.items():
            parts = path.split(".")
            if any(p in RESERVED_WORDS or p == "" for p in parts):
                raise api_error("Naughty key detected.")
            if parts[0] == "events":
                raise api_error("Event state is changed with update_event's update_state.")
            node = state
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    node[part] = {}
                node = node[part]
            node[parts[-1]] = value
        now = int(self._clock.now())
        with self._store.write() as w:
            w.set_kv("state", state)
            activity.record(
                w,
                "state_update",
                epoch=now,
                description="Global state updated",
                who=who,
                origin=origin,
                keywords=list(changes),
                params=changes,
            )
        self._state = state
        return state
