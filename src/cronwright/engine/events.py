"""Event use cases: list, get, create, update, delete, history (events.md §3).

Each use case takes the request parameters and an ``authenticate`` callable, and performs the
xyOps order of checks: parameter format, then authentication, then privilege, then lookup, then
category/target scope, then business rules (create validates the payload before authenticating).

Concurrent updates: updates of one event are applied one after another, each as a shallow merge
onto the latest stored version, and each stores a compare-and-set on ``revision``; so two
concurrent updates both land (the later one wins on keys both set) and both appear in the
history with consecutive revisions. A client that must not overwrite a change it has not seen
sends ``revision``: a mismatch answers ``event`` "Event out of date" (HTTP 409).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from cronwright.clock import Clock
from cronwright.engine import activity
from cronwright.engine.activity import Origin
from cronwright.engine.catalog import Catalog
from cronwright.engine.common import (
    LAUNCH_CONTEXT_KEYS,
    SERVER_SET_KEYS,
    int_param,
    loose_equal,
    sort_dir_param,
)
from cronwright.engine.identity import Identity
from cronwright.engine.jobindex import JobIndex
from cronwright.engine.jobs.selection import ALGORITHMS
from cronwright.engine.lookup import CatalogLookup
from cronwright.engine.permits import Permits
from cronwright.engine.validation import (
    ID_RE,
    apply_field_defaults,
    hash_magic_keys,
    normalize_trigger_epochs,
    require_params,
    strip_html_fields,
    validate_create_request,
    validate_event_data,
)
from cronwright.engine.validation.advice import event_warnings, fix_timezone_case
from cronwright.errors import Conflict, NotFound, api_error
from cronwright.ids import generate_id
from cronwright.store.base import ACTIVE_JOB_STATES, ActivityQuery, StaleWrite

Authenticate = Callable[[], Identity]
HISTORY_ACTIONS = ("event_create", "event_update", "event_delete")
_UPDATE_ATTEMPTS = 3


def _strip_keys(doc: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        doc.pop(key, None)


class EventService:
    def __init__(
        self,
        catalog: Catalog,
        jobs: JobIndex,
        clock: Clock,
        background: Callable[[str, Callable[[], Any]], None],
        permits: Permits,
        *,
        max_script_bytes: int,
    ) -> None:
        self._catalog = catalog
        self._max_script_bytes = max_script_bytes
        self._permits = permits
        self._events = catalog["events"]
        self._jobs = jobs
        self._clock = clock
        self._background = background
        self._lookup = CatalogLookup(catalog)

    # reading

    def list_events(self, who: Identity, filters: dict[str, Any]) -> tuple[list[str], int]:
        """Ids of the events the caller may see that match ``filters``, and the visible total."""
        visible = [e for e in self._events.values() if who.can_see(e)]
        if filters:
            items = list(filters.items())
            rows = [e for e in visible if all(loose_equal(e.get(k), v) for k, v in items)]
        else:
            rows = visible
        return [e["id"] for e in rows], len(visible)

    def get_event(self, params: dict[str, Any], authenticate: Authenticate) -> dict[str, Any]:
        require_params(params, {"id": ID_RE})
        who = authenticate()
        event = self._events.get(params["id"])
        if event is None:
            raise NotFound("notfound", f"Failed to locate event: {params['id']}")
        who.require_scope(event)
        active = [j for j in self._jobs.jobs_in_state(event["id"], "active") if who.can_see(j)]
        queued = self._jobs.count_in_states(event["id"], ("queued",))
        return {"event": event, "jobs": active, "queued": queued}

    def get_history(self, params: dict[str, Any], authenticate: Authenticate) -> tuple[list[dict[str, Any]], int]:
        require_params(params, {"id": ID_RE})
        offset = int_param(params, "offset", 0)
        limit = int_param(params, "limit", 1, maximum=10_000)
        newest_first = sort_dir_param(params)
        if params.get("sort_by", "_id") not in ("_id", "epoch", "date"):
            raise api_error("Malformed parameter: sort_by (history sorts by _id only)")
        who = authenticate()
        event = self._find(params["id"])
        who.require_scope(event)
        rows, total = self._catalog.store.search_activity(
            ActivityQuery(
                actions=HISTORY_ACTIONS,
                keywords=(event["id"],),
                offset=offset,
                limit=limit,
                newest_first=newest_first,
            )
        )
        return [activity.public_row(r) for r in rows], total

    def _find(self, event_id: str) -> dict[str, Any]:
        event = self._events.get(event_id)
        if event is None:
            raise NotFound("event", f"Event not found: {event_id}")
        return event

    # creating

    def create_event(
        self, params: dict[str, Any], authenticate: Authenticate, origin: Origin, warnings: list[str] | None = None
    ) -> dict[str, Any]:
        """Validate and store a new event; advice about it (``advice.event_warnings``) is appended
        to ``warnings``."""
        event = dict(params)
        update_state = event.pop("update_state", None)
        _strip_keys(event, SERVER_SET_KEYS + LAUNCH_CONTEXT_KEYS + ("revision",))
        if "id" not in event:
            event["id"] = generate_id("e")
        validate_create_request(event)
        if event.get("type") == "workflow":
            event["plugin"], event["targets"] = "_workflow", []
        _apply_container_defaults(event)
        advice = self._advice(params, workflow=event.get("type") == "workflow")
        advice += fix_timezone_case(event["triggers"])
        strip_html_fields(event)
        apply_field_defaults(event["triggers"], event["fields"])
        validate_event_data(event, self._lookup)
        self._check_script(event)
        normalize_trigger_epochs(event["triggers"])
        hash_magic_keys(event["triggers"], event["id"])

        who = authenticate()
        who.require("create_events")
        who.require_scope(event)
        if event["id"] in self._events:
            raise Conflict("event", f"That Event ID already exists: {event['id']}")
        self._permits.event_change(who, None, event)
        now = int(self._clock.now())
        event.update(username=who.username, created=now, modified=now, revision=1)
        with self._catalog.transaction() as tx:
            tx.insert("events", event)
            tx.writer.set_event_state(event["id"], update_state if isinstance(update_state, dict) else {})
            activity.record(
                tx.writer,
                "event_create",
                epoch=now,
                description=str(event["title"]),
                who=who,
                origin=origin,
                keywords=[event["id"]],
                event=event,
            )
        if warnings is not None:
            warnings.extend(advice)
        return event

    # updating

    def update_event(
        self, params: dict[str, Any], authenticate: Authenticate, origin: Origin, warnings: list[str] | None = None
    ) -> dict[str, Any]:
        """Shallow-merge ``params`` into the stored event; advice about the keys it sends is
        appended to ``warnings``."""
        require_params(params, {"id": ID_RE})
        who = authenticate()
        who.require("edit_events")
        advice = self._advice(params, workflow=self._find(params["id"]).get("type") == "workflow")
        advice += fix_timezone_case(params.get("triggers"))
        for attempt in range(_UPDATE_ATTEMPTS):
            current = self._find(params["id"])
            try:
                updated = self._apply_update(current, dict(params), who, origin)
                if warnings is not None:
                    warnings.extend(advice)
                return updated
            except StaleWrite:
                if attempt == _UPDATE_ATTEMPTS - 1:
                    raise Conflict("event", f"Event was changed concurrently, please retry: {params['id']}") from None
                self._catalog.refresh("events", params["id"])
        raise AssertionError("unreachable")

    def _apply_update(
        self, current: dict[str, Any], request: dict[str, Any], who: Identity, origin: Origin
    ) -> dict[str, Any]:
        update_state = request.pop("update_state", None)
        wanted_revision = request.pop("revision", None)
        _strip_keys(request, SERVER_SET_KEYS + LAUNCH_CONTEXT_KEYS + ("type",))
        _apply_container_defaults(request, only_present=True)
        if "triggers" in request or "fields" in request:
            triggers = request.get("triggers", copy.deepcopy(current.get("triggers")))
            fields = request.get("fields", current.get("fields"))
            if isinstance(triggers, list) and isinstance(fields, list):
                apply_field_defaults(triggers, fields)
                request["triggers"] = triggers
        strip_html_fields(request)
        merged = {**current, **request}
        validate_event_data(merged, self._lookup)
        if "params" in request or "plugin" in request:
            self._check_script(merged)
        if isinstance(request.get("triggers"), list):
            normalize_trigger_epochs(request["triggers"])
            hash_magic_keys(request["triggers"], current["id"])
        who.require_scope(current)
        stored_revision = current.get("revision")
        if wanted_revision not in (None, "") and stored_revision is not None and wanted_revision != stored_revision:
            raise Conflict(
                "event",
                f"Event out of date: {current['id']} (Revision mismatch: {wanted_revision} != {stored_revision})",
            )
        self._permits.event_change(who, current, request)
        merged = {**current, **request}
        who.require_scope(merged)
        now = int(self._clock.now())
        merged["id"] = current["id"]
        merged["modified"] = now
        merged["revision"] = (stored_revision if isinstance(stored_revision, int) else 0) + 1
        with self._catalog.transaction() as tx:
            tx.update("events", merged, expected_revision=stored_revision)
            if isinstance(update_state, dict) and update_state:
                state = self._catalog.store.get_event_state(current["id"])
                changes = _normalize_state(update_state)
                if "cursor" in changes:  # a moved cursor starts a new replay round: replayed fires run again
                    changes["round"] = int(state.get("round") or 0) + 1
                state.update(changes)
                tx.writer.set_event_state(current["id"], state)
            activity.record(
                tx.writer,
                "event_update",
                epoch=now,
                description=str(merged.get("title")),
                who=who,
                origin=origin,
                keywords=[current["id"]],
                event=merged,
                changes=changed_keys(current, merged),
            )
        return merged

    def _advice(self, changes: dict[str, Any], *, workflow: bool) -> list[str]:
        target_ids = {doc["id"] for kind in ("servers", "groups") for doc in self._catalog[kind].values()}
        return event_warnings(changes, target_ids=target_ids, algorithms=ALGORITHMS, workflow=workflow)

    def _check_script(self, event: dict[str, Any]) -> None:
        """A Shell-plugin script over ``max_script_bytes`` is refused (it is stored in the event,
        copied into every job and written to disk for each run)."""
        plugin = self._catalog["plugins"].get(event.get("plugin"))
        if plugin is None or str(plugin.get("command", "")).strip() != "[shell-plugin]":
            return
        script = (event.get("params") or {}).get("script")
        size = len(script.encode("utf-8", "surrogatepass")) if isinstance(script, str) else 0
        if size > self._max_script_bytes:
            raise api_error(
                f"Shell script is too large: {size} bytes (the limit is {self._max_script_bytes} bytes, setting "
                "max_script_bytes). Install a long program on the server and call it from a short script."
            )

    # deleting

    def delete_event(self, params: dict[str, Any], authenticate: Authenticate, origin: Origin) -> None:
        require_params(params, {"id": ID_RE})
        who = authenticate()
        who.require("delete_events")
        event = self._find(params["id"])
        who.require_scope(event)
        active = self._jobs.count_in_states(event["id"], ACTIVE_JOB_STATES)
        if active:
            raise Conflict("event", f"Failed to delete event: {active} active jobs found")
        self._remove(event, who=who, origin=origin, keywords=[event["id"]])
        if params.get("delete_jobs") not in (None, False, 0, "", "0", "false"):
            event_id = event["id"]
            self._background(f"delete jobs of event {event_id}", lambda: self._jobs.delete_history(event_id))

    def _remove(self, event: dict[str, Any], **record: Any) -> None:
        """Delete an event and its state, with an ``event_delete`` activity row."""
        with self._catalog.transaction() as tx:
            tx.delete("events", event["id"])
            tx.writer.delete_event_state(event["id"])
            activity.record(
                tx.writer,
                "event_delete",
                epoch=self._clock.now(),
                description=str(event.get("title")),
                event=event,
                **record,
            )

    # changes requested by a finished job (jobs.md §6.1 step 10)

    def apply_job_changes(self, job: dict[str, Any]) -> None:
        """Apply a job's ``delete_event`` or ``update_event`` (validated; activity ``reason: "job"``)."""
        event = self._events.get(job.get("event"))
        if event is None:
            return
        if job.get("delete_event"):
            self._remove(event, keywords=[event["id"], job["id"]], reason="job", job=job["id"])
            return
        now = int(self._clock.now())
        changes = job.get("update_event")
        if not isinstance(changes, dict) or not changes:
            return
        request = {k: v for k, v in changes.items() if k not in ("id", "type", "revision", *SERVER_SET_KEYS)}
        _strip_keys(request, LAUNCH_CONTEXT_KEYS)
        merged = {**event, **request}
        validate_event_data(merged, self._lookup)
        if isinstance(request.get("triggers"), list):
            normalize_trigger_epochs(request["triggers"])
            hash_magic_keys(request["triggers"], event["id"])
            merged["triggers"] = request["triggers"]
        merged.update(modified=now, revision=(event.get("revision") or 0) + 1)
        with self._catalog.transaction() as tx:
            tx.update("events", merged, expected_revision=event.get("revision"))
            activity.record(
                tx.writer,
                "event_update",
                epoch=now,
                description=str(merged.get("title")),
                keywords=[event["id"], job["id"]],
                event=merged,
                reason="job",
                job=job["id"],
                changes=changed_keys(event, merged),
            )


def changed_keys(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Top-level keys whose value an update changed (the history's "what changed")."""
    return sorted(k for k in before.keys() | after.keys() if k not in _BOOKKEEPING and before.get(k) != after.get(k))


_BOOKKEEPING = frozenset({"modified", "revision"})
_CONTAINER_DEFAULTS = (("params", dict), ("limits", list), ("actions", list), ("triggers", list), ("fields", list))


def _apply_container_defaults(doc: dict[str, Any], *, only_present: bool = False) -> None:
    """xyOps treats a falsy ``params``/``limits``/... (null, false, 0, "") as absent: store the empty value."""
    for key, factory in _CONTAINER_DEFAULTS:
        if (key in doc or not only_present) and doc.get(key) in (None, False, 0, ""):
            doc[key] = factory()


def _normalize_state(changes: dict[str, Any]) -> dict[str, Any]:
    """``update_state`` values as stored: a numeric ``cursor`` is floored to the minute."""
    out = dict(changes)
    cursor = out.get("cursor")
    if isinstance(cursor, (int, float)) and not isinstance(cursor, bool):
        out["cursor"] = int(cursor // 60 * 60)
    return out
