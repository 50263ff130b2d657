"""Magic links (events.md §3.8): ``magic/v1/<TOKEN>`` starts a job without credentials.

The token is the plain key of a ``magic`` trigger; the event stores only
``sha256_hex(key + event id)``, so a token opens exactly one event. All request parameters
become job parameters (``input`` becomes the job input); locked plugin parameters keep the
event's values; plugin and event field rules apply; the event's ``file`` limit bounds uploads.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

from cronwright.engine.catalog import Catalog
from cronwright.engine.events import locked_params
from cronwright.engine.jobs.rules import first_limit, limit_amount
from cronwright.engine.runs import UploadedFile, merge_json_field
from cronwright.engine.validation import OVERRIDE_RESERVED_RE, sha256_hex, validate_param_values
from cronwright.errors import BadRequest, Conflict, api_error

_TOKEN = re.compile(r"^[\w\-]+$")


def magic_trigger(event: dict[str, Any], token: str) -> dict[str, Any] | None:
    """The event's enabled magic trigger that ``token`` opens, if any."""
    digest = None
    for trigger in event.get("triggers") or []:
        if (
            isinstance(trigger, dict)
            and trigger.get("type") == "magic"
            and trigger.get("enabled")
            and trigger.get("token")
        ):
            digest = digest or sha256_hex(token + event["id"])
            if trigger["token"] == digest:
                return trigger
    return None


class MagicLinks:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def find(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(event, trigger) for a token; ``api`` "Authentication failed." when none matches."""
        if not token or not _TOKEN.match(token) or len(token) > 256:
            raise api_error("Malformed URL.")
        for event in self._catalog["events"].values():
            trigger = magic_trigger(event, token)
            if trigger is not None:
                return event, trigger
        raise BadRequest("api", "Authentication failed.")

    def launch_request(
        self, token: str, query: dict[str, Any], body: dict[str, Any], files: Sequence[UploadedFile]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(event, job request) for a magic call; raises ``CwError`` on bad input."""
        event, _trigger = self.find(token)
        if not event.get("enabled"):
            raise Conflict("event", f"Event is disabled: {event['id']}")
        params = {**body, **query}
        merge_json_field(params)
        job_input = params.pop("input", None)
        if job_input is not None and not isinstance(job_input, dict):
            raise api_error("Malformed event parameter: input (must be object)")
        for key in ("test", "priority"):
            params.pop(key, None)
        for key in params:
            if OVERRIDE_RESERVED_RE.match(key):
                raise api_error(f"Event params: Invalid parameter ID: {key} (reserved)")
        for key, value in (event.get("params") or {}).items():
            params.setdefault(key, copy.deepcopy(value))
        for field in event.get("fields") or []:
            if isinstance(field, dict) and isinstance(field.get("id"), str):
                params.setdefault(field["id"], copy.deepcopy(field.get("value")))
        plugin = self._catalog["plugins"].get(event.get("plugin"))
        stored = event.get("params") or {}
        for definition in locked_params(plugin):
            params[definition["id"]] = copy.deepcopy(stored.get(definition["id"], definition.get("value")))
        if plugin is not None:
            validate_param_values(plugin.get("params") or [], params, "Plugin")
        validate_param_values(event.get("fields") or [], params, "Event")
        self._check_files(event, files)
        request = copy.deepcopy(event)
        request.pop("username", None)
        request.update(params=params, source="magic")
        if job_input is not None:
            request["input"] = job_input
        return event, request

    @staticmethod
    def _check_files(event: dict[str, Any], files: Sequence[UploadedFile]) -> None:
        for upload in files:
            if not upload.filename or upload.size <= 0:
                raise api_error(f"Uploaded file is empty or has no name: {upload.filename or '(unnamed)'}")
        limit = first_limit({"limits": event.get("limits") or []}, "file")
        if not limit or not files:
            return
        amount = limit_amount(limit)
        if amount is not None and len(files) > amount:
            if amount == 0:
                raise Conflict("event", "Event does not allow file uploads.")
            raise Conflict("event", f"Uploaded file count exceeds limit ({int(amount)}).")
        size = limit_amount({"amount": limit.get("size")})
        if size and sum(f.size for f in files) > size:
            raise Conflict("event", f"Uploaded file size exceeds limit ({int(size)} bytes).")
