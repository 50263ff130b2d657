"""Users: ``/api/user/login`` and ``logout``, the caller's own ``update`` and the ``admin_*`` calls.

The session cookie is ``HttpOnly; SameSite=Lax; Path=/``, plus ``Secure`` when the request came
over TLS (directly or through a trusted proxy); logout clears it with the same attributes.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from cronwright import jsonutil
from cronwright.api.registry import Ctx, EndpointSet
from cronwright.errors import Forbidden
from cronwright.model import api as m

router = EndpointSet(tag="Users", namespace="user")


@router.endpoint("login", style="write", summary="Log in", request=m.LoginRequest, response=m.LoginResult, auth=False)
async def login(ctx: Ctx) -> Response:
    """Checks the user name and password and starts a session: the `session_id` cookie is set and
    the id is returned; send it later as the `X-Session-ID` header (or the cookie). Too many failed
    logins for one user name or from one address answer `rate` (429) for a while."""
    session, user = await ctx.conductor.users.login(ctx.params, ctx.origin)
    body = {"code": 0, "session_id": session["id"], "username": user["username"], "user": user}
    response = Response(jsonutil.dumps(body), media_type="application/json", headers={"cache-control": "no-store"})
    max_age = int(session["expires"] - session["created"])
    response.set_cookie(
        "session_id", session["id"], max_age=max_age, httponly=True, samesite="lax", path="/", secure=ctx.call.tls
    )
    return response


@router.endpoint("logout", style="write", summary="Log out", response=m.Ok)
def logout(ctx: Ctx) -> Response:
    """Ends the caller's session and clears the cookie."""
    ctx.conductor.users.logout(ctx.call.session_id, ctx.origin)
    response = Response(
        jsonutil.dumps({"code": 0}), media_type="application/json", headers={"cache-control": "no-store"}
    )
    response.delete_cookie("session_id", path="/", httponly=True, samesite="lax", secure=ctx.call.tls)
    return response


@router.endpoint("resume_session", style="read", summary="Who is logged in (the web UI's start)")
def resume_session(ctx: Ctx) -> dict[str, Any]:
    """The session's user (without the password) and what it may do: `privileges` (its own merged
    with its enabled roles'), `categories` and `groups` (empty: not limited). Needs a user session:
    an API key gets `session`. The web UI calls it first to know whether to show the login form.
    Cronwright extension (xyOps' web client resumes its session the same way)."""
    who = ctx.authenticate()
    if who.kind != "user":
        raise Forbidden("session", "Session has expired or is invalid.")
    user = ctx.conductor.users.session_user(who.username)
    return {
        "username": who.username,
        "user": user,
        "privileges": {k: True for k, v in who.privileges.items() if v},
        "categories": list(who.categories),
        "groups": list(who.groups),
    }


@router.endpoint("update", style="write", summary="Change my account", request=m.UserSelfUpdate, response=m.UserResult)
async def update(ctx: Ctx) -> dict[str, Any]:
    """Changes the session user's own `full_name`, `email` and password (`password` needs
    `old_password`; a wrong one is a `login` error). Needs a user session: an API key gets `session`.
    A new password ends the user's other sessions; this one stays."""
    users = ctx.conductor.users
    return {"user": await users.update_self(ctx.params, ctx.authenticate, ctx.origin, ctx.call.session_id)}


@router.endpoint("admin_create", style="write", summary="Create a user", request=m.UserCreate, response=m.UserResult)
async def admin_create(ctx: Ctx) -> dict[str, Any]:
    """Administrators only. `username` and `password` are required; `active` defaults to 1. A user
    name already taken (regardless of case) is a `user` error (409). The password is never returned."""
    return {"user": await ctx.conductor.users.admin_create(ctx.params, ctx.authenticate, ctx.origin)}


@router.endpoint(
    "admin_update", style="write", summary="Update a user", request=m.UserAdminUpdate, response=m.UserResult
)
async def admin_update(ctx: Ctx) -> dict[str, Any]:
    """Administrators only. A shallow merge into the user named by `username` (which cannot change);
    a non-empty `password` replaces the password and ends the user's sessions (an administrator
    changing their own keeps the current one). Unknown user: `user` error (404)."""
    users = ctx.conductor.users
    return {"user": await users.admin_update(ctx.params, ctx.authenticate, ctx.origin, ctx.call.session_id)}


@router.endpoint("admin_delete", style="write", summary="Delete a user", request=m.UsernameRequest, response=m.Ok)
def admin_delete(ctx: Ctx) -> dict[str, Any]:
    """Administrators only. Deletes the user and ends their sessions; deleting yourself is a `user`
    error (409)."""
    ctx.conductor.users.admin_delete(ctx.params, ctx.authenticate, ctx.origin)
    return {}


@router.endpoint(
    "admin_get_user", style="read", summary="Get one user", request=m.UsernameRequest, response=m.UserResult
)
def admin_get_user(ctx: Ctx) -> dict[str, Any]:
    """Administrators only. The user named by `username`, without the password. Unknown user: `user`
    "Failed to load user: Error: Failed to fetch key: users/NAME: Not found" (404), NAME lower-cased
    without non-word characters as xyOps stores it."""
    return {"user": ctx.conductor.users.admin_get_user(ctx.params, ctx.authenticate)}


@router.endpoint("admin_get_users", style="read", summary="List users", request=m.UserListRequest, response=m.UserList)
def admin_get_users(ctx: Ctx) -> dict[str, Any]:
    """Administrators only. Every user by user name, without passwords; `offset`/`limit` page them."""
    rows, total = ctx.conductor.users.admin_get_users(ctx.params, ctx.authenticate)
    return {"rows": rows, "list": {"length": total}}
