"""Magic links (events.md §3.8): ``magic/v1/<TOKEN>`` starts a job without credentials.

The token is the plain key of a ``magic`` trigger (at least 16 characters); the event stores only
``sha256_hex(key + event id)``, so a token opens exactly one event. All request parameters
become job parameters (``input`` becomes the job input); locked plugin parameters keep the
event's values and job overrides other than ``_xy_override_label`` are refused (``Permits``);
plugin and event field rules apply; the event's ``file`` limit bounds uploads. Calls are counted
per client address and per link (``magic_max_per_min_ip`` / ``magic_max_per_min_link``).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Sequence
from typing import Any

from cronwright.engine.catalog import Catalog
from cronwright.engine.jobs.rules import event_request, first_limit, limit_amount
from cronwright.engine.permits import Permits
from cronwright.engine.runs import UploadedFile, merge_json_field
from cronwright.engine.throttle import HitLimiter
from cronwright.engine.validation import OVERRIDE_RESERVED_RE, sha256_hex, validate_param_values
from cronwright.errors import BadRequest, Conflict, RateLimited, api_error
from cronwright.logs import fields

log = logging.getLogger("cronwright.auth")
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


def _log_refused(ip: str, reason: str, event: str | None = None) -> None:
    """A refused magic link call: the client address and why, never the token."""
    log.warning("authentication failed", extra=fields(method="magic_link", event=event, ip=ip or None, reason=reason))


class MagicLinks:
    def __init__(self, catalog: Catalog, permits: Permits, *, per_ip: int, per_link: int) -> None:
        self._catalog = catalog
        self._permits = permits
        self._per_ip = HitLimiter(per_ip)
        self._per_link = HitLimiter(per_link)

    def find(self, token: str, ip: str, now: float) -> tuple[dict[str, Any], dict[str, Any]]:
        """(event, trigger) for a token; ``api`` "Authentication failed." when none matches, ``rate``
        when the client address or the link is over its limit."""
        wait = self._per_ip.hit(ip, now)
        if wait:
            _log_refused(ip, "too many requests from this address")
            raise RateLimited(
                "rate", f"Too many magic link requests from {ip or 'this address'}; try again in {wait:g} seconds."
            )
        if not token or not _TOKEN.match(token) or len(token) > 256:
            _log_refused(ip, "malformed token")
            raise api_error("Malformed URL.")
        for event in self._catalog["events"].values():
            trigger = magic_trigger(event, token)
            if trigger is not None:
                wait = self._per_link.hit(str(trigger.get("token")), now)
                if wait:
                    _log_refused(ip, "too many requests for this link", event=event["id"])
                    raise RateLimited("rate", f"Too many requests for this magic link; try again in {wait:g} seconds.")
                return event, trigger
        _log_refused(ip, "unknown token")
        raise BadRequest("api", "Authentication failed.")

    def launch_request(
        self,
        token: str,
        query: dict[str, Any],
        body: dict[str, Any],
        files: Sequence[UploadedFile],
        *,
        ip: str,
        now: float,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(event, job request) for a magic call; raises ``CwError`` on bad input."""
        event, _trigger = self.find(token, ip, now)
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
        supplied = dict(params)
        for key, value in (event.get("params") or {}).items():
            params.setdefault(key, copy.deepcopy(value))
        for field in event.get("fields") or []:
            if isinstance(field, dict) and isinstance(field.get("id"), str):
                params.setdefault(field["id"], copy.deepcopy(field.get("value")))
        self._permits.link_params(event, supplied, params, job_input)
        plugin = self._catalog["plugins"].get(event.get("plugin"))
        if plugin is not None:
            validate_param_values(plugin.get("params") or [], params, "Plugin")
        validate_param_values(event.get("fields") or [], params, "Event")
        self._check_files(event, files)
        request = event_request(event)
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
