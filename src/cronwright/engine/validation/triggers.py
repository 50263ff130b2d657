"""Validation of an event's ``triggers[]`` (triggers.md §1–§2 and the composition rules).

``validate_triggers`` checks each entry against the rules of its type (table ``_TYPE_CHECKS``),
validates non-plugin trigger ``params`` against the event's ``fields``, then the uniqueness and
mutual-exclusion rules of *enabled* triggers (JS loose ``enabled == true``). The save-time edits
(minute flooring, magic-key hashing, field defaults) live in ``trigger_prep`` and are re-exported.
"""

from __future__ import annotations

import functools
import math
import re
import zoneinfo
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeGuard

from cronwright.engine.validation.jsvalue import (
    is_js_number,
    is_positive_integer_number,
    js_loose_true,
    js_string,
    js_truthy,
)
from cronwright.engine.validation.lookup import Lookup
from cronwright.engine.validation.paramdefs import validate_param_values
from cronwright.engine.validation.patterns import TIMEZONE_RE, WORD_RE
from cronwright.engine.validation.trigger_prep import (
    apply_field_defaults,
    hash_magic_keys,
    normalize_trigger_epochs,
)
from cronwright.errors import api_error

__all__ = [
    "TRIGGER_TYPES",
    "apply_field_defaults",
    "hash_magic_keys",
    "normalize_trigger_epochs",
    "validate_triggers",
]

# key → (min, max, zero allowed); max None = unbounded.
_SCHEDULE_RANGES: Mapping[str, tuple[int, int | None, bool]] = MappingProxyType(
    {
        "years": (1, None, True),
        "months": (1, 12, True),
        "days": (-7, 31, False),
        "weekdays": (0, 6, True),
        "hours": (0, 23, True),
        "minutes": (0, 59, True),
    }
)

# Cronwright's optional per-schedule DST options (see cronwright.triggers.launchers): key → allowed values.
_DST_OPTIONS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {"dst_skipped": ("skip", "run"), "dst_repeated": ("twice", "once")}
)

# Types of which at most one may be enabled, with the name used in the message.
_UNIQUE_TYPES = (
    ("startup", "startup"),
    ("catchup", "catch-up"),
    ("nth", "every-nth"),
    ("manual", "manual"),
    ("precision", "precision"),
    ("quiet", "quiet"),
    ("plugin", "plugin"),
)
_EXCLUSIVE_PAIRS = (
    ("interval", "precision", "Interval and precision"),
    ("interval", "delay", "Interval and delay"),
    ("precision", "delay", "Precision and delay"),
)

TriggerCheck = Callable[[dict[str, Any], str, Lookup], None]


def validate_triggers(triggers: Any, *, fields: Any, lookup: Lookup) -> None:
    """Validate ``triggers`` (a falsy value counts as omitted, as in xyOps) — first failure wins."""
    if not js_truthy(triggers):
        return
    if not isinstance(triggers, list):
        raise api_error("Malformed event parameter: triggers (must be array)")
    for index, trigger in enumerate(triggers, start=1):
        prefix = f"Malformed trigger entry #{index}"
        if not isinstance(trigger, dict):
            raise api_error(f"{prefix} (not an object)")
        kind = trigger.get("type")
        check = _TYPE_CHECKS.get(kind) if isinstance(kind, str) else None
        if check is None:
            raise api_error(f"{prefix}: Unknown type")
        check(trigger, prefix, lookup)
        if kind != "plugin":
            params = _trigger_params(trigger, prefix)
            if params is not None:
                validate_param_values(fields, params, "Event")
    _check_composition(triggers)


def _check_composition(triggers: list[dict[str, Any]]) -> None:
    enabled_types = [t.get("type") for t in triggers if js_loose_true(t.get("enabled"))]
    for kind, name in _UNIQUE_TYPES:
        if enabled_types.count(kind) > 1:
            raise api_error(f"Only one {name} rule is allowed in trigger list.")
    for first, second, label in _EXCLUSIVE_PAIRS:
        if first in enabled_types and second in enabled_types:
            raise api_error(f"{label} triggers are mutually exclusive.")


def _trigger_params(trigger: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    """The trigger's ``params`` object, ``None`` when absent; anything else is an error."""
    params = trigger.get("params")
    if params is None:
        return None
    if not isinstance(params, dict):
        raise api_error(f"{prefix}: Malformed trigger parameter: params (must be object)")
    return params


def _no_fields(trigger: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    """manual, catchup, startup: nothing to check."""


def _check_magic(trigger: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    """A new magic ``key`` (the plain token, hashed on save) must be hard to guess and usable in a URL."""
    key = trigger.get("key")
    if key is None or key == "":
        return
    if not isinstance(key, str) or not MAGIC_KEY_RE.match(key):
        raise api_error(
            f"{prefix}: Magic link key must be at least {MAGIC_KEY_MIN_LEN} characters of letters, digits, '_' and '-'."
        )


def _check_schedule(trigger: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    for key, values in trigger.items():
        limits = _SCHEDULE_RANGES.get(key)
        if limits is None:
            continue
        if not isinstance(values, list):
            raise api_error(f"Malformed trigger parameter: {key} (must be array)")
        low, high, zero_ok = limits
        for value in values:
            if not is_js_number(value):
                raise api_error(f"Malformed trigger parameter: {key} (must be array of numbers)")
            if value < low or (high is not None and value > high) or (value == 0 and not zero_ok):
                raise api_error(f"Malformed trigger parameter: {key} (out of range: {js_string(value)})")
    _check_timezone(trigger, prefix)
    for key, allowed in _DST_OPTIONS.items():
        value = trigger.get(key)
        if value is not None and value not in allowed:
            raise api_error(f"{prefix}: Invalid {key} (use {' or '.join(allowed)})")


def _check_timezone(trigger: dict[str, Any], prefix: str) -> None:
    zone = trigger.get("timezone")
    if not js_truthy(zone):
        return
    if not isinstance(zone, str) or not TIMEZONE_RE.match(zone):
        raise api_error(f"{prefix}: Invalid timezone: {js_string(zone)}")
    if zone not in known_timezones():
        raise api_error(f"{prefix}: Unknown timezone: {zone}")


@functools.lru_cache(maxsize=1)
def known_timezones() -> frozenset[str]:
    """The IANA zone names Python knows (``zoneinfo.available_timezones()``), computed once."""
    return frozenset(zoneinfo.available_timezones())


def _check_interval(trigger: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    if not is_positive_integer_number(trigger.get("start")):
        raise api_error(f"{prefix}: Invalid starting date/time specified for interval")
    duration = trigger.get("duration")
    if not js_truthy(duration):
        raise api_error(f"{prefix}: Interval rule is missing duration.")
    if not is_positive_integer_number(duration):
        raise api_error(f"{prefix}: Invalid interval duration: {js_string(duration)} (must be a positive integer)")


def _check_single(trigger: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    if not is_positive_integer_number(trigger.get("epoch")):
        raise api_error(f"{prefix}: Invalid date/time specified for single shot")


def _check_range(trigger: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    start, end = trigger.get("start"), trigger.get("end")
    if js_truthy(start) and not is_positive_integer_number(start):
        raise api_error(f"{prefix}: Invalid start date/time specified for range")
    if js_truthy(end) and not is_positive_integer_number(end):
        raise api_error(f"{prefix}: Invalid end date/time specified for range")
    if is_positive_integer_number(start) and is_positive_integer_number(end) and start > end:
        raise api_error(f"{prefix}: Invalid date range.  The start date cannot come after the end date.")


def _check_blackout(trigger: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    start, end = trigger.get("start"), trigger.get("end")
    if not js_truthy(start) or not js_truthy(end):
        raise api_error(f"{prefix}: Both a start and an end date are required for blackout.")
    if not is_positive_integer_number(start):
        raise api_error(f"{prefix}: Invalid start date/time specified for blackout")
    if not is_positive_integer_number(end):
        raise api_error(f"{prefix}: Invalid end date/time specified for blackout")
    if start > end:
        raise api_error(f"{prefix}: Invalid date range for blackout.  The start date cannot come after the end date.")


def _check_delay(trigger: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    duration = trigger.get("duration")
    if not js_truthy(duration):
        raise api_error(f"{prefix}: Starting delay rule is missing duration.")
    if not _is_positive_finite(duration):
        raise api_error(f"{prefix}: Invalid starting delay duration: {js_string(duration)} (must be a positive number)")


def _check_precision(trigger: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    seconds = trigger.get("seconds")
    if not js_truthy(seconds) or seconds == []:
        raise api_error(f"{prefix}: Precision rule is missing seconds array.")
    if not isinstance(seconds, list):
        raise api_error(f"{prefix}: Malformed trigger parameter: seconds (must be array)")
    for value in seconds:
        if not _is_integral(value):
            raise api_error(f"{prefix}: Malformed trigger parameter: seconds (must be array of integers)")
        if not 0 <= value <= 59:
            raise api_error(f"{prefix}: Malformed trigger parameter: seconds (out of range: {js_string(value)})")


def _check_nth(trigger: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    every = trigger.get("every")
    if not _is_integral(every) or every < 2:
        raise api_error(f"{prefix}: Every Nth value is invalid (must be 2 or higher).")


def _check_quiet(trigger: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    if not js_truthy(trigger.get("invisible")) and not js_truthy(trigger.get("ephemeral")):
        raise api_error(f"{prefix}: Quiet rule must have one or more modes enabled.")


SHORTCUT_RE = re.compile(r"^(?:(?:Control|Alt|Shift|Meta)\+){0,4}[A-Za-z][A-Za-z0-9]{0,31}$")


def _check_keyboard(trigger: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    keys = trigger.get("keys")
    if not isinstance(keys, list) or not keys:
        raise api_error(f"{prefix}: Keyboard trigger has no shortcuts.")
    for key in keys:
        # CRONWRIGHT DECISION: a shortcut is the browser's key names, modifiers first
        # ("Control+Alt+KeyK"); anything else could never be pressed
        if not isinstance(key, str) or not SHORTCUT_RE.match(key):
            raise api_error(f"{prefix}: Invalid keyboard shortcut: {js_string(key)[:80]}")


def _check_plugin(trigger: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    plugin_id = trigger.get("plugin_id")
    plugin = lookup.get_plugin(plugin_id) if isinstance(plugin_id, str) and WORD_RE.match(plugin_id) else None
    if not isinstance(plugin, dict) or plugin.get("type") != "scheduler":
        raise api_error(f"{prefix}: Scheduler Plugin not found: {js_string(plugin_id)}")
    params = _trigger_params(trigger, prefix)
    validate_param_values(plugin.get("params"), params or {}, "Scheduler Plugin")
    _check_timezone(trigger, prefix)


def _is_integral(value: Any) -> TypeGuard[int | float]:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_positive_finite(value: Any) -> bool:
    if not is_js_number(value) or not value > 0:
        return False
    return isinstance(value, int) or math.isfinite(value)


#: magic link keys: long enough that guessing is hopeless, and only URL-safe characters
MAGIC_KEY_MIN_LEN = 16
MAGIC_KEY_RE = re.compile(rf"^[\w\-]{{{MAGIC_KEY_MIN_LEN},256}}\Z", re.ASCII)

_TYPE_CHECKS: Mapping[str, TriggerCheck] = MappingProxyType(
    {
        "manual": _no_fields,
        "schedule": _check_schedule,
        "interval": _check_interval,
        "single": _check_single,
        "catchup": _no_fields,
        "range": _check_range,
        "blackout": _check_blackout,
        "delay": _check_delay,
        "precision": _check_precision,
        "nth": _check_nth,
        "quiet": _check_quiet,
        "startup": _no_fields,
        "magic": _check_magic,
        "plugin": _check_plugin,
        "keyboard": _check_keyboard,
    }
)

TRIGGER_TYPES: frozenset[str] = frozenset(_TYPE_CHECKS)
