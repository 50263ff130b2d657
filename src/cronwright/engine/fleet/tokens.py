"""Install tokens (servers-agents.md §4.2): 64 hex characters that enrol servers until they expire.

Cronwright keeps them in global state, keyed by the token's sha256 (the plain token is shown once,
to its creator), so they work through every conductor and survive restarts. A token is reusable
until it expires: every ``satellite/config`` call with it mints another server.
"""

from __future__ import annotations

import secrets
from typing import Any

from cronwright.agent.protocol import sha256_hex
from cronwright.clock import Clock
from cronwright.store.base import Store

PREFIX = "satellite_token:"
DEFAULT_EXPIRES_S = 86400
#: the longest lifetime a token may be given (one year)
MAX_EXPIRES_S = 366 * 86400


class InstallTokens:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def create(self, metadata: dict[str, Any], expires_s: float, creator: str) -> tuple[str, float]:
        """A new token and when it expires; ``metadata`` lands on every server it enrols."""
        token = secrets.token_hex(32)
        expires = self._clock.now() + expires_s
        with self._store.write() as w:
            w.set_kv(PREFIX + sha256_hex(token), {"expires": expires, "params": metadata, "username": creator})
        return token, expires

    def metadata(self, token: str) -> dict[str, Any] | None:
        """The metadata of a live token, None for an unknown or expired one."""
        if not isinstance(token, str) or len(token) != 64:
            return None
        record = self._store.get_kv(PREFIX + sha256_hex(token))
        if not isinstance(record, dict) or float(record.get("expires") or 0) <= self._clock.now():
            return None
        params = record.get("params")
        return dict(params) if isinstance(params, dict) else {}

    def prune(self) -> int:
        """Remove expired tokens; how many went."""
        now = self._clock.now()
        expired = [
            key
            for key, record in self._store.kv_with_prefix(PREFIX).items()
            if not isinstance(record, dict) or float(record.get("expires") or 0) <= now
        ]
        if expired:
            with self._store.write() as w:
                for key in expired:
                    w.delete_kv(key)
        return len(expired)
