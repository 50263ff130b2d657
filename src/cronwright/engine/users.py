"""User login and logout (api-conventions.md §6.3)."""

from __future__ import annotations

from typing import Any

from cronwright.clock import Clock
from cronwright.engine import activity
from cronwright.engine.activity import Origin
from cronwright.engine.auth import Authenticator, verify_password
from cronwright.engine.catalog import Catalog
from cronwright.engine.identity import Identity
from cronwright.errors import Forbidden, api_error

PRIVATE_USER_KEYS = ("password", "salt")


def public_user(user: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in user.items() if k not in PRIVATE_USER_KEYS}


class UserService:
    def __init__(self, catalog: Catalog, auth: Authenticator, clock: Clock) -> None:
        self._catalog = catalog
        self._auth = auth
        self._clock = clock

    def login(self, params: dict[str, Any], origin: Origin) -> tuple[dict[str, Any], dict[str, Any]]:
        username, password = params.get("username"), params.get("password")
        for key, value in (("username", username), ("password", password)):
            if not isinstance(value, str) or not value:
                raise api_error(f"Missing parameter: {key}")
        user = self._catalog["users"].get(str(username).lower()) or self._catalog["users"].get(username)
        ok, new_hash = verify_password(user.get("password", "") if user else "", str(password))
        if user is None or not ok:
            raise Forbidden("login", "Username or password incorrect.")
        if not user.get("active"):
            raise Forbidden("session", f"User account is disabled: {user['username']}")
        now = int(self._clock.now())
        session = self._auth.create_session(user["username"], origin.ip)
        who = Identity.from_record("user", user, self._catalog["roles"])
        with self._catalog.transaction() as tx:
            if new_hash:
                tx.update("users", {**user, "password": new_hash}, expected_revision=None)
            activity.record(tx.writer, "user_login", epoch=now, description=user["username"], who=who, origin=origin)
        return session, public_user(self._catalog["users"].get(user["id"]) or user)

    def logout(self, session_id: str | None, origin: Origin) -> None:
        if not session_id or not self._auth.end_session(session_id):
            raise Forbidden("session", "Session has expired or is invalid.")
