"""Health, global state and the activity log."""

from __future__ import annotations

from typing import Any

from cronwright.api.registry import Ctx, EndpointSet
from cronwright.engine.activity import parse_activity_filter, public_row
from cronwright.engine.common import int_param, sort_dir_param
from cronwright.errors import CwError, api_error
from cronwright.model import api as m
from cronwright.store.base import ActivityQuery

router = EndpointSet(tag="System")


@router.endpoint("ping", style="none", summary="Health check", response=m.Ok, auth=False)
def ping(ctx: Ctx) -> dict[str, Any]:
    """Answers `{code: 0}` without credentials."""
    return {}


@router.endpoint("error", style="none", summary="Test error", response=m.Ok, auth=False)
def error(ctx: Ctx) -> dict[str, Any]:
    """Always fails with code `test` (for client tests; HTTP 400 on versioned URLs)."""
    raise CwError("test", "This is a test error message.", 400)


@router.endpoint(
    "get_conductors", style="read", summary="List the conductors (Cronwright extension)", response=m.ConductorList
)
def get_conductors(ctx: Ctx) -> dict[str, Any]:
    """The conductors sharing this database (docs/ha.md), with which one leads: id, address,
    leader, epoch, last heartbeat, version. Any authenticated caller."""
    ctx.authenticate()
    rows = ctx.conductor.cluster.conductors()
    return {"rows": rows, "list": {"length": len(rows)}}


@router.endpoint("get_global_state", style="read", summary="Get the global state", response=m.StateResult)
def get_global_state(ctx: Ctx) -> dict[str, Any]:
    """The scheduler switch and other global flags, plus the state of each event the caller may see
    under `events`."""
    who = ctx.authenticate()
    conductor = ctx.conductor
    events = conductor.catalog["events"]
    states = {
        event_id: state
        for event_id, state in conductor.store.load_event_states().items()
        if who.is_admin or ((event := events.get(event_id)) is not None and who.can_see(event))
    }
    return {"state": conductor.state.snapshot(states)}


@router.endpoint(
    "update_global_state",
    style="write",
    summary="Change the global state",
    request=m.StateUpdate,
    response=m.StateResult,
)
def update_global_state(ctx: Ctx) -> dict[str, Any]:
    """Administrators only. Each key is a dot path, e.g. `{"scheduler.enabled": false}`."""
    who = ctx.authenticate()
    state = ctx.conductor.state.update(ctx.params, who, ctx.origin)
    return {"state": state}


@router.endpoint(
    "search_activity",
    style="read",
    summary="Search the activity log",
    request=m.SearchRequest,
    response=m.ActivityList,
)
def search_activity(ctx: Ctx) -> dict[str, Any]:
    """Administrators only. `query` is `*` or `field:value` terms: `action` and `keywords` (`a|b`
    alternatives) and `date` (`date:>=EPOCH`, `date:<EPOCH`, `date:A..B`, `date:YYYY-MM-DD`), e.g.
    `action:event_update keywords:event100 date:>=1766000000`. Newest first; `limit` defaults to 1."""
    params = ctx.params
    query = params.get("query", "*")
    if not isinstance(query, str):
        raise api_error("Malformed parameter: query")
    found = parse_activity_filter(query)
    offset = int_param(params, "offset", 0)
    limit = int_param(params, "limit", 1, maximum=10_000)
    newest_first = sort_dir_param(params)
    ctx.authenticate().require_admin()
    rows, total = ctx.conductor.store.search_activity(
        ActivityQuery(
            actions=found.actions,
            keywords=found.keywords,
            since=found.since,
            until=found.until,
            offset=offset,
            limit=limit,
            newest_first=newest_first,
        )
    )
    shown = [{**public_row(r), "useragent": (r.get("headers") or {}).get("user-agent", "")} for r in rows]
    return {"rows": shown, "list": {"length": total}}
