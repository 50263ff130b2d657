"""Save-time edits of an event's triggers: field defaults, minute flooring and magic-key hashing.

Each function mutates the given ``triggers`` list in place, skips anything malformed (validation
reports that) and never raises.
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Any

from cronwright.engine.validation.jsvalue import is_js_number, js_string, js_truthy

# events.md §7.3: trigger types that receive field defaults in their params.
FIELD_DEFAULT_TYPES = frozenset({"schedule", "single", "interval", "startup", "keyboard"})
# events.md §5.3: epoch keys floored to a whole minute on save.
EPOCH_KEYS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "single": ("epoch",),
        "range": ("start", "end"),
        "blackout": ("start", "end"),
    }
)


def apply_field_defaults(triggers: Any, fields: Any) -> None:
    """Fill each launching trigger's ``params`` with field defaults (events.md §7.3).

    For ``schedule|single|interval|startup|keyboard`` triggers, ``params`` is created if missing;
    a field's default is set when the key is absent or the field type is ``hidden``; ``json``
    fields get a deep copy of ``value`` (or ``{}`` when it is falsy). A field without ``value``
    sets nothing (xyOps would set ``undefined``, which never reaches storage).
    """
    if not isinstance(triggers, list) or not isinstance(fields, list):
        return
    for trigger in triggers:
        if not isinstance(trigger, dict) or not _has_type(trigger, FIELD_DEFAULT_TYPES):
            continue
        if trigger.get("params") is None:
            trigger["params"] = {}
        params = trigger["params"]
        if not isinstance(params, dict):
            continue
        for field in fields:
            if not isinstance(field, dict) or not isinstance(field.get("id"), str):
                continue
            ident, kind = field["id"], field.get("type")
            if ident in params and kind != "hidden":
                continue
            if kind == "json":
                value = field.get("value")
                params[ident] = copy.deepcopy(value) if js_truthy(value) else {}
            elif "value" in field:
                params[ident] = copy.deepcopy(field["value"])


def normalize_trigger_epochs(triggers: Any) -> None:
    """Floor ``single.epoch``, ``range.start/end``, ``blackout.start/end`` to a multiple of 60."""
    if not isinstance(triggers, list):
        return
    for trigger in triggers:
        if not isinstance(trigger, dict):
            continue
        if not _has_type(trigger, EPOCH_KEYS):
            continue
        for key in EPOCH_KEYS[trigger["type"]]:
            value = trigger.get(key)
            if isinstance(value, int) and is_js_number(value):
                trigger[key] = value // 60 * 60
            elif isinstance(value, float) and math.isfinite(value):
                trigger[key] = math.floor(value / 60) * 60


def hash_magic_keys(triggers: Any, event_id: str) -> None:
    """For magic triggers with a ``key``: set ``token = sha256_hex(key + event_id)`` and drop ``key``."""
    if not isinstance(triggers, list):
        return
    for trigger in triggers:
        if not isinstance(trigger, dict) or trigger.get("type") != "magic":
            continue
        key = trigger.get("key")
        if not js_truthy(key):
            continue
        trigger["token"] = sha256_hex(js_string(key) + js_string(event_id))
        del trigger["key"]


def _has_type(trigger: dict[str, Any], types: Collection[str]) -> bool:
    kind = trigger.get("type")
    return isinstance(kind, str) and kind in types


def sha256_hex(text: str) -> str:
    """Hex SHA-256 of ``text`` as UTF-8 (lone surrogates become U+FFFD, as in Node)."""
    data = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")
    return hashlib.sha256(data).hexdigest()
