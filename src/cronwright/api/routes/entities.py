"""Categories, groups, plugins, tags, roles and API keys: get_X(s), create_X, update_X, delete_X,
and ``multi_update_category`` / ``multi_update_group``."""

from __future__ import annotations

from typing import Any

from cronwright.api.registry import Ctx, EndpointSet
from cronwright.engine.apikeys import create_api_key
from cronwright.engine.entities import Kind
from cronwright.engine.kinds import ALL_KINDS, API_KEYS
from cronwright.engine.ordering import MULTI_UPDATE_FIELDS, multi_update
from cronwright.model import api as m

TAGS = {
    "categories": "Categories",
    "groups": "Groups",
    "plugins": "Plugins",
    "tags": "Tags",
    "roles": "Roles",
    "api_keys": "API Keys",
    "web_hooks": "Web Hooks",
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
        if kind.sort_order:
            rows = sorted(rows, key=_sort_key)
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

    if kind.kind in MULTI_UPDATE_FIELDS:
        _multi_update_route(router, kind)
    return router


def _multi_update_route(router: EndpointSet, kind: Kind) -> None:
    fields = " and ".join(f"`{f}`" for f in MULTI_UPDATE_FIELDS[kind.kind])
    edit_priv = kind.privileges[1] if kind.privileges else "admin"

    @router.endpoint(
        f"multi_update_{kind.one}",
        style="write",
        summary=f"Reorder or change several {kind.many}",
        request=m.CategoryMultiUpdate if kind.one == "category" else m.GroupMultiUpdate,
        response=m.Ok,
        description=(
            f"Requires `{edit_priv}` and no {kind.one} restriction. `items: [{{id, …}}]` sets {fields} of "
            f"each listed {kind.one} in one transaction (any other key is an `api` error; an unknown id a "
            f"`{kind.code}` error); `get_{kind.many}` lists by `sort_order`."
        ),
    )
    def multi_update_handler(ctx: Ctx) -> dict[str, Any]:
        conductor = ctx.conductor
        multi_update(conductor.catalog, conductor.clock, kind, ctx.params, ctx.authenticate, ctx.origin)
        return {}


def _sort_key(doc: dict[str, Any]) -> tuple[int, float]:
    """Numeric ``sort_order`` first (ascending; ``sorted`` keeps stored order on ties), others last."""
    value = doc.get("sort_order")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return 0, float(value)
    return 1, 0.0


ROUTERS = [_routes(kind) for kind in ALL_KINDS]


test_router = EndpointSet(tag="Web Hooks")


@test_router.endpoint(
    "test_web_hook",
    style="write",
    summary="Send one test request of a web hook definition",
    request=m.entity_models("web_hook", "web_hooks").create,
    response=m.WebHookTestResult,
)
async def test_web_hook(ctx: Ctx) -> dict[str, Any]:
    """Requires `edit_web_hooks`. Validates the definition in the body like `create_web_hook`, sends one
    live request built from it with sample data, and stores nothing (a saved hook with the same id
    is left as it is). `result.code` is 0 on HTTP 2xx, else `webhook`; `result.details` reports the
    request and the response."""
    return {"result": await ctx.conductor.web_hook_tester.test(ctx.params, ctx.authenticate)}
