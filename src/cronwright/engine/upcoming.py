"""What runs next: the forecast of one event as rows (``get_event_forecast``), and the upcoming runs
of every event a caller may see, merged in time order (``get_upcoming_runs``, a Cronwright
extension).

Both read the scheduler's own compiled triggers and the pure forecast (``triggers.forecast``), so
what is shown is what the minute tick will do. On top of the forecast's own suppressions (blackout,
range, every-nth), ``get_upcoming_runs`` shows the launches of events the scheduler skips as a
whole (event, category or plugin disabled, scheduler switched off) as suppressed, with the reason.

The work is bounded: the window is at most ``MAX_WINDOW_S``, at most ``MAX_LIMIT`` rows are
answered, each event contributes at most ``limit + 1`` launches and as many suppressed ones, and
once ``limit`` rows are known the window of the events still to forecast shrinks to end at the
latest row kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cronwright.engine.catalog import Catalog
from cronwright.engine.common import int_param
from cronwright.engine.identity import Identity
from cronwright.engine.scheduler import Scheduler
from cronwright.engine.validation import ID_RE
from cronwright.errors import api_error
from cronwright.store.base import Store
from cronwright.triggers import CompiledTriggers, Fire, Suppressed, ZoneCache
from cronwright.triggers.launchers import ScheduleLauncher
from cronwright.triggers.zones import load_zone

DEFAULT_WINDOW_S = 24 * 3600
MAX_WINDOW_S = 31 * 86400
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
#: the most event ids or categories one request may name
MAX_FILTER_ITEMS = 1000
#: the latest accepted ``from``/``to``: a whole window (and a day of zone offsets) before the year 10000
_LAST_EPOCH = 253402300800 - MAX_WINDOW_S - 86400
_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$")
_TRUE = (True, 1, "1", "true", "yes", "on")
_FALSE = (False, 0, "0", "false", "no", "off")


@dataclass(frozen=True)
class UpcomingQuery:
    """A checked ``get_upcoming_runs`` request: runs with ``after < epoch ≤ until``."""

    after: float
    until: float
    limit: int
    event_ids: frozenset[str] | None
    categories: frozenset[str] | None
    include_suppressed: bool


def forecast_rows(
    event: dict[str, Any], compiled: CompiledTriggers, items: Iterable[Fire | Suppressed], default_tz: str
) -> list[dict[str, Any]]:
    """The forecast items of one event as API rows: ``at`` (epoch seconds), ``iso`` (the same instant
    in the zone of the trigger that fires it), the trigger's index and type, and either the launch
    details or ``suppressed: true`` with ``reason`` and ``detail``."""
    listed = event.get("triggers")
    triggers: list[Any] = listed if isinstance(listed, list) else []
    zones = {launcher.index: launcher.zone for launcher in compiled.launchers if isinstance(launcher, ScheduleLauncher)}
    rows = []
    for item in items:
        index = item.trigger_index
        trigger = triggers[index] if 0 <= index < len(triggers) and isinstance(triggers[index], dict) else {}
        zone = zones.get(index, default_tz)
        row: dict[str, Any] = {
            "at": item.at,
            "iso": iso_time(item.at, zone),
            "timezone": zone,
            "minute": item.minute,
            "trigger": index,
            "type": trigger.get("type"),
        }
        if isinstance(item, Fire):
            row.update(suppressed=False, until=item.until, stype=item.stype, dst=item.dst)
        else:
            row.update(suppressed=True, reason=item.reason, detail=item.detail)
        rows.append(row)
    return rows


def iso_time(epoch: float, zone: str) -> str:
    """``epoch`` as ISO 8601 with the UTC offset of ``zone`` (UTC when the zone is unknown)."""
    tz = load_zone(zone) or UTC
    return datetime.fromtimestamp(epoch, tz).isoformat()


def parse_upcoming(params: dict[str, Any], now: float, default_tz: str) -> UpcomingQuery:
    """Check the parameters (an ``api`` error, HTTP 400, names the first bad one)."""
    after = _instant(params, "from", now, default_tz)
    if params.get("to") not in (None, "") and params.get("hours") not in (None, ""):
        raise api_error("Malformed parameters: give either to or hours, not both")
    if params.get("hours") not in (None, ""):
        hours = _number(params, "hours")
        if not 0 < hours <= MAX_WINDOW_S / 3600:
            raise api_error(f"Malformed parameter: hours (must be more than 0 and at most {MAX_WINDOW_S // 3600})")
        until = after + hours * 3600
    else:
        until = _instant(params, "to", after + DEFAULT_WINDOW_S, default_tz)
    if until <= after:
        raise api_error("Malformed parameter: to (must be later than from)")
    if until - after > MAX_WINDOW_S:
        raise api_error(f"Malformed parameter: to (the window is at most {MAX_WINDOW_S // 86400} days)")
    return UpcomingQuery(
        after=after,
        until=until,
        limit=int_param(params, "limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT),
        event_ids=_id_list(params, "ids"),
        categories=_id_list(params, "category"),
        include_suppressed=_flag(params, "suppressed", True),
    )


def upcoming_runs(
    who: Identity,
    query: UpcomingQuery,
    *,
    catalog: Catalog,
    scheduler: Scheduler,
    store: Store,
    scheduler_enabled: bool,
) -> dict[str, Any]:
    """The runs of the events ``who`` may see (and ``query`` selects) in the window, in time order."""
    events = [
        event
        for event in list(catalog["events"].values())  # a snapshot: this may run on a thread
        if (query.event_ids is None or event["id"] in query.event_ids)
        and (query.categories is None or event.get("category") in query.categories)
        and who.can_see(event)
    ]
    launching = [(event, compiled) for event in events if (compiled := scheduler.compiled(event)).launching]
    needs_state = [event["id"] for event, compiled in launching if compiled.nth_every]
    states = store.event_states(needs_state) if needs_state else {}
    zones = ZoneCache()
    rows: list[dict[str, Any]] = []
    until, truncated = query.until, False
    for event, compiled in launching:
        scheduled = scheduler_enabled and scheduler.eligible(event)
        blocked = None if scheduled else _blocked(event, catalog, scheduler_enabled)
        if blocked is not None and not query.include_suppressed:
            continue
        horizon_days = max(1, math.ceil((until - query.after) / 86400))
        nth = int(states.get(event["id"], {}).get("nth") or 0)
        items = compiled.forecast(
            query.after,
            query.limit + 1,
            nth,
            zones,
            horizon_days=horizon_days,
            include_suppressed=query.include_suppressed,
        )
        for row in forecast_rows(event, compiled, items, scheduler.default_tz):
            if row["at"] <= until:
                rows.append(_upcoming_row(event, row, blocked))
            elif row["at"] <= query.until:
                truncated = True  # beyond the rows already kept (the window shrank)
        if len(rows) > 2 * query.limit:
            rows.sort(key=_order)
            del rows[query.limit :]
            truncated, until = True, rows[-1]["epoch"]
    rows.sort(key=_order)
    if len(rows) > query.limit:
        truncated = True
        del rows[query.limit :]
    return {
        "rows": rows,
        "list": {"length": len(rows)},
        "truncated": truncated,
        "from": query.after,
        "to": query.until,
        "timezone": scheduler.default_tz,
    }


def _upcoming_row(event: dict[str, Any], row: dict[str, Any], blocked: tuple[str, str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "event": event["id"],
        "title": event.get("title"),
        "category": event.get("category"),
        "epoch": row["at"],
        "iso": row["iso"],
        "timezone": row["timezone"],
        "trigger": row["trigger"],
        "type": row["type"],
        "suppressed": row["suppressed"],
    }
    if row["suppressed"]:
        out.update(reason=row["reason"], detail=row["detail"])
    elif blocked is not None:
        out.update(suppressed=True, reason=blocked[0], detail=blocked[1])
    else:
        for key in ("until", "stype", "dst"):
            if row.get(key) is not None:
                out[key] = row[key]
    return out


def _order(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["epoch"], row["event"], row["trigger"])


def _blocked(event: dict[str, Any], catalog: Catalog, scheduler_enabled: bool) -> tuple[str, str]:
    """Why the scheduler launches nothing of ``event`` (``Scheduler.eligible`` said no): (reason, detail)."""
    if not scheduler_enabled:
        return "scheduler", "The scheduler is switched off (global state scheduler.enabled)."
    if not event.get("enabled"):
        return "disabled", "The event is disabled."
    category = catalog["categories"].get(event.get("category"))
    if category is None:
        return "category", f"The category {event.get('category')} does not exist."
    if not category.get("enabled"):
        return "category", f"The category {event.get('category')} is disabled."
    return "plugin", f"The plugin {event.get('plugin')} is disabled."


def _number(params: dict[str, Any], key: str) -> float:
    value = params.get(key)
    if isinstance(value, str) and _NUMBER.match(value):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise api_error(f"Malformed parameter: {key} (a number)")
    return float(value)


def _instant(params: dict[str, Any], key: str, default: float, default_tz: str) -> float:
    """Unix seconds, or ISO 8601 text (without an offset: the server's time zone)."""
    value = params.get(key)
    if value is None or value == "":
        return default
    malformed = api_error(f"Malformed parameter: {key} (Unix seconds or ISO 8601 date and time)")
    if isinstance(value, str) and not _NUMBER.match(value):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise malformed from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=load_zone(default_tz) or UTC)
        epoch = moment.timestamp()
    elif isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise malformed
    else:
        epoch = _number(params, key)
    if not 0 <= epoch <= _LAST_EPOCH:
        raise malformed
    return epoch


def _id_list(params: dict[str, Any], key: str) -> frozenset[str] | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or len(items) > MAX_FILTER_ITEMS:
        raise api_error(f"Malformed parameter: {key} (an array or comma-separated list of ids)")
    ids = [item.strip() if isinstance(item, str) else item for item in items]
    if not all(isinstance(item, str) and ID_RE.match(item) for item in ids):
        raise api_error(f"Malformed parameter: {key} (an array or comma-separated list of ids)")
    return frozenset(ids)


def _flag(params: dict[str, Any], key: str, default: bool) -> bool:
    value = params.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, str):
        value = value.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise api_error(f"Malformed parameter: {key} (true or false)")
