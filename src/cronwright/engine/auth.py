"""Credentials: API keys (hashed), user passwords (Argon2id) and sessions.

API keys are stored as ``sha256_hex(plain + id)`` (the xyOps format, so imported keys keep
working). Matching a plain key needs one hash per stored key; a memo of ``sha256(plain) → id``
(kept in memory only) makes repeat calls one dictionary lookup, and every hit is re-checked
against the stored record, so a disabled, expired or deleted key stops working at once.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cronwright.clock import Clock
from cronwright.engine.catalog import Catalog
from cronwright.engine.identity import Identity
from cronwright.engine.validation import sha256_hex
from cronwright.errors import Forbidden, RateLimited
from cronwright.store.base import Store

_hasher = PasswordHasher()
KEY_RELOAD_INTERVAL_S = 1.0


def hash_api_key(plain: str, key_id: str) -> str:
    return sha256_hex(plain + key_id)


def new_plain_key() -> str:
    """32 random bytes, URL-safe base64 without padding (43 characters)."""
    return secrets.token_urlsafe(32)


def mask_key(plain: str) -> str:
    return plain[:4] + "********" + plain[-4:]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> tuple[bool, str | None]:
    """Check a password; returns (ok, new hash to store when the old one should be upgraded)."""
    if not isinstance(stored_hash, str) or not stored_hash:
        return False, None
    if stored_hash.startswith(("$2a$", "$2b$", "$2y$")):  # bcrypt, imported from xyOps/Cronicle
        try:
            ok = bcrypt.checkpw(password.encode(), stored_hash.encode())
        except ValueError:
            return False, None
        return ok, hash_password(password) if ok else None
    try:
        _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False, None
    return True, hash_password(password) if _hasher.check_needs_rehash(stored_hash) else None


def _session_error(message: str) -> Forbidden:
    return Forbidden("session", message)


class Authenticator:
    """Turns request credentials into an ``Identity`` (or a ``session``/``rate`` error)."""

    def __init__(self, catalog: Catalog, store: Store, clock: Clock, session_ttl_s: float) -> None:
        self._catalog = catalog
        self._store = store
        self._clock = clock
        self._session_ttl_s = session_ttl_s
        self._key_memo: dict[str, str] = {}
        self._keys_reloaded = 0.0
        self._rate: dict[str, tuple[int, int]] = {}
        self._sessions: dict[str, dict[str, Any]] = {}

    def authenticate(self, session_id: str | None, api_key: str | None) -> Identity:
        if session_id:
            return self._from_session(session_id)
        if api_key:
            return self._from_api_key(api_key)
        raise _session_error("No Session ID or API Key could be found")

    # API keys

    def _from_api_key(self, plain: str) -> Identity:
        now = self._clock.now()
        key = self._find_key(plain, now)
        if key is None:
            raise _session_error("Invalid API Key")
        self._check_rate(key, now)
        return Identity.from_record("key", key, self._catalog["roles"])

    def _usable(self, key: dict[str, Any] | None, now: float) -> bool:
        if not key or not key.get("active"):
            return False
        expires = key.get("expires")
        return not (isinstance(expires, (int, float)) and not isinstance(expires, bool) and expires and now >= expires)

    def _find_key(self, plain: str, now: float) -> dict[str, Any] | None:
        memo = hashlib.sha256(plain.encode()).hexdigest()
        keys = self._catalog["api_keys"]
        key_id = self._key_memo.get(memo)
        if key_id is not None:
            key = keys.get(key_id)
            if key and key.get("key") == hash_api_key(plain, key_id):
                return key if self._usable(key, now) else None
            del self._key_memo[memo]
        for key in keys.values():
            if self._usable(key, now) and key.get("key") == hash_api_key(plain, key["id"]):
                self._key_memo[memo] = key["id"]
                return key
        if now - self._keys_reloaded >= KEY_RELOAD_INTERVAL_S:
            # a key created by another process (``cronwright apikey create``) works within a second
            self._keys_reloaded = now
            self._catalog.reload("api_keys")
            return self._find_key(plain, now)
        return None

    def _check_rate(self, key: dict[str, Any], now: float) -> None:
        limit = key.get("max_per_sec")
        if not isinstance(limit, (int, float)) or isinstance(limit, bool) or limit <= 0:
            return
        second = int(now)
        last_second, count = self._rate.get(key["id"], (second, 0))
        count = count + 1 if last_second == second else 1
        self._rate[key["id"]] = (second, count)
        if count > limit:
            raise RateLimited("rate", f"API Key has exceeded rate limit ({limit:g}/sec)")

    def forget_key(self, key_id: str) -> None:
        """Drop rate and memo state of a deleted key."""
        self._rate.pop(key_id, None)
        self._key_memo = {m: k for m, k in self._key_memo.items() if k != key_id}

    # sessions

    def _from_session(self, session_id: str) -> Identity:
        now = self._clock.now()
        session = self._sessions.get(session_id)
        if session is None:
            session = self._store.get_session(session_id)
            if session is not None:
                self._sessions[session_id] = session
        if session is None or session.get("expires", 0) <= now:
            self._sessions.pop(session_id, None)
            raise _session_error("Session has expired or is invalid.")
        user = self._catalog["users"].get(session.get("username"))
        if user is None or not user.get("active"):
            raise _session_error(f"User account is disabled: {session.get('username')}")
        return Identity.from_record("user", user, self._catalog["roles"])

    def create_session(self, username: str, origin_ip: str | None = None) -> dict[str, Any]:
        now = self._clock.now()
        session: dict[str, Any] = {
            "id": secrets.token_hex(32),
            "username": username,
            "created": int(now),
            "expires": now + self._session_ttl_s,
            "ip": origin_ip,
        }
        with self._store.write() as w:
            w.put_session(session)
        self._sessions[session["id"]] = session
        return session

    def end_session(self, session_id: str) -> bool:
        known = self._sessions.pop(session_id, None) or self._store.get_session(session_id)
        with self._store.write() as w:
            w.delete_session(session_id)
        return known is not None

    def end_user_sessions(self, username: str) -> None:
        for sid in [s for s, doc in self._sessions.items() if doc.get("username") == username]:
            self._sessions.pop(sid, None)
        with self._store.write() as w:
            w.delete_user_sessions(username)
