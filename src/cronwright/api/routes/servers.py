"""Servers (servers-agents.md §9): get_active_servers, get_active_server, get_server, update_server,
delete_server. Handlers call the server registry (``engine/servers.py``)."""

from __future__ import annotations

from typing import Any

from cronwright.api.registry import Ctx, EndpointSet
from cronwright.engine.validation import ID_RE, require_params
from cronwright.errors import NotFound
from cronwright.model import api as m

router = EndpointSet(tag="Servers")


@router.endpoint("get_active_servers", style="read", summary="List connected servers", response=m.ServerList)
def get_active_servers(ctx: Ctx) -> dict[str, Any]:
    """Connected servers (the conductor's own machine and joined agents, in connection order) with
    live load and memory figures; group-limited callers see servers of their groups only."""
    rows = ctx.conductor.servers.active_servers(ctx.authenticate())
    return {"rows": rows, "list": {"length": len(rows)}}


@router.endpoint(
    "get_active_server",
    style="read",
    summary="Get one connected server",
    request=m.IdRequest,
    response=m.ServerResult,
)
def get_active_server(ctx: Ctx) -> dict[str, Any]:
    """One connected server; `notfound` when it is unknown or not connected."""
    require_params(ctx.params, {"id": ID_RE})
    who = ctx.authenticate()
    for server in ctx.conductor.servers.active_servers(who):
        if server["id"] == ctx.params["id"]:
            return {"server": server}
    raise NotFound("notfound", f"Failed to locate server: {ctx.params['id']}")


@router.endpoint(
    "get_server",
    style="read",
    summary="Get one server, online or not",
    request=m.IdRequest,
    response=m.ServerDetail,
)
def get_server(ctx: Ctx) -> dict[str, Any]:
    """Any identity. The server from the online set (`online: true`), the recently disconnected
    ones or storage (`online: false`); `data` is its last minute sample (`{}` without one).
    `notfound` "Failed to locate server: ID"; a group-limited caller needs one of the server's groups
    (a server without groups passes)."""
    require_params(ctx.params, {"id": ID_RE})
    return ctx.conductor.servers.get_server(ctx.params, ctx.authenticate())


@router.endpoint(
    "update_server",
    style="write",
    summary="Change a server's record",
    request=m.ServerUpdate,
    response=m.Ok,
)
def update_server(ctx: Ctx) -> dict[str, Any]:
    """Requires `update_servers`. Applies only `title`, `icon`, `enabled`, `groups`, `autoGroup`,
    `maxJobs`, `userData` (other keys are ignored); `"true"`/`"1"`/`"false"`/`"0"` are accepted for
    the booleans; a bad value is `api` "Malformed server parameter: KEY". `autoGroup: true` recomputes
    the groups from the host name; send `autoGroup: false` with `groups` to assign them by hand."""
    require_params(ctx.params, {"id": ID_RE})
    return ctx.conductor.servers.update_server(ctx.params, ctx.authenticate(), ctx.origin)


@router.endpoint(
    "delete_server",
    style="write",
    summary="Delete a server (revokes its credential)",
    request=m.ServerDelete,
    response=m.Ok,
)
def delete_server(ctx: Ctx) -> dict[str, Any]:
    """Administrators only. Revokes the server's credential (a later join is refused): an online
    agent is told to uninstall and is disconnected, an offline server's record is deleted. The
    conductor's own server cannot be deleted (`server` error; set `local_worker = false` instead)."""
    require_params(ctx.params, {"id": ID_RE})
    return ctx.conductor.servers.delete_server(ctx.params, ctx.authenticate(), ctx.origin)
