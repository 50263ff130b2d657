"""Scheduling endpoints: magic links and their form page, the forecast, the upcoming runs, the fire
ledger, and the test-only clock."""

from __future__ import annotations

import asyncio
import html
from typing import Any

from starlette.responses import HTMLResponse, Response

from cronwright.api.form_page import render_form
from cronwright.api.registry import Ctx, EndpointSet
from cronwright.clock import AdjustableClock
from cronwright.engine.common import int_param
from cronwright.engine.jobs.launch import LaunchError
from cronwright.engine.jobs.service import job_details_missing
from cronwright.engine.jobs.stream import stream_token
from cronwright.engine.runs import UploadedFile
from cronwright.engine.upcoming import forecast_rows, parse_upcoming, upcoming_runs
from cronwright.engine.validation import ID_RE, require_params
from cronwright.errors import Conflict, CwError, NotFound, api_error
from cronwright.model import api as m
from cronwright.triggers import ZoneCache

router = EndpointSet(tag="Scheduling")
#: the last instant a forecast may start from: 9999-12-31 23:59:59 UTC
MAX_INSTANT_S = 253_402_300_799


def _token_and_wait(ctx: Ctx) -> tuple[str, bool]:
    parts = ctx.call.suffix.split("/") if ctx.call.suffix else []
    if len(parts) == 2 and parts[1] == "wait":
        return parts[0], True
    if len(parts) != 1:
        raise CwError("api", "Malformed URL.", 400)
    return parts[0], False


@router.endpoint(
    "magic",
    style="read",
    summary="Start a job through a magic link",
    suffix=True,
    auth=False,
    multipart=True,
    request=m.Request,
    response=m.MagicResult,
)
async def magic(ctx: Ctx) -> dict[str, Any]:
    """`/api/app/magic/v1/<TOKEN>` (GET or POST; `/wait` suffix to wait for the result). No
    credentials: the token is the plain key of an enabled magic trigger. Query and body become job
    parameters (`input` the job input); uploaded files are limited by the event's `file` limit."""
    token, wait = _token_and_wait(ctx)
    conductor = ctx.conductor
    _event, request = conductor.magic.launch_request(
        token, ctx.call.query, ctx.call.body, ctx.call.files, ip=ctx.origin.ip, now=conductor.clock.now()
    )
    files = conductor.jobs.files
    now = conductor.clock.now()
    if ctx.call.files:
        batch = files.magic_batch()  # files/magic/<random>/<name>, records marked ``magic`` (sdk-wire.md §4.3)

        def store(upload: UploadedFile) -> dict[str, Any]:
            key, size = batch.store(upload.stream, upload.filename)
            return files.record(key, size, upload.filename, now, magic=True)

        inputs = request["input"] = dict(request.get("input") or {})
        inputs["files"] = list(inputs.get("files") or []) + [store(u) for u in ctx.call.files]
    try:
        job = conductor.jobs.launch(request)[0]
    except LaunchError as exc:
        raise Conflict("event", f"Failed to launch job: {exc}") from None
    if wait:
        final = await conductor.jobs.wait_final(job["id"])
        if final is None:
            raise job_details_missing(job["id"])
        return {"job": conductor.job_service.with_output(final)}
    return {
        "description": "Your job has started in the background.",
        "id": job["id"],
        "stream": stream_token(job["id"], conductor.secret_key),
    }


@router.endpoint("form", style="read", summary="The landing page of a magic link", suffix=True, auth=False, raw=True)
def form(ctx: Ctx) -> Response:
    """`/api/app/form/v1/<TOKEN>`: an HTML page with the event's fields and a file upload that starts
    the job through the magic link and shows its progress, log and result live."""
    token = ctx.call.suffix.strip("/")
    try:
        event, trigger = ctx.conductor.magic.find(token, ctx.origin.ip, ctx.conductor.clock.now())
    except CwError as exc:
        status = 429 if exc.code == "rate" else 404
        page = f"<!doctype html><title>{'Too many requests' if status == 429 else 'Not found'}</title>"
        return HTMLResponse(f"{page}<p>{html.escape(exc.description)}</p>", status_code=status)
    return HTMLResponse(render_form(event, trigger, token), headers={"cache-control": "no-store"})


@router.endpoint(
    "get_event_forecast",
    style="read",
    summary="The next launches of an event",
    request=m.ForecastRequest,
    response=m.ForecastResult,
)
def get_event_forecast(ctx: Ctx) -> dict[str, Any]:
    """The next `count` (1–1000, default 10) scheduled launch instants after `after` (default: now):
    for each, the trigger that fires it, its `until` when the job waits (delay, precision,
    interval), and any DST adjustment; instants suppressed by a blackout, range or every-nth rule
    are listed too, with `suppressed` and the reason (`suppressed: false` rows would launch).
    Only what the scheduler decides is shown: a disabled event, category or scheduler forecasts
    nothing (`active: false`)."""
    params = ctx.params
    require_params(params, {"id": ID_RE})
    count = int_param(params, "count", 10, minimum=1, maximum=1000)
    conductor = ctx.conductor
    after = params.get("after", conductor.clock.now())
    if isinstance(after, str):
        try:
            after = float(after)
        except ValueError:
            raise api_error("Malformed parameter: after (Unix seconds)") from None
    if isinstance(after, bool) or not isinstance(after, (int, float)) or not 0 <= after <= MAX_INSTANT_S:
        raise api_error("Malformed parameter: after (Unix seconds)")  # NaN and infinities fail the range too
    who = ctx.authenticate()
    event = conductor.catalog["events"].get(params["id"])
    if event is None:
        raise NotFound("event", f"Event not found: {params['id']}")
    who.require_scope(event)
    scheduler = conductor.scheduler
    compiled = scheduler.compiled(event)
    nth = int(conductor.store.get_event_state(event["id"]).get("nth") or 0)
    items = compiled.forecast(float(after), count, nth, ZoneCache())
    rows = forecast_rows(event, compiled, items, scheduler.default_tz)
    active = scheduler.eligible(event) and conductor.state.scheduler_enabled and compiled.launching
    return {"rows": rows, "list": {"length": len(rows)}, "active": active, "timezone": scheduler.default_tz}


@router.endpoint(
    "get_upcoming_runs",
    style="read",
    summary="Upcoming runs across events (Cronwright extension)",
    request=m.UpcomingRequest,
    response=m.UpcomingResult,
)
async def get_upcoming_runs(ctx: Ctx) -> dict[str, Any]:
    """The scheduled runs of every event the caller may see, in time order, from `from` (default:
    now; Unix seconds or ISO 8601, without an offset in the server's zone) to `to` or `from` +
    `hours` (default 24 hours, at most 31 days). Filters: `ids` and `category` (arrays or CSV).
    Each row names the event, `epoch` and `iso` (in the firing trigger's zone), the trigger (index,
    type) and, for a run that will not happen, `suppressed: true` with `reason` (blackout, range,
    nth; disabled, category, plugin or scheduler when the scheduler skips the event) and `detail`;
    `suppressed=false` leaves those out. At most `limit` rows (1–1000, default 100); `truncated`
    says the window holds more."""
    conductor = ctx.conductor
    scheduler = conductor.scheduler
    query = parse_upcoming(ctx.params, conductor.clock.now(), scheduler.default_tz)
    who = ctx.authenticate()
    # walking every event's minutes takes tens of milliseconds per event: on a thread, so other
    # requests are answered meanwhile (the catalog's documents are read-only)
    return await asyncio.to_thread(
        upcoming_runs,
        who,
        query,
        catalog=conductor.catalog,
        scheduler=scheduler,
        store=conductor.store,
        scheduler_enabled=conductor.state.scheduler_enabled,
    )


@router.endpoint(
    "get_event_fires",
    style="read",
    summary="Recorded scheduled fires of an event",
    request=m.HistoryRequest,
    response=m.FireList,
)
def get_event_fires(ctx: Ctx) -> dict[str, Any]:
    """The fire ledger, newest first: every scheduled fire with `status` `launched` (and its
    `job_id`), `skipped` (missed while the scheduler was not running, with `reason`) or `failed`
    (the launch was refused, with `reason`). `offset`, `limit` (default 50)."""
    params = ctx.params
    require_params(params, {"id": ID_RE})
    offset = int_param(params, "offset", 0)
    limit = int_param(params, "limit", 50, minimum=1, maximum=1000)
    who = ctx.authenticate()
    event = ctx.conductor.catalog["events"].get(params["id"])
    if event is not None:
        who.require_scope(event)
    elif not who.is_admin:
        raise NotFound("event", f"Event not found: {params['id']}")
    rows, total = ctx.conductor.store.fires_of(params["id"], offset, limit)
    return {"rows": rows, "list": {"length": total}}


@router.endpoint("test_set_clock", style="write", summary="TEST ONLY: move the server's clock", response=m.Ok)
def test_set_clock(ctx: Ctx) -> dict[str, Any]:
    """Only when the server runs with `test_api = 1`: sets the server's notion of now (`now`, Unix
    seconds); administrators only. Answers 404 otherwise."""
    clock = ctx.conductor.clock
    if not ctx.conductor.settings.test_api or not isinstance(clock, AdjustableClock):
        raise NotFound("api", "Unsupported API: test_set_clock")
    who = ctx.authenticate()
    who.require_admin()
    now = ctx.params.get("now")
    if isinstance(now, bool) or not isinstance(now, (int, float)) or now <= 0:
        raise api_error("Malformed parameter: now (Unix seconds)")
    clock.set(float(now))
    return {"now": clock.now()}
