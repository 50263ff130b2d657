"""Users: login and logout (api-conventions.md §6.3) and user management (supporting-apis.md §7).

Users live in the ``users`` catalog kind with ``id = username`` (unique regardless of case).
Passwords are kept only as Argon2id hashes; no document leaves this module with its hash:
answers and activity snapshots go through ``public_user``. Checks run in the xyOps order:
parameters, then authentication, then privilege, then the lookup.

Every password hash or check runs on ``PasswordWork``'s threads (the methods that touch a
password are coroutines). Failed password checks (``login``, the ``old_password`` of ``update``)
are limited per user name and per client IP by ``LoginThrottle``. A new password ends the user's
other sessions.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from cronwright.clock import Clock
from cronwright.config import Settings
from cronwright.engine import activity
from cronwright.engine.activity import Origin
from cronwright.engine.auth import Authenticator, PasswordWork
from cronwright.engine.catalog import Catalog
from cronwright.engine.common import int_param
from cronwright.engine.entities import Authenticate
from cronwright.engine.identity import Identity
from cronwright.engine.throttle import LoginLimits, LoginThrottle
from cronwright.engine.validation import RESERVED_WORDS
from cronwright.errors import BadRequest, Conflict, Forbidden, NotFound, RateLimited, api_error
from cronwright.logs import fields
from cronwright.store.base import DuplicateId, StaleWrite, StoreWriter

log = logging.getLogger("cronwright.auth")

PRIVATE_USER_KEYS = ("password", "salt")
USERNAME_RE = re.compile(r"^[\w.\-]+\Z", re.ASCII)
#: new user names also start with a letter, digit or ``_`` (no ``..``, ``.git`` or ``-x``: names
#: end up in storage paths)
NEW_USERNAME_RE = re.compile(r"^\w[\w.\-]*\Z", re.ASCII)
MAX_USERNAME_LEN = 64
MIN_PASSWORD_LEN = 8
_EMAIL_RE = re.compile(r"^\S+@\S+\Z")
_HTML_META_RE = re.compile(r"[<>]")
_NON_WORD_RE = re.compile(r"\W+", re.ASCII)
#: keys a request never sets directly (server-set, or passwords handled separately)
_NOT_STORED = ("id", "username", "created", "modified", "revision", "password", "new_password", "old_password", "salt")
#: what a user may change about themselves with ``update``
_SELF_KEYS = frozenset({"username", "full_name", "email", "password", "new_password", "old_password"})
_DEFAULTS: dict[str, Any] = {"full_name": "", "email": "", "active": 1}


def public_user(user: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in user.items() if k not in PRIVATE_USER_KEYS}


class UserService:
    def __init__(self, catalog: Catalog, auth: Authenticator, clock: Clock, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        self._catalog = catalog
        self._auth = auth
        self._clock = clock
        self.passwords = PasswordWork(settings.password_hash_workers)
        self._throttle = LoginThrottle(
            LoginLimits(
                per_user=settings.login_max_failures_per_user,
                per_ip=settings.login_max_failures_per_ip,
                window_s=settings.login_failure_window_s,
            ),
            clock,
        )

    # sessions

    async def login(self, params: dict[str, Any], origin: Origin) -> tuple[dict[str, Any], dict[str, Any]]:
        """A new session (with its plain ``id``) and the user; ``rate`` after too many failures."""
        username, password = params.get("username"), params.get("password")
        for key, value in (("username", username), ("password", password)):
            if not isinstance(value, str) or not value:
                raise api_error(f"Missing parameter: {key}")
        found = self._lookup(str(username))
        ok, new_hash = await self._check_password(str(username), found, str(password), origin)
        # the check yielded to the event loop: go on with the user as it is now (same password)
        user = self._catalog["users"].get(found["id"]) if found is not None and ok else None
        if found is None or user is None or user.get("password") != found.get("password"):
            raise Forbidden("login", "Username or password incorrect.")
        if not user.get("active"):
            raise Forbidden("session", f"User account is disabled: {user['username']}")
        now = int(self._clock.now())
        session = self._auth.create_session(user["username"], origin.ip)
        who = Identity.from_record("user", user, self._catalog["roles"])
        with self._catalog.transaction() as tx:
            if new_hash:
                tx.update("users", {**user, "password": new_hash}, expected_revision=None)
            activity.record(
                tx.writer,
                "user_login",
                epoch=now,
                description=user["username"],
                who=who,
                origin=origin,
                user=public_user(user),
            )
        return session, public_user(self._catalog["users"].get(user["id"]) or user)

    def session_user(self, username: str) -> dict[str, Any]:
        """The record of a logged-in user, without the password (``resume_session``)."""
        user = self._lookup(username)
        if user is None:
            raise Forbidden("session", "Session has expired or is invalid.")
        return public_user(user)

    def logout(self, session_id: str | None, origin: Origin) -> None:
        if not session_id or not self._auth.end_session(session_id):
            raise Forbidden("session", "Session has expired or is invalid.")

    # administrators

    async def admin_create(self, params: dict[str, Any], authenticate: Authenticate, origin: Origin) -> dict[str, Any]:
        username = _username_param(params)
        if not NEW_USERNAME_RE.match(username):
            raise api_error("Malformed parameter: username (must start with a letter, digit or underscore)")
        password = params.get("password")
        if password is None or password == "":
            raise api_error("Missing parameter: password")
        _check_password(password, "password")
        fields = _user_fields(params)
        who = authenticate()
        who.require_admin()
        if self._lookup(username) is not None:
            raise Conflict("user", f"User already exists: {username}")
        password_hash = await self.passwords.hash(password)
        now = int(self._clock.now())
        user = {
            "id": username,
            "username": username,
            **_DEFAULTS,
            "privileges": {},
            "roles": [],
            "categories": [],
            "groups": [],
            **fields,
            "password": password_hash,
            "created": now,
            "modified": now,
            "revision": 1,
        }
        try:
            with self._catalog.transaction() as tx:
                tx.insert("users", user)
                self._record(tx.writer, "user_create", user, who, origin, now)
        except DuplicateId:
            raise Conflict("user", f"User already exists: {username}") from None
        return public_user(user)

    async def admin_update(
        self, params: dict[str, Any], authenticate: Authenticate, origin: Origin, session_id: str | None = None
    ) -> dict[str, Any]:
        """A new password ends the user's sessions (except ``session_id``, the caller's own, when an
        administrator changes their own password); disabling the user ends them all."""
        username = _username_param(params)
        new_password = _new_password(params)
        fields = _user_fields(params)
        who = authenticate()
        who.require_admin()
        password_hash = await self.passwords.hash(new_password) if new_password else None
        current = self._find(username)  # after the hash: nothing yields between reading and saving
        actions = ["user_update", "user_password"] if password_hash else ["user_update"]
        user = self._save(current, fields, password_hash, actions, who, origin)
        if not user.get("active"):
            self._auth.end_user_sessions(user["username"])
        elif password_hash:
            own = who.kind == "user" and who.username == user["username"]
            self._auth.end_user_sessions(user["username"], keep=session_id if own else None)
        return public_user(user)

    def admin_delete(self, params: dict[str, Any], authenticate: Authenticate, origin: Origin) -> None:
        username = _username_param(params)
        who = authenticate()
        who.require_admin()
        user = self._find(username)
        if who.kind == "user" and who.username == user["username"]:
            raise Conflict("user", "You cannot delete your own account.")
        now = int(self._clock.now())
        with self._catalog.transaction() as tx:
            tx.delete("users", user["id"])
            self._record(tx.writer, "user_delete", user, who, origin, now)
        self._auth.end_user_sessions(user["username"])

    def admin_get_user(self, params: dict[str, Any], authenticate: Authenticate) -> dict[str, Any]:
        username = _username_param(params)
        authenticate().require_admin()
        user = self._lookup(username)
        if user is None:
            raise NotFound("user", f"Failed to load user: {_storage_miss(username)}")
        return public_user(user)

    def admin_get_users(self, params: dict[str, Any], authenticate: Authenticate) -> tuple[list[dict[str, Any]], int]:
        """All users by user name (``offset``/``limit`` page them); returns (page, total)."""
        offset = int_param(params, "offset", 0)
        limit = int_param(params, "limit", 0)
        authenticate().require_admin()
        users = sorted(self._catalog["users"].values(), key=lambda u: str(u.get("username", u["id"])).lower())
        page = users[offset : offset + limit] if limit else users[offset:]
        return [public_user(u) for u in page], len(users)

    # the caller's own account

    async def update_self(
        self, params: dict[str, Any], authenticate: Authenticate, origin: Origin, session_id: str | None = None
    ) -> dict[str, Any]:
        """``full_name``, ``email`` and (with ``old_password``) ``password`` of the session's user;
        a new password ends the user's other sessions (``session_id``, the caller's, stays)."""
        for key in params:
            if key not in _SELF_KEYS:
                raise api_error(f"Invalid parameter: {key} (only full_name, email and password may be changed here)")
        new_password = _new_password(params)
        old_password = params.get("old_password")
        if new_password and (not isinstance(old_password, str) or not old_password):
            raise api_error("Missing parameter: old_password")
        fields = _user_fields({k: v for k, v in params.items() if k in ("full_name", "email")})
        who = authenticate()
        if who.kind != "user":
            raise Forbidden("session", "This call requires a user session.")
        current = self._find(who.username)
        if "username" in params and params["username"] != current["username"]:
            raise BadRequest("user", "Username mismatch.")
        if new_password:
            ok, _ = await self._check_password(
                current["username"], current, str(old_password), origin, purpose="password_change"
            )
            if not ok:
                raise Forbidden("login", "Your password is incorrect.")
        fields = {k: v for k, v in fields.items() if current.get(k) != v}
        if not fields and not new_password:
            return public_user(current)
        password_hash = await self.passwords.hash(new_password) if new_password else None
        actions = (["user_update"] if fields else []) + (["user_password"] if password_hash else [])
        user = self._save(current, fields, password_hash, actions, who, origin)
        if password_hash:
            self._auth.end_user_sessions(user["username"], keep=session_id)
        return public_user(user)

    # helpers

    async def _check_password(
        self, username: str, user: dict[str, Any] | None, password: str, origin: Origin, purpose: str = "login"
    ) -> tuple[bool, str | None]:
        """Verify ``password`` against ``user`` (None: a dummy hash, same cost) inside the
        failed-login limits; returns (ok, upgraded hash to store). Failures and refusals are
        logged with the user name and client address (never the password)."""
        try:
            keys = self._throttle.begin(username, origin.ip)
        except RateLimited:
            _log_refused(purpose, username, user, origin, "too many failed attempts")
            raise
        ok: bool | None = None
        try:
            ok, new_hash = await self.passwords.verify(user.get("password") if user else None, password)
            ok = ok and user is not None
        finally:
            self._throttle.end(keys, ok)
        if not ok:
            _log_refused(purpose, username, user, origin, "wrong password" if user else "unknown user")
        return ok, new_hash

    def _lookup(self, username: str) -> dict[str, Any] | None:
        """The user named ``username``: exact id first, then regardless of case."""
        users = self._catalog["users"]
        user = users.get(username)
        if user is None:
            folded = username.lower()
            user = next((u for u in users.values() if str(u["id"]).lower() == folded), None)
        return user

    def _find(self, username: str) -> dict[str, Any]:
        user = self._lookup(username)
        if user is None:
            raise NotFound("user", f"User not found: {username}")
        return user

    def _save(
        self,
        current: dict[str, Any],
        fields: dict[str, Any],
        password_hash: str | None,
        actions: list[str],
        who: Identity,
        origin: Origin,
    ) -> dict[str, Any]:
        """Store ``current`` merged with ``fields`` (and the new hash) with ``modified``,
        ``revision+1`` and one activity row per action, in one transaction."""
        now = int(self._clock.now())
        user = {**current, **fields, "modified": now, "revision": _number(current.get("revision")) + 1}
        if password_hash:
            user["password"] = password_hash
        try:
            with self._catalog.transaction() as tx:
                tx.update("users", user, expected_revision=current.get("revision"))
                for action in actions:
                    self._record(tx.writer, action, user, who, origin, now)
        except StaleWrite:
            self._catalog.refresh("users", current["id"])
            raise Conflict("user", "User was changed concurrently, please retry.") from None
        return user

    def _record(
        self, writer: StoreWriter, action: str, user: dict[str, Any], who: Identity, origin: Origin, now: int
    ) -> None:
        activity.record(
            writer,
            action,
            epoch=now,
            description=user["username"],
            who=who,
            origin=origin,
            keywords=[user["username"]],
            user=public_user(user),
        )


def normalize_username(username: str) -> str:
    """xyOps' user storage key: lower case without non-word characters (``Bob.Smith`` → ``bobsmith``)."""
    return _NON_WORD_RE.sub("", username.lower())


def _storage_miss(username: str) -> str:
    """The storage error xyOps reports for a user without a record (sdk-wire.md §5.1)."""
    return f"Error: Failed to fetch key: users/{normalize_username(username)}: Not found"


def _username_param(params: dict[str, Any]) -> str:
    username = params.get("username")
    if username is None:
        raise api_error("Missing parameter: username")
    if (
        not isinstance(username, str)
        or not USERNAME_RE.match(username)
        or len(username) > MAX_USERNAME_LEN
        or username in RESERVED_WORDS
    ):
        raise api_error("Malformed parameter: username")
    return username


#: longest user name written to the log (it is what the client typed)
_LOGGED_NAME_CHARS = 64


def _log_refused(purpose: str, username: str, user: dict[str, Any] | None, origin: Origin, reason: str) -> None:
    log.warning(
        "login failed" if purpose == "login" else "password check failed",
        extra=fields(
            method="password",
            purpose=purpose,
            username=username[:_LOGGED_NAME_CHARS],
            known_user=user is not None,
            ip=origin.ip or None,
            reason=reason,
        ),
    )


def _check_password(value: Any, key: str) -> None:
    if not isinstance(value, str):
        raise api_error(f"Malformed parameter: {key} (must be a string)")
    if len(value) < MIN_PASSWORD_LEN:
        raise api_error(f"Malformed parameter: {key} (must have at least {MIN_PASSWORD_LEN} characters)")


def _new_password(params: dict[str, Any]) -> str | None:
    """The new password of an update (``password``, or ``new_password`` as xyOps clients send it);
    absent or empty means unchanged."""
    for key in ("new_password", "password"):
        value = params.get(key)
        if value is not None and value != "":
            _check_password(value, key)
            return str(value)
    return None


def _user_fields(params: dict[str, Any]) -> dict[str, Any]:
    """The storable fields of a create/update request, validated (``active`` normalized to 1/0)."""
    fields = {k: v for k, v in params.items() if k not in _NOT_STORED}
    for key in fields:
        if key in RESERVED_WORDS:
            raise api_error(f"Invalid parameter: {key} (illegal key)")
    for key in ("full_name", "email"):
        if key in fields and not isinstance(fields[key], str):
            raise api_error(f"Malformed parameter: {key} (must be a string)")
    if _HTML_META_RE.search(fields.get("full_name", "")):
        raise api_error("Malformed parameter: full_name (cannot contain HTML metacharacters)")
    email = fields.get("email", "")
    if email and not _EMAIL_RE.match(email):
        raise api_error("Malformed parameter: email")
    if "active" in fields:
        active = fields["active"]
        if active not in (0, 1) or not isinstance(active, (bool, int)):
            raise api_error("Malformed parameter: active (must be 1 or 0)")
        fields["active"] = int(active)
    if "privileges" in fields and not isinstance(fields["privileges"], dict):
        raise api_error("Malformed parameter: privileges (must be an object)")
    for key in ("roles", "categories", "groups"):
        value = fields.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise api_error(f"Malformed parameter: {key} (must be an array of strings)")
    return fields


def _number(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0
