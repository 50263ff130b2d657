"""The request half of ``run_event`` (events.md §3.7 steps 1–13): from an HTTP request to a
validated launch request. Launching it is the job engine's business.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from cronwright import jsonutil
from cronwright.engine.catalog import Catalog
from cronwright.engine.common import CREDENTIAL_KEYS, LAUNCH_CONTEXT_KEYS
from cronwright.engine.identity import Identity
from cronwright.engine.jobs.rules import RUN_PROTECTED, event_request, no_manual_runs
from cronwright.engine.lookup import CatalogLookup
from cronwright.engine.permits import Permits
from cronwright.engine.validation import validate_event_data, validate_param_values
from cronwright.engine.validation.jsvalue import js_truthy
from cronwright.errors import Conflict, NotFound, api_error

Authenticate = Callable[[], Identity]
_FLAT_KEY = re.compile(r"^(\w+)/(\w+)$")


class UploadedFile(Protocol):
    filename: str
    size: int
    stream: BinaryIO


@dataclass
class RunRequest:
    """A validated manual launch: the event, the overrides to merge into the job, and who asked."""

    event: dict[str, Any]
    request: dict[str, Any]
    who: Identity
    files: Sequence[UploadedFile]
    #: the owner segment of the uploaded files' paths and their records' ``username``
    owner: str = ""


def merge_json_field(params: dict[str, Any]) -> None:
    """Form posts carry their JSON in a ``json`` field: parse it and merge its keys over ``params``.
    Credentials inside it are dropped like everywhere else: they never become part of a job."""
    raw_json = params.pop("json", None)
    if isinstance(raw_json, str):
        try:
            parsed = jsonutil.loads_untrusted(raw_json)
        except jsonutil.JSONDecodeError as exc:
            raise api_error(f"Failed to parse JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise api_error("Failed to parse JSON: expected an object")
        params.update(parsed)
    for key in CREDENTIAL_KEYS:
        params.pop(key, None)


def assemble_request(query: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Steps 1–3: query and body (or ``?post_data``), the ``json`` field, and ``params``."""
    request = dict(query)
    if "post_data" in query:
        request["post_data"] = body
    else:
        request.update(body)
    merge_json_field(request)
    if not isinstance(request.get("params"), dict):
        request["params"] = {}
    return request


class RunPreparer:
    def __init__(self, catalog: Catalog, permits: Permits) -> None:
        self._catalog = catalog
        self._lookup = CatalogLookup(catalog)
        self._permits = permits

    def prepare(
        self,
        query: dict[str, Any],
        body: dict[str, Any],
        files: Sequence[UploadedFile],
        authenticate: Authenticate,
    ) -> RunRequest:
        request = assemble_request(query, body)
        selector = query if "post_data" in query else request
        event_id, title = selector.get("id"), selector.get("title")
        if not event_id and not title:
            raise NotFound("event", "Failed to locate event: No criteria specified")
        for upload in files:
            if not upload.filename or not upload.filename.strip() or upload.size <= 0:
                raise api_error(f"Uploaded file is empty or has no name: {upload.filename or '(unnamed)'}")
        if "input" in request and not isinstance(request["input"], dict):
            raise api_error("Malformed event parameter: input (must be object)")

        who = authenticate()
        who.require("run_jobs")
        event = self._find(event_id, title)
        if not js_truthy(request.get("test")):
            if not any(t.get("type") == "manual" and js_truthy(t.get("enabled")) for t in _triggers(event)):
                raise _blocked(no_manual_runs(event["id"]))
            if not js_truthy(event.get("enabled")):
                raise _blocked(f"Event is disabled: {event['id']}")
        who.require_scope(event)
        if "targets" in request:
            who.require_targets(request["targets"])

        for key in ("type", "category", *LAUNCH_CONTEXT_KEYS):
            request.pop(key, None)
        request["id"] = event["id"]
        request.pop("title", None)
        self._flatten(request)
        self._permits.run_request(who, event, request)
        self._fill_params(event, request["params"])
        validate_event_data({**event, **request}, self._lookup)
        validate_param_values(event.get("fields") or [], request["params"], "Event")
        return RunRequest(event=event, request=request, who=who, files=files, owner=upload_owner(who, self._catalog))

    def _find(self, event_id: Any, title: Any) -> dict[str, Any]:
        events = self._catalog["events"]
        if event_id:
            event = events.get(event_id)
            if event is None:
                raise NotFound("event", f"Event not found: {event_id}")
            return event
        for event in events.values():
            if event.get("title") == title:
                return event
        raise NotFound("event", f"Event not found: {title}")

    @staticmethod
    def _flatten(request: dict[str, Any]) -> None:
        for key in [k for k in request if _FLAT_KEY.match(k)]:
            parent, child = _FLAT_KEY.match(key).groups()  # type: ignore[union-attr]
            value = request.pop(key)
            if not isinstance(request.get(parent), dict):
                request[parent] = {}
            request[parent][child] = value

    @staticmethod
    def _fill_params(event: dict[str, Any], params: dict[str, Any]) -> None:
        for key, value in (event.get("params") or {}).items():
            params.setdefault(key, copy.deepcopy(value))
        for field in event.get("fields") or []:
            if isinstance(field, dict) and isinstance(field.get("id"), str):
                params.setdefault(field["id"], copy.deepcopy(field.get("value")))


def _triggers(event: dict[str, Any]) -> list[dict[str, Any]]:
    triggers = event.get("triggers")
    return [t for t in triggers if isinstance(t, dict)] if isinstance(triggers, list) else []


def _blocked(message: str) -> Conflict:
    return Conflict("event", message)


#: keys created by keys created by keys ...: how far ``upload_owner`` follows the chain
MAX_KEY_CHAIN = 8


def upload_owner(who: Identity, catalog: Catalog) -> str:
    """Whose files a caller uploads (sdk-wire.md §4.1): a user's name; for an API key the user
    name of whoever created it (the key record's ``username``; a key created by another key has
    that key's id there, so the chain is followed to its user), the key's id when it has none."""
    if who.kind != "key":
        return who.username
    keys, users = catalog["api_keys"], catalog["users"]
    name, seen = who.username, set[str]()
    while name not in seen and len(seen) < MAX_KEY_CHAIN:
        seen.add(name)
        record = keys.get(name)
        creator = record.get("username") if record is not None else None
        if not isinstance(creator, str) or not creator:
            return name
        name = creator
        if name in users:
            break
    return name


def launch_request(run: RunRequest, store_upload: Callable[[UploadedFile], dict[str, Any]]) -> dict[str, Any]:
    """Step 14–15: the job request (a copy of the event with the overrides), who launched it, and the
    uploaded files stored and listed in ``input.files`` (``store_upload`` answers a file's record)."""
    overrides = {k: v for k, v in copy.deepcopy(run.request).items() if k not in RUN_PROTECTED}
    request = {**event_request(run.event), **overrides}
    request["source"] = run.who.source
    request["username"] = run.who.username
    if run.who.kind == "key":
        request["key"] = run.who.username
    else:
        request.pop("key", None)
    if run.files:
        inputs = request["input"] = dict(request.get("input") or {})
        inputs["files"] = list(inputs.get("files") or []) + [store_upload(u) for u in run.files]
    return request
