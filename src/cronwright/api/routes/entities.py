"""Categories, groups, plugins, tags, roles and API keys: get_X(s), create_X, update_X, delete_X."""

from __future__ import annotations

from typing import Any

from cronwright.api.registry import Ctx, EndpointSet
from cronwright.engine.apikeys import create_api_key
from cronwright.engine.entities import Kind
from cronwright.engine.kinds import ALL_KINDS, API_KEYS
from cronwright.model import api as m

TAGS = {
    "categories": "Categories",
    "groups": "Groups",
    "plugins": "Plugins",
    "tags": "Tags",
    "roles": "Roles",
    "api_keys": "API Keys",
}


def _routes(kind: Kind) -> EndpointSet:
    router = EndpointSet(tag=TAGS[kind.kind])
    models = m.entity_models(kind.one, kind.many)
    if kind.privileges is None:
        rules = {verb: "Administrators only." for verb in ("list", "get", "create", "update", "delete")}
    else:
        create_priv, edit_priv, delete_priv = kind.privileges
        rules = {
            "list": "Any valid identity.",
            "get": "Any valid identity.",
            "create": f"Requires `{create_priv}`.",
            "update": f"Requires `{edit_priv}`; a shallow merge.",
            "delete": f"Requires `{delete_priv}`.",
        }

    @router.endpoint(
        f"get_{kind.many}",
        style="read",
        summary=f"List {kind.many.replace('_', ' ')}",
        response=models.listing,
        description=rules["list"],
    )
    def list_all(ctx: Ctx) -> dict[str, Any]:
        rows = ctx.conductor.entities.visible(kind, ctx.authenticate())
        return {"rows": rows, "list": {"length": len(rows)}}

    @router.endpoint(
        f"get_{kind.one}",
        style="read",
        summary=f"Get one {kind.title.lower()}",
        request=m.IdRequest,
        response=models.single,
        description=rules["get"],
    )
    def get_one(ctx: Ctx) -> dict[str, Any]:
        return {kind.one: ctx.conductor.entities.get(kind, ctx.params, ctx.authenticate)}

    @router.endpoint(
        f"create_{kind.one}",
        style="write",
        summary=f"Create a {kind.title.lower()}",
        request=models.create,
        response=models.created,
        description=rules["create"],
    )
    def create(ctx: Ctx) -> dict[str, Any]:
        if kind is API_KEYS:
            doc, plain = create_api_key(ctx.conductor.entities, ctx.params, ctx.authenticate, ctx.origin)
            return {kind.one: doc, "plain_key": plain}
        return {kind.one: ctx.conductor.entities.create(kind, ctx.params, ctx.authenticate, ctx.origin)}

    @router.endpoint(
        f"update_{kind.one}",
        style="write",
        summary=f"Update a {kind.title.lower()}",
        request=models.update,
        response=models.updated,
        description=rules["update"],
    )
    def update(ctx: Ctx) -> dict[str, Any]:
        doc = ctx.conductor.entities.update(kind, ctx.params, ctx.authenticate, ctx.origin)
        return {kind.one: doc} if kind.update_returns_doc else {}

    @router.endpoint(
        f"delete_{kind.one}",
        style="write",
        summary=f"Delete a {kind.title.lower()}",
        request=m.IdRequest,
        response=m.Ok,
        description=rules["delete"],
    )
    def delete(ctx: Ctx) -> dict[str, Any]:
        doc = ctx.conductor.entities.delete(kind, ctx.params, ctx.authenticate, ctx.origin)
        if kind is API_KEYS:
            ctx.conductor.auth.forget_key(doc["id"])
        return {}

    return router


ROUTERS = [_routes(kind) for kind in ALL_KINDS]
