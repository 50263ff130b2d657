"""Validation of ``limits[]`` on events and categories (limits-actions.md §2.1, xyOps ``requireValidLimits``).

Each type has a table of numeric fields: *required* ones must be a truthy JSON number, *optional*
ones must be a number when truthy (xyOps tests ``limit.x && typeof limit.x != 'number'``). The
runtime limits (``time``, ``log``, ``mem``, ``cpu``) also carry sub-action keys, checked by shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from cronwright.engine.validation.jsvalue import is_js_number, js_loose_true, js_truthy
from cronwright.engine.validation.patterns import WORD_RE
from cronwright.errors import api_error

LIMIT_TYPES = frozenset({"time", "job", "queue", "retry", "log", "mem", "cpu", "file", "day", "tag"})
DAY_CONDITIONS = frozenset(
    {"start", "complete", "continue", "success", "error", "user", "warning", "critical", "abort"}
)
RUNTIME_LIMIT_TYPES = frozenset({"time", "log", "mem", "cpu"})

_REQUIRED, _OPTIONAL = True, False
# type → ((key, required, message), ...), checked in order.
_NUMERIC_RULES: Mapping[str, tuple[tuple[str, bool, str], ...]] = MappingProxyType(
    {
        "time": (("duration", _REQUIRED, "Invalid time timit (not a number)"),),  # sic, as xyOps
        "job": (("amount", _REQUIRED, "Invalid max jobs (must be a positive number)"),),
        "queue": (("amount", _OPTIONAL, "Invalid max queue (not a number)"),),
        "retry": (
            ("amount", _OPTIONAL, "Invalid max retries (not a number)"),
            ("duration", _OPTIONAL, "Invalid retry delay (not a number)"),
        ),
        "log": (("amount", _REQUIRED, "Invalid max log size (not a number)"),),
        "mem": (
            ("amount", _REQUIRED, "Invalid memory amount (not a number)"),
            ("duration", _OPTIONAL, "Invalid memory duration (not a number)"),
        ),
        "cpu": (
            ("amount", _REQUIRED, "Invalid CPU amount (not a number)"),
            ("duration", _OPTIONAL, "Invalid CPU duration (not a number)"),
        ),
        "file": (
            ("amount", _OPTIONAL, "Invalid max files (not a number)"),
            ("size", _OPTIONAL, "Invalid max file size (not a number)"),
        ),
        "day": (("amount", _OPTIONAL, "Invalid max condition count (not a number)"),),
        "tag": (("amount", _OPTIONAL, "Invalid max tags (not a number)"),),
    }
)
_ACCEPT_ILLEGAL_CHARS = re.compile(r"[^\w\s\-.,]", re.ASCII)

QUEUE_NEEDS_JOB = "Limit Configuration: The 'Max Queue Limit' requires a 'Max Concurrent Jobs' limit to be present."


def validate_limits(limits: Any) -> None:
    """Validate a ``limits`` list (a falsy value counts as omitted, as in xyOps) — first failure wins."""
    if not js_truthy(limits):
        return
    if not isinstance(limits, list):
        raise api_error("Malformed event parameter: limits (must be array)")
    for index, limit in enumerate(limits, start=1):
        prefix = f"Malformed limit entry #{index}"
        if not isinstance(limit, dict):
            raise api_error(f"{prefix} (not an object)")
        if "enabled" not in limit:
            raise api_error(f"{prefix}: Missing enabled flag")
        kind = limit.get("type")
        if not isinstance(kind, str) or kind not in LIMIT_TYPES:
            raise api_error(f"{prefix}: Unknown type")
        if kind == "day" and not (isinstance(limit.get("condition"), str) and limit["condition"] in DAY_CONDITIONS):
            raise api_error(f"{prefix}: Invalid condition (unknown)")
        for key, required, message in _NUMERIC_RULES[kind]:
            value = limit.get(key)
            if (required or js_truthy(value)) and not (is_js_number(value) and js_truthy(value)):
                raise api_error(f"{prefix}: {message}")
            if is_js_number(value) and js_truthy(value):
                _check_range(value, kind, key, prefix)
        if kind == "file":
            _check_accept(limit.get("accept"), prefix)
        if kind in RUNTIME_LIMIT_TYPES:
            _check_sub_actions(limit, prefix)
    _check_queue_needs_job(limits)


#: limits whose ``amount`` counts things (jobs, retries, files, starts, tags): whole numbers
_COUNTS = frozenset({"job", "queue", "retry", "file", "day", "tag"})
#: the largest amount or duration taken (far beyond any real limit; keeps arithmetic exact)
MAX_LIMIT_VALUE = 2**53


def _check_range(value: Any, kind: str, key: str, prefix: str) -> None:
    """CRONWRIGHT DECISION: xyOps takes any non-zero number; a negative duration or amount, a
    fraction of a job, or a value past 2^53 is a mistake and is refused."""
    value = float(value)
    if value < 0:
        raise api_error(f"{prefix}: Invalid {key} (must be greater than 0)")
    if value > MAX_LIMIT_VALUE:
        raise api_error(f"{prefix}: Invalid {key} (too large)")
    if key == "amount" and kind in _COUNTS and not value.is_integer():
        raise api_error(f"{prefix}: Invalid {key} (must be a whole number)")


def _check_accept(accept: Any, prefix: str) -> None:
    if not js_truthy(accept):
        return
    if not isinstance(accept, str):
        raise api_error(f"{prefix}: Invalid file type list (not a string)")
    if _ACCEPT_ILLEGAL_CHARS.search(accept):
        raise api_error(f"{prefix}: Invalid file type list (contains illegal characters)")


def _check_sub_actions(limit: dict[str, Any], prefix: str) -> None:
    """Shapes of the keys a runtime limit uses when it fires (tags, users, email, web_hook, text)."""
    if limit.get("tags") is not None and not _is_string_list(limit["tags"]):
        raise api_error(f"{prefix}: Invalid tag list (must be an array of strings).")
    if limit.get("users") is not None and not _is_string_list(limit["users"]):
        raise api_error(f"{prefix}: Invalid user list.")
    if limit.get("email") is not None and not isinstance(limit["email"], str):
        raise api_error(f"{prefix}: Invalid email address.")
    hook = limit.get("web_hook")
    if js_truthy(hook) and not (isinstance(hook, str) and WORD_RE.match(hook)):
        raise api_error(f"{prefix}: Invalid Web Hook ID.")
    if limit.get("text") is not None and not isinstance(limit["text"], str):
        raise api_error(f"{prefix}: Invalid web hook text (must be a string).")


def _check_queue_needs_job(limits: list[dict[str, Any]]) -> None:
    """An enabled queue limit with a non-zero amount needs an enabled job limit in the same list."""
    enabled = [limit for limit in limits if js_loose_true(limit.get("enabled"))]
    queued = any(limit.get("type") == "queue" and js_truthy(limit.get("amount")) for limit in enabled)
    if queued and not any(limit.get("type") == "job" for limit in enabled):
        raise api_error(QUEUE_NEEDS_JOB)


def _is_string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
