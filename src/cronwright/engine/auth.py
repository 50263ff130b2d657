"""Credentials: API keys (hashed), user passwords (Argon2id) and sessions (hashed).

API keys are stored as ``sha256_hex(plain + id)`` (the xyOps format, so imported keys keep
working). Matching a plain key needs one hash per stored key; a memo of ``sha256(plain) → id``
(kept in memory only) makes repeat calls one dictionary lookup, and every hit is re-checked
against the stored record, so a disabled, expired or deleted key stops working at once.

Sessions are stored under ``sha256_hex(session id)``: the plain id exists only in the login
answer, the cookie and the client's requests, so a read of the database (or a backup) yields no
usable session. Rows written with plain ids (by earlier releases) simply stop matching.

Password hashing and verification run on ``PasswordWork``'s own threads, a few at a time, never
on the event loop; a password check for an unknown user verifies against a dummy hash of the same
parameters, so it costs what a wrong password costs.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import math
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cronwright.clock import Clock
from cronwright.engine.catalog import Catalog
from cronwright.engine.identity import Identity
from cronwright.engine.validation import sha256_hex
from cronwright.errors import CwError, Forbidden, RateLimited
from cronwright.logs import fields
from cronwright.store.base import Store

log = logging.getLogger("cronwright.auth")

_hasher = PasswordHasher()
KEY_RELOAD_INTERVAL_S = 1.0
#: a cached session is re-read from the store after this long, so a session ended by another
#: conductor (or by a password change there) stops working here too
SESSION_RECHECK_S = 5.0
#: password checks waiting for a thread beyond this answer ``rate`` at once
MAX_WAITING_PASSWORD_CHECKS = 64
_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_T = TypeVar("_T")


def hash_api_key(plain: str, key_id: str) -> str:
    return sha256_hex(plain + key_id)


def new_plain_key() -> str:
    """32 random bytes, URL-safe base64 without padding (43 characters)."""
    return secrets.token_urlsafe(32)


def mask_key(plain: str) -> str:
    return plain[:4] + "********" + plain[-4:]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    """A hash with the current parameters of a password nobody knows (unknown users verify against it)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password(stored_hash: str | None, password: str) -> tuple[bool, str | None]:
    """Check a password; returns (ok, new hash to store when the old one should be upgraded).
    Without a usable stored hash (unknown user, no password) a dummy hash is verified instead, so
    the answer takes as long as a wrong password."""
    if isinstance(stored_hash, str) and stored_hash.startswith(_BCRYPT_PREFIXES):  # imported from xyOps/Cronicle
        try:
            ok = bcrypt.checkpw(password.encode(), stored_hash.encode())
        except ValueError:
            return False, None
        return ok, hash_password(password) if ok else None
    usable = isinstance(stored_hash, str) and stored_hash.startswith("$argon2")
    try:
        _hasher.verify(stored_hash if usable and stored_hash else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False, None
    if not usable or not stored_hash:
        return False, None
    return True, hash_password(password) if _hasher.check_needs_rehash(stored_hash) else None


def session_key(session_id: str) -> str:
    """What the store keeps of a session id."""
    return sha256_hex(session_id)


class PasswordWork:
    """Hashing and verifying passwords on ``workers`` threads of its own (Argon2id needs 64 MiB
    and tens of milliseconds each), so the event loop keeps serving while logins are checked.
    More than ``max_waiting`` checks queued at once are refused with ``rate``."""

    def __init__(self, workers: int, max_waiting: int = MAX_WAITING_PASSWORD_CHECKS) -> None:
        self._workers = workers
        self._max_waiting = max_waiting
        self._waiting = 0
        self._executor: ThreadPoolExecutor | None = None

    async def hash(self, password: str) -> str:
        return await self._run(hash_password, password)

    async def verify(self, stored_hash: str | None, password: str) -> tuple[bool, str | None]:
        return await self._run(verify_password, stored_hash, password)

    async def _run(self, work: Callable[..., _T], *args: Any) -> _T:
        if self._waiting >= self._max_waiting:
            raise RateLimited("rate", "Too many password checks at once; try again in a few seconds.")
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="cw-password")
        self._waiting += 1
        try:
            return await asyncio.wrap_future(self._executor.submit(work, *args))
        finally:
            self._waiting -= 1

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


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
        #: session key → (stored session, ``time.monotonic()`` when read)
        self._sessions: dict[str, tuple[dict[str, Any], float]] = {}

    def authenticate(self, session_id: str | None, api_key: str | None, *, ip: str = "") -> Identity:
        """The caller's identity; a refusal is logged (``cronwright.auth``) with the client address
        and, when known, the key id or user name, never the credential itself."""
        try:
            if session_id:
                return self._from_session(session_id)
            if api_key:
                return self._from_api_key(api_key)
        except CwError as exc:
            method = "session" if session_id else "api_key"
            log.log(
                logging.INFO if method == "session" else logging.WARNING,
                "authentication failed",
                extra=fields(method=method, key_id=self._failed_key_id(api_key), ip=ip or None, reason=exc.description),
            )
            raise
        raise _session_error("No Session ID or API Key could be found")

    def _failed_key_id(self, api_key: str | None) -> str | None:
        """The id of a key that was refused after it had worked here (disabled, expired, over its
        rate), else None (no extra hashing: a flood of wrong keys costs no more than before)."""
        if not api_key:
            return None
        return self._key_memo.get(hashlib.sha256(api_key.encode()).hexdigest())

    # API keys

    def _from_api_key(self, plain: str) -> Identity:
        now = self._clock.now()
        key = self._find_key(plain, now)
        if key is None:
            raise _session_error("Invalid API Key")
        self._check_rate(key)
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

    def _check_rate(self, key: dict[str, Any]) -> None:
        """``max_per_sec``: counted in the database per wall-clock second (not the test clock: every
        conductor must count the same second), so the limit holds across every conductor
        (docs/ha.md); one short write per request of a rate-limited key."""
        limit = key.get("max_per_sec")
        if not isinstance(limit, (int, float)) or isinstance(limit, bool) or limit <= 0:
            return
        name = f"rate:{key['id']}:{int(time.time())}"
        if not self._store.transact(lambda w: w.take_count(name, math.floor(limit) or 1, 2.0)):
            raise RateLimited("rate", f"API Key has exceeded rate limit ({limit:g}/sec)")

    def forget_key(self, key_id: str) -> None:
        """Drop the memo of a deleted key."""
        self._key_memo = {m: k for m, k in self._key_memo.items() if k != key_id}

    # sessions (stored and cached under ``session_key(id)``)

    def _from_session(self, session_id: str) -> Identity:
        session = self._load_session(session_key(session_id))
        if session is None or session.get("expires", 0) <= self._clock.now():
            self._sessions.pop(session_key(session_id), None)
            raise _session_error("Session has expired or is invalid.")
        user = self._catalog["users"].get(session.get("username"))
        if user is None or not user.get("active"):
            raise _session_error(f"User account is disabled: {session.get('username')}")
        return Identity.from_record("user", user, self._catalog["roles"])

    def _load_session(self, key: str) -> dict[str, Any] | None:
        cached = self._sessions.get(key)
        if cached is not None and time.monotonic() - cached[1] < SESSION_RECHECK_S:
            return cached[0]
        session = self._store.get_session(key)
        if session is None:
            self._sessions.pop(key, None)
        else:
            self._sessions[key] = (session, time.monotonic())
        return session

    def create_session(self, username: str, origin_ip: str | None = None) -> dict[str, Any]:
        """A new session; the answer carries the plain ``id`` (for the client), the store its hash."""
        now = self._clock.now()
        plain = secrets.token_hex(32)
        session: dict[str, Any] = {
            "id": session_key(plain),
            "username": username,
            "created": int(now),
            "expires": now + self._session_ttl_s,
            "ip": origin_ip,
        }
        with self._store.write() as w:
            w.put_session(session)
        self._sessions[session["id"]] = (session, time.monotonic())
        return {**session, "id": plain}

    def end_session(self, session_id: str) -> bool:
        key = session_key(session_id)
        known = self._sessions.pop(key, None) or self._store.get_session(key)
        with self._store.write() as w:
            w.delete_session(key)
        return known is not None

    def end_user_sessions(self, username: str, keep: str | None = None) -> None:
        """End every session of ``username`` except ``keep`` (a plain session id, e.g. the caller's)."""
        kept_key = session_key(keep) if keep else None
        kept = self._load_session(kept_key) if kept_key else None
        if kept is not None and kept.get("username") != username:
            kept = None
        for key in [k for k, (doc, _) in self._sessions.items() if doc.get("username") == username and k != kept_key]:
            self._sessions.pop(key, None)
        with self._store.write() as w:
            w.delete_user_sessions(username)
            if kept is not None:
                w.put_session(kept)
