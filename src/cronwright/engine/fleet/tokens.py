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
#: how much of a token's sha256 names it (``get_satellite_tokens``, ``delete_satellite_token``)
ID_CHARS = 16
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
            w.set_kv(
                PREFIX + sha256_hex(token),
                {"expires": expires, "params": metadata, "username": creator, "created": self._clock.now()},
            )
        return token, expires

    def listing(self, username: str | None) -> list[dict[str, Any]]:
        """The live tokens (of ``username`` only, unless None), newest first, each with its ``id``
        (the first 16 hex digits of the token's sha256: enough to revoke it, useless to enrol)."""
        now = self._clock.now()
        rows: list[dict[str, Any]] = []
        for key, record in self._store.kv_with_prefix(PREFIX).items():
            if not isinstance(record, dict) or float(record.get("expires") or 0) <= now:
                continue
            if username is not None and record.get("username") != username:
                continue
            rows.append(
                {
                    "id": key[len(PREFIX) : len(PREFIX) + ID_CHARS],
                    "username": record.get("username"),
                    "created": int(record.get("created") or 0),
                    "expires": int(float(record.get("expires") or 0)),
                    "params": record.get("params") if isinstance(record.get("params"), dict) else {},
                }
            )
        rows.sort(key=lambda row: row["created"], reverse=True)
        return rows

    def revoke(self, token_id: str, username: str | None) -> bool:
        """Remove the token whose ``id`` this is (only ``username``'s, unless None); False when none."""
        if not isinstance(token_id, str) or len(token_id) != ID_CHARS:
            return False
        for key, record in self._store.kv_with_prefix(PREFIX + token_id.lower()).items():
            if username is not None and (not isinstance(record, dict) or record.get("username") != username):
                continue
            with self._store.write() as w:
                w.delete_kv(key)
            return True
        return False

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
