"""Cronwright extensions the web UI's events pages need beyond the xyOps API (docs/ui.md lists them).

- ``get_event_summaries``: for every event the caller may see, its next scheduled launch and its last
  result, in one call (the events list shows both for 10,000 events; ``get_event_forecast`` is one
  call per event and ``get_upcoming_runs`` caps its rows across all events).
- ``preview_event_forecast``: the forecast of triggers that are not saved yet (the event editor's
  live forecast while the user types), checked with the same validation as ``create_event``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import BaseModel, Field

from cronwright.api.registry import Ctx, EndpointSet
from cronwright.engine.common import int_param
from cronwright.engine.identity import Identity
from cronwright.engine.lookup import CatalogLookup
from cronwright.engine.scheduler import Scheduler
from cronwright.engine.upcoming import forecast_rows
from cronwright.engine.validation import ID_RE, apply_field_defaults, validate_fields, validate_triggers
from cronwright.errors import api_error
from cronwright.model import api as m
from cronwright.triggers import ZoneCache, compile_triggers

router = EndpointSet(tag="Web UI")

#: how far ahead the events list looks for an event's next launch
SUMMARY_HORIZON_DAYS = 366


class SummariesRequest(m.Request):
    ids: list[str] | None = Field(None, description="Only these events (default: every event the caller may see).")


class EventSummary(BaseModel):
    id: str
    next: int | None = Field(None, description="The next scheduled launch (Unix seconds) within a year, if any.")
    next_trigger: int | None = Field(None, description="Index of the trigger that fires `next`.")
    blocked: str | None = Field(
        None,
        description="Why the scheduler launches nothing now although the event is enabled: "
        "`category`, `plugin` or `scheduler` (switched off).",
    )
    last_job: str | None = Field(None, description="The last finished (non-retried) job.")
    last_code: Any = Field(None, description="Its `code` (0 success, else the failure code).")
    last_completed: int | None = Field(None, description="When it finished (Unix seconds).")


class SummariesResult(m.Envelope):
    rows: list[EventSummary]
    list: m.ListInfo
    timezone: str = Field(description="The server's default time zone (schedules without a zone use it).")
    elapsed_ms: float = Field(description="How long the server took to compute the answer.")


class PreviewRequest(m.Request):
    triggers: list[Any] = Field(description="The triggers to forecast, as they would be saved.")
    fields: list[Any] | None = Field(None, description="The event's user fields (for trigger params).")
    id: str | None = Field(None, description="A saved event: its every-nth counter is used.")
    count: int | None = Field(10, description="1–100")
    after: float | None = Field(None, description="Unix seconds (default: now).")


@router.endpoint(
    "get_event_summaries",
    style="read",
    summary="Next run and last result of every event (Cronwright extension)",
    request=SummariesRequest,
    response=SummariesResult,
)
async def get_event_summaries(ctx: Ctx) -> dict[str, Any]:
    """One row per event the caller may see (or per id of `ids`): `next`, the first launch the
    triggers schedule within a year after now (whether or not the event is enabled: the list shows
    a disabled event's next run once it is enabled again), with `blocked` naming what else keeps the
    scheduler from launching it (`category` or `plugin` disabled, `scheduler` switched off); and the
    last result from the event's state (`last_job`, `last_code`, `last_completed`). Any valid
    identity."""
    ids = ctx.params.get("ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) and ID_RE.match(i) for i in ids)):
        raise api_error("Malformed parameter: ids (an array of event ids)")
    who = ctx.authenticate()
    conductor = ctx.conductor
    return await asyncio.to_thread(
        _summaries,
        who,
        None if ids is None else frozenset(ids),
        conductor.catalog["events"],
        conductor.catalog["categories"],
        conductor.catalog["plugins"],
        conductor.scheduler,
        conductor.store,
        conductor.state.scheduler_enabled,
        conductor.clock.now(),
    )


def _summaries(
    who: Identity,
    ids: frozenset[str] | None,
    events: Any,
    categories: Any,
    plugins: Any,
    scheduler: Scheduler,
    store: Any,
    scheduler_enabled: bool,
    now: float,
) -> dict[str, Any]:
    started = time.perf_counter()
    visible = [event for event in list(events.values()) if (ids is None or event["id"] in ids) and who.can_see(event)]
    states = store.event_states([event["id"] for event in visible]) if visible else {}
    zones = ZoneCache()
    rows = []
    for event in visible:
        state = states.get(event["id"], {})
        row: dict[str, Any] = {"id": event["id"]}
        compiled = scheduler.compiled(event)
        if compiled.launching:
            nth = int(state.get("nth") or 0)
            fires = compiled.forecast(now, 1, nth, zones, horizon_days=SUMMARY_HORIZON_DAYS, include_suppressed=False)
            if fires:
                row["next"], row["next_trigger"] = int(fires[0].at), fires[0].trigger_index
        blocked = _blocked(event, categories, plugins, scheduler_enabled)
        if blocked:
            row["blocked"] = blocked
        for key in ("last_job", "last_code", "last_completed"):
            if key in state:
                row[key] = state[key]
        rows.append(row)
    return {
        "rows": rows,
        "list": {"length": len(rows)},
        "timezone": scheduler.default_tz,
        "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
    }


def _blocked(event: dict[str, Any], categories: Any, plugins: Any, scheduler_enabled: bool) -> str | None:
    if not scheduler_enabled:
        return "scheduler"
    category = categories.get(event.get("category"))
    if category is None or not category.get("enabled"):
        return "category"
    plugin = plugins.get(event.get("plugin"))
    if plugin is not None and not plugin.get("enabled"):
        return "plugin"
    return None


@router.endpoint(
    "preview_event_forecast",
    style="write",
    summary="Forecast triggers that are not saved yet (Cronwright extension)",
    request=PreviewRequest,
    response=m.ForecastResult,
)
def preview_event_forecast(ctx: Ctx) -> dict[str, Any]:
    """The next `count` (1–100, default 10) launches of `triggers` after `after` (default: now), in
    the shape of `get_event_forecast` (suppressed instants included, with their reason; DST notes in
    `dst`). The triggers are validated as `create_event` validates them (an `api` error naming the
    trigger entry otherwise); nothing is stored. With `id` of a saved event, its every-nth counter
    is used. `active` is false when no enabled trigger launches on a schedule. Any valid identity
    (checked first). Only the triggers (and user fields) are checked: category, plugin and targets
    are not looked at."""
    who = ctx.authenticate()
    params = ctx.params
    triggers = params.get("triggers")
    if not isinstance(triggers, list):
        raise api_error("Malformed event parameter: triggers (must be array)")
    fields = params.get("fields") or []
    count = int_param(params, "count", 10, minimum=1, maximum=100)
    after = params.get("after")
    conductor = ctx.conductor
    if after is None:
        after = conductor.clock.now()
    if isinstance(after, bool) or not isinstance(after, (int, float)) or not 0 <= after <= 253_402_300_799:
        raise api_error("Malformed parameter: after (Unix seconds)")
    event_id = params.get("id")
    if event_id is not None and (not isinstance(event_id, str) or not ID_RE.match(event_id)):
        raise api_error("Malformed parameter: id")
    lookup = CatalogLookup(conductor.catalog)
    validate_fields(fields, locked_ids=())
    triggers = [dict(t) if isinstance(t, dict) else t for t in triggers]
    apply_field_defaults(triggers, fields)
    validate_triggers(triggers, fields=fields, lookup=lookup)
    nth = 0
    if event_id:
        stored = conductor.catalog["events"].get(event_id)
        if stored is not None and who.can_see(stored):
            nth = int(conductor.store.get_event_state(event_id).get("nth") or 0)
    scheduler = conductor.scheduler
    compiled = compile_triggers(triggers, scheduler.default_tz)
    items = compiled.forecast(float(after), count, nth, ZoneCache())
    rows = forecast_rows({"triggers": triggers}, compiled, items, scheduler.default_tz)
    return {"rows": rows, "list": {"length": len(rows)}, "active": compiled.launching, "timezone": scheduler.default_tz}
