"""User sessions: ``/api/user/login`` and ``/api/user/logout``."""

from __future__ import annotations

from starlette.responses import Response

from cronwright import jsonutil
from cronwright.api.registry import Ctx, EndpointSet
from cronwright.model import api as m

router = EndpointSet(tag="Users", namespace="user")


@router.endpoint("login", style="write", summary="Log in", request=m.LoginRequest, response=m.LoginResult, auth=False)
def login(ctx: Ctx) -> Response:
    """Checks the user name and password and starts a session: the `session_id` cookie is set and
    the id is returned; send it later as the `X-Session-ID` header (or the cookie)."""
    session, user = ctx.conductor.users.login(ctx.params, ctx.origin)
    body = {"code": 0, "session_id": session["id"], "username": user["username"], "user": user}
    response = Response(jsonutil.dumps(body), media_type="application/json", headers={"cache-control": "no-store"})
    max_age = int(session["expires"] - session["created"])
    response.set_cookie("session_id", session["id"], max_age=max_age, httponly=True, samesite="lax", path="/")
    return response


@router.endpoint("logout", style="write", summary="Log out", response=m.Ok)
def logout(ctx: Ctx) -> Response:
    """Ends the caller's session."""
    ctx.conductor.users.logout(ctx.call.session_id, ctx.origin)
    response = Response(
        jsonutil.dumps({"code": 0}), media_type="application/json", headers={"cache-control": "no-store"}
    )
    response.delete_cookie("session_id", path="/")
    return response
