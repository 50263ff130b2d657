"""The seven seed endpoints: get_events, get_event, create_event, update_event, delete_event,
get_event_history (run_event lives in runs.py)."""

from __future__ import annotations

from typing import Any

from cronwright.api.registry import Ctx, EndpointSet, RawJSON
from cronwright.model import api as m

router = EndpointSet(tag="Events")


@router.endpoint("get_events", style="read", summary="List events", request=m.GetEventsRequest, response=m.EventList)
def get_events(ctx: Ctx) -> RawJSON:
    """All events the caller may see. Every other parameter is an equality filter on a top-level
    event field (JavaScript loose equality); `list.length` counts the visible events before filters."""
    who = ctx.authenticate()
    ids, total = ctx.conductor.events.list_events(who, ctx.params)
    events = ctx.conductor.catalog["events"]
    rows = b",".join(events.json(i) for i in ids)
    return RawJSON(b'{"code":0,"rows":[' + rows + b'],"list":{"length":%d}}' % total)


@router.endpoint("get_event", style="read", summary="Get one event", request=m.IdRequest, response=m.EventDetail)
def get_event(ctx: Ctx) -> dict[str, Any]:
    """The event, its running jobs (`jobs`, state `active`) and the number of queued jobs."""
    return ctx.conductor.events.get_event(ctx.params, ctx.authenticate)


@router.endpoint(
    "create_event", style="write", summary="Create an event", request=m.EventCreate, response=m.EventResult
)
def create_event(ctx: Ctx) -> dict[str, Any]:
    """Requires `create_events` and scope on the category and targets. The payload is validated
    before authentication. `warnings` (a Cronwright addition, only when there are some) points out
    what was saved but is probably a mistake: a misspelt key, an unknown target or `algo`, a time
    zone spelt in the wrong case (saved corrected)."""
    warnings: list[str] = []
    event = ctx.conductor.events.create_event(ctx.params, ctx.authenticate, ctx.origin, warnings)
    return _with_warnings({"event": event}, warnings)


@router.endpoint(
    "update_event", style="write", summary="Update an event", request=m.EventUpdate, response=m.EventResult
)
def update_event(ctx: Ctx) -> dict[str, Any]:
    """Shallow merge into the stored event (each given key replaces the stored value). Requires
    `edit_events`. Send `revision` for compare-and-set; `update_state` changes the event's state.
    `warnings` as for `create_event`, about the keys the update sends."""
    warnings: list[str] = []
    event = ctx.conductor.events.update_event(ctx.params, ctx.authenticate, ctx.origin, warnings)
    return _with_warnings({"event": event}, warnings)


def _with_warnings(body: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    if warnings:
        body["warnings"] = warnings
    return body


@router.endpoint("delete_event", style="write", summary="Delete an event", request=m.DeleteEventRequest, response=m.Ok)
def delete_event(ctx: Ctx) -> dict[str, Any]:
    """Requires `delete_events`; refused while the event has active or queued jobs. With
    `delete_jobs` its job history is removed in the background."""
    ctx.conductor.events.delete_event(ctx.params, ctx.authenticate, ctx.origin)
    return {}


@router.endpoint(
    "get_event_history",
    style="read",
    summary="Revision history of an event",
    request=m.HistoryRequest,
    response=m.ActivityList,
)
def get_event_history(ctx: Ctx) -> dict[str, Any]:
    """Activity records (`event_create`, `event_update`, `event_delete`) of the event, newest
    first; `limit` defaults to 1 as in xyOps."""
    rows, total = ctx.conductor.events.get_history(ctx.params, ctx.authenticate)
    return {"rows": rows, "list": {"length": total}}
