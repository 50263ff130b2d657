"""User management under `/api/user/`: admin CRUD, login, roles, disabling, password changes, secrecy."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.helpers import make_key, uid
from tests.support.server import ADMIN_KEY, ADMIN_PASSWORD, Api

PASSWORD = "correct horse battery"


def user_call(
    base_url: str, name: str, params: dict[str, Any] | None = None, *, key: str | None = ADMIN_KEY, session: str = ""
) -> tuple[int, dict[str, Any]]:
    """POST `/api/user/NAME/v1` with a key and/or a session; returns (HTTP status, body)."""
    headers = {"X-API-Key": key} if key else {}
    if session:
        headers["X-Session-ID"] = session
    response = httpx.post(f"{base_url}/api/user/{name}/v1", json=params or {}, headers=headers, timeout=30)
    return response.status_code, response.json()


def user_ok(base_url: str, name: str, params: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    status, body = user_call(base_url, name, params, **kwargs)
    assert status == 200 and body.get("code") == 0, (name, status, body)
    return body


def user_error(base_url: str, name: str, params: dict[str, Any] | None = None, **kwargs: Any) -> tuple[int, str, str]:
    status, body = user_call(base_url, name, params, **kwargs)
    assert body.get("code") != 0 and body.get("description"), (name, status, body)
    return status, body["code"], body["description"]


def new_user(base_url: str, **fields: Any) -> dict[str, Any]:
    """Create a user (admin key) with a unique name and `PASSWORD` unless given."""
    params = {"username": uid("u"), "password": PASSWORD, "full_name": "Test User", **fields}
    return user_ok(base_url, "admin_create", params)["user"]


def login(base_url: str, username: str, password: str = PASSWORD) -> str:
    return user_ok(base_url, "login", {"username": username, "password": password}, key=None)["session_id"]


def session_client(api: Api, session_id: str) -> tuple[Api, dict[str, str]]:
    """A client without a key plus the headers that authenticate it by session."""
    return api.with_key(None), {"X-Session-ID": session_id}


def assert_no_secret(value: Any, *secrets: str) -> None:
    text = json.dumps(value)
    assert '"password"' not in text and "$argon2" not in text and "$2b$" not in text, text[:500]
    for secret in secrets:
        assert secret not in text


def test_admin_crud_cycle(server_url: str, api: Api) -> None:
    """Create → get → list → update → delete a user; the password (hash) is never in an answer."""
    user = new_user(server_url, email="t@example.com", privileges={"create_tags": True})
    name = user["username"]
    assert user["id"] == name and user["active"] == 1 and user["revision"] == 1
    assert user["privileges"] == {"create_tags": True} and user["roles"] == []
    assert_no_secret(user, PASSWORD)
    assert user_ok(server_url, "admin_get_user", {"username": name})["user"] == user
    listing = user_ok(server_url, "admin_get_users")
    assert name in [u["username"] for u in listing["rows"]] and listing["list"]["length"] >= 2
    assert_no_secret(listing, PASSWORD)
    updated = user_ok(server_url, "admin_update", {"username": name, "full_name": "Renamed"})["user"]
    assert updated["full_name"] == "Renamed" and updated["revision"] == 2 and updated["email"] == "t@example.com"
    assert user_ok(server_url, "admin_get_user", {"username": name})["user"] == updated
    user_ok(server_url, "admin_delete", {"username": name})
    assert user_error(server_url, "admin_get_user", {"username": name})[:2] == (404, "user")
    actions = [r["action"] for r in api.ok("search_activity", {"query": f"keywords:{name}", "limit": 10})["rows"]]
    assert actions == ["user_delete", "user_update", "user_create"]


def test_duplicate_and_unknown_users(server_url: str) -> None:
    """A taken name (in any case) is `user` 409 "User already exists"; unknown users are `user` 404."""
    user = new_user(server_url)
    for name in (user["username"], user["username"].upper()):
        status, code, desc = user_error(server_url, "admin_create", {"username": name, "password": PASSWORD})
        assert (status, code, desc) == (409, "user", f"User already exists: {name}")
    for call in ("admin_update", "admin_delete"):
        status, code, desc = user_error(server_url, call, {"username": "nobody_here"})
        assert (status, code, desc) == (404, "user", "User not found: nobody_here")
    status, code, desc = user_error(server_url, "admin_get_user", {"username": "nobody_here"})
    assert (status, code) == (404, "user")
    assert desc == "Failed to load user: Error: Failed to fetch key: users/nobody_here: Not found"


@pytest.mark.parametrize(
    "params",
    [
        {"password": PASSWORD},
        {"username": "bad name", "password": PASSWORD},
        {"username": "x" * 65, "password": PASSWORD},
        {"username": "constructor", "password": PASSWORD},
        {"username": "ok_name"},
        {"username": "ok_name", "password": "short"},
        {"username": "ok_name", "password": 12345678},
        {"username": "ok_name", "password": PASSWORD, "email": "not-an-email"},
        {"username": "ok_name", "password": PASSWORD, "active": 2},
        {"username": "ok_name", "password": PASSWORD, "privileges": ["admin"]},
        {"username": "ok_name", "password": PASSWORD, "roles": "all"},
        {"username": "ok_name", "password": PASSWORD, "full_name": "<b>x</b>"},
    ],
)
def test_create_validation(server_url: str, params: dict[str, Any]) -> None:
    """Malformed or missing create parameters are `api` 400 errors and create nothing."""
    assert user_error(server_url, "admin_create", params)[:2] == (400, "api")
    assert user_error(server_url, "admin_get_user", {"username": "ok_name"})[:2] == (404, "user")


def test_admin_calls_need_admin(server_url: str, api: Api) -> None:
    """Keys and users without `admin` get `access` on every admin call; bad params are `api` first."""
    key_client, _ = make_key(api, {"create_tags": True})
    plain = key_client.key
    target = new_user(server_url)["username"]
    calls = {
        "admin_create": {"username": uid("u"), "password": PASSWORD},
        "admin_update": {"username": target, "full_name": "x"},
        "admin_delete": {"username": target},
        "admin_get_user": {"username": target},
        "admin_get_users": {},
    }
    session = login(server_url, new_user(server_url, privileges={"create_tags": True})["username"])
    for name, params in calls.items():
        assert user_error(server_url, name, params, key=plain)[:2] == (403, "access"), name
        assert user_error(server_url, name, params, key=None, session=session)[:2] == (403, "access"), name
        assert user_error(server_url, name, params, key=None)[:2] == (403, "session"), name
    assert user_error(server_url, "admin_create", {"username": "bad name"}, key=plain)[:2] == (400, "api")
    assert user_ok(server_url, "admin_get_user", {"username": target})["user"]["full_name"] == "Test User"


def test_login_with_created_user(server_url: str, api: Api) -> None:
    """A created user logs in (name in any case), acts by session, and is recorded as the actor."""
    user = new_user(server_url, privileges={"create_tags": True})
    body = user_ok(server_url, "login", {"username": user["username"].upper(), "password": PASSWORD}, key=None)
    assert body["username"] == user["username"]
    assert_no_secret(body, PASSWORD)
    client, headers = session_client(api, body["session_id"])
    tag = client.ok("create_tag", {"id": uid("tag"), "title": "By session"}, headers=headers)["tag"]
    assert tag["username"] == user["username"]
    assert client.error("create_category", {"title": "x"}, headers=headers)[:2] == (403, "access")
    status, code, _ = user_error(server_url, "login", {"username": user["username"], "password": "wrong-one"}, key=None)
    assert (status, code) == (403, "login")


def test_role_grants_privileges(server_url: str, api: Api) -> None:
    """A user gains the privileges of an enabled role in `roles`, and loses them when it is disabled."""
    role_id = uid("role")
    api.ok("create_role", {"id": role_id, "title": "Taggers", "privileges": {"create_tags": True}})
    with_role = new_user(server_url, roles=[role_id])
    without = new_user(server_url)
    client, with_headers = session_client(api, login(server_url, with_role["username"]))
    _, without_headers = session_client(api, login(server_url, without["username"]))
    client.ok("create_tag", {"id": uid("tag"), "title": "Role tag"}, headers=with_headers)
    assert client.error("create_tag", {"title": "No role"}, headers=without_headers)[:2] == (403, "access")
    api.ok("update_role", {"id": role_id, "enabled": False})
    assert client.error("create_tag", {"title": "Disabled"}, headers=with_headers)[:2] == (403, "access")


def test_disabled_user_cannot_log_in_and_loses_sessions(server_url: str, api: Api) -> None:
    """`active: 0` refuses login; disabling a logged-in user ends their session at once."""
    inactive = new_user(server_url, active=0)
    assert inactive["active"] == 0
    status, code, _ = user_error(
        server_url, "login", {"username": inactive["username"], "password": PASSWORD}, key=None
    )
    assert (status, code) == (403, "session")
    user = new_user(server_url)
    client, headers = session_client(api, login(server_url, user["username"]))
    client.ok("get_tags", headers=headers)
    assert user_ok(server_url, "admin_update", {"username": user["username"], "active": False})["user"]["active"] == 0
    assert client.error("get_tags", headers=headers)[:2] == (403, "session")
    user_ok(server_url, "admin_update", {"username": user["username"], "active": 1})
    login(server_url, user["username"])


def test_change_own_password(server_url: str, api: Api) -> None:
    """`update` changes the session user's password given the right `old_password` (activity `user_password`)."""
    user = new_user(server_url)
    name = user["username"]
    session = login(server_url, name)
    new_password = "a brand new secret"
    status, code, _ = user_error(
        server_url, "update", {"password": new_password, "old_password": "not-my-password"}, key=None, session=session
    )
    assert (status, code) == (403, "login")
    assert user_error(server_url, "update", {"password": new_password}, key=None, session=session)[:2] == (400, "api")
    assert user_error(server_url, "update", {"password": "short", "old_password": PASSWORD}, key=None, session=session)[
        :2
    ] == (400, "api")
    body = user_ok(
        server_url, "update", {"password": new_password, "old_password": PASSWORD}, key=None, session=session
    )
    assert body["user"]["revision"] == 2
    assert_no_secret(body, new_password, PASSWORD)
    assert user_error(server_url, "login", {"username": name, "password": PASSWORD}, key=None)[1] == "login"
    login(server_url, name, new_password)
    rows = api.ok("search_activity", {"query": f"action:user_password keywords:{name}", "limit": 5})["rows"]
    assert len(rows) == 1 and rows[0]["username"] == name and rows[0]["user"]["username"] == name


def test_update_own_profile(server_url: str) -> None:
    """`update` changes `full_name`/`email` without a password, but never privileges or other fields."""
    user = new_user(server_url)
    session = login(server_url, user["username"])
    body = user_ok(
        server_url, "update", {"full_name": "New Name", "email": "me@example.com"}, key=None, session=session
    )
    assert body["user"]["full_name"] == "New Name" and body["user"]["email"] == "me@example.com"
    for escalation in ({"privileges": {"admin": True}}, {"roles": ["all"]}, {"active": 1}, {"categories": []}):
        assert user_error(server_url, "update", escalation, key=None, session=session)[:2] == (400, "api")
    mismatch = {"username": "someone_else", "full_name": "x"}
    assert user_error(server_url, "update", mismatch, key=None, session=session)[:2] == (400, "user")
    stored = user_ok(server_url, "admin_get_user", {"username": user["username"]})["user"]
    assert stored["privileges"] == {} and stored["full_name"] == "New Name"


def test_update_needs_a_session(server_url: str) -> None:
    """`update` with an API key (even an admin key) is a `session` error; without credentials too."""
    status, code, desc = user_error(server_url, "update", {"full_name": "Key"})
    assert (status, code, desc) == (403, "session", "This call requires a user session.")
    assert user_error(server_url, "update", {"full_name": "Nobody"}, key=None)[:2] == (403, "session")


def test_admin_sets_password(server_url: str) -> None:
    """`admin_update` with `password` re-hashes it: the old one stops working, the new one logs in."""
    name = new_user(server_url)["username"]
    assert user_error(server_url, "admin_update", {"username": name, "password": "short"})[:2] == (400, "api")
    user_ok(server_url, "admin_update", {"username": name, "password": "set by the admin"})
    assert user_error(server_url, "login", {"username": name, "password": PASSWORD}, key=None)[1] == "login"
    login(server_url, name, "set by the admin")
    user_ok(server_url, "admin_update", {"username": name, "password": "", "full_name": "Kept"})
    login(server_url, name, "set by the admin")


def test_delete_ends_sessions_and_not_yourself(server_url: str, api: Api) -> None:
    """Deleting a user ends their sessions; an administrator cannot delete their own account."""
    user = new_user(server_url)
    client, headers = session_client(api, login(server_url, user["username"]))
    client.ok("get_tags", headers=headers)
    user_ok(server_url, "admin_delete", {"username": user["username"]})
    assert client.error("get_tags", headers=headers)[:2] == (403, "session")
    admin = new_user(server_url, privileges={"admin": True})
    session = login(server_url, admin["username"])
    status, code, _ = user_error(server_url, "admin_delete", {"username": admin["username"]}, key=None, session=session)
    assert (status, code) == (409, "user")
    other = new_user(server_url)
    user_ok(server_url, "admin_delete", {"username": other["username"]}, key=None, session=session)


def test_no_password_in_activity(server_url: str, api: Api) -> None:
    """No activity row of a user's life (create, login, updates, password changes, delete) holds a password."""
    user = new_user(server_url)
    name = user["username"]
    session = login(server_url, name)
    user_ok(server_url, "update", {"password": "second password!", "old_password": PASSWORD}, key=None, session=session)
    user_ok(server_url, "admin_update", {"username": name, "password": "third password!"})
    user_ok(server_url, "admin_delete", {"username": name})
    rows = api.ok("search_activity", {"query": f"keywords:{name}", "limit": 50})["rows"]
    actions = {r["action"] for r in rows}
    assert {"user_create", "user_login", "user_password", "user_update", "user_delete"} <= actions
    assert_no_secret(rows, PASSWORD, "second password!", "third password!")


def test_admin_password_login_still_works(server_url: str) -> None:
    """The first-start administrator keeps logging in next to created users."""
    assert login(server_url, "admin", ADMIN_PASSWORD)


def test_ended_sessions_stay_ended(server_url: str, api: Api) -> None:
    """Sessions ended by deleting or disabling a user do not come back with a re-created or re-enabled user."""
    name = new_user(server_url)["username"]
    client, headers = session_client(api, login(server_url, name))
    user_ok(server_url, "admin_update", {"username": name, "active": 0})
    user_ok(server_url, "admin_update", {"username": name, "active": 1})
    assert client.error("get_tags", headers=headers)[:2] == (403, "session")
    client, headers = session_client(api, login(server_url, name))
    user_ok(server_url, "admin_delete", {"username": name})
    new_user(server_url, username=name)
    assert client.error("get_tags", headers=headers)[:2] == (403, "session")
