"""Issue 8 point 4: roles cannot escalate — a non-admin grants at most what they hold themselves."""

from __future__ import annotations

from tests.api.helpers import make_key, uid
from tests.support.server import Api


def test_role_editor_cannot_make_their_own_role_admin(api: Api) -> None:
    """A key holding `edit_roles` through role R cannot add `admin` (or a privilege it lacks) to R,
    and after the attempt it still cannot call an admin-only API."""
    role = uid("r")
    api.ok("create_role", {"id": role, "title": "Editors", "privileges": {"edit_roles": True, "run_jobs": True}})
    editor, _ = make_key(api, {}, roles=[role])
    for grant in ({"admin": True}, {"delete_events": True}):
        status, code, text = editor.error("update_role", {"id": role, "privileges": {"edit_roles": True, **grant}})
        assert (status, code) == (403, "access") and "cannot grant" in text
    assert api.ok("get_role", {"id": role})["role"]["privileges"] == {"edit_roles": True, "run_jobs": True}
    assert editor.error("get_api_keys")[:2] == (403, "access")
    editor.ok("update_role", {"id": role, "title": "Renamed", "privileges": {"edit_roles": True}})


def test_role_creator_grants_only_what_they_hold(api: Api) -> None:
    """`create_roles` lets a key create roles with its own privileges, never more."""
    creator, _ = make_key(api, {"create_roles": True, "run_jobs": True})
    assert creator.ok("create_role", {"title": "Runners", "privileges": {"run_jobs": True}})["role"]["id"]
    status, code, _ = creator.error("create_role", {"title": "Admins", "privileges": {"admin": True}})
    assert (status, code) == (403, "access")
    status, code, _ = creator.error("create_role", {"title": "Editors", "privileges": {"edit_events": True}})
    assert (status, code) == (403, "access")


def test_role_holders_cannot_touch_stronger_roles(api: Api) -> None:
    """A non-admin may neither edit nor delete (nor disable) a role that grants more than they hold."""
    strong = uid("r")
    api.ok("create_role", {"id": strong, "title": "Strong", "privileges": {"admin": True}})
    editor, _ = make_key(api, {"edit_roles": True, "delete_roles": True})
    assert editor.error("update_role", {"id": strong, "enabled": False})[:2] == (403, "access")
    assert editor.error("delete_role", {"id": strong})[:2] == (403, "access")
    assert api.ok("get_role", {"id": strong})["role"]["enabled"] is True


def test_scope_limited_callers_cannot_change_roles(api: Api) -> None:
    """Roles carry category and group scope for everyone who holds them: a category-limited caller may
    not create or change one (it could widen someone else's scope)."""
    role = uid("r")
    api.ok("create_role", {"id": role, "title": "Scoped", "categories": ["general"], "privileges": {}})
    limited, _ = make_key(api, {"edit_roles": True, "create_roles": True}, categories=["general"])
    assert limited.error("update_role", {"id": role, "categories": []})[:2] == (403, "access")
    assert limited.error("create_role", {"title": "Wide", "privileges": {}})[:2] == (403, "access")
    assert api.ok("get_role", {"id": role})["role"]["categories"] == ["general"]


def test_api_keys_and_users_are_admin_only(api: Api) -> None:
    """Keys and users (which hold roles) are managed by administrators only, whatever else a caller holds."""
    editor, _ = make_key(api, {"edit_roles": True, "create_roles": True, "create_events": True})
    assert editor.error("create_api_key", {"title": "x", "privileges": {"admin": True}})[:2] == (403, "access")
    response = editor.http.post(
        "/api/user/admin_create/v1",
        json={"username": uid("u"), "password": "long-enough-1", "privileges": {"admin": True}},
        headers={"X-API-Key": str(editor.key)},
    )
    assert response.status_code == 403 and response.json()["code"] == "access"


def test_role_managers_cannot_lift_scope_limits(api: Api) -> None:
    """A role that limits categories or groups is an administrator's: a non-admin role manager can
    neither disable, delete nor widen it (that would lift its holders' limits)."""
    role = uid("r")
    api.ok("create_role", {"id": role, "title": "Cat A only", "categories": ["general"], "privileges": {}})
    manager, _ = make_key(api, {"create_roles": True, "edit_roles": True, "delete_roles": True})
    for call, params in (
        ("update_role", {"id": role, "enabled": False}),
        ("update_role", {"id": role, "categories": []}),
        ("delete_role", {"id": role}),
    ):
        status, code, text = manager.error(call, params)
        assert (status, code) == (403, "access") and "limits categories or groups" in text
    assert manager.error("create_role", {"title": "Scoped", "groups": ["main"], "privileges": {}})[:2] == (
        403,
        "access",
    )
    assert api.ok("get_role", {"id": role})["role"]["enabled"] is True
