"""Validation of ``actions[]`` on events and categories (limits-actions.md §3.1, xyOps ``requireValidActions``).

Every entry needs an ``enabled`` key and a saved-action condition; then the checks of its type
(table ``_TYPE_CHECKS``). Messages are prefixed "Malformed action entry #N: " (1-based).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from cronwright.engine.validation.jsvalue import is_js_number, js_truthy
from cronwright.engine.validation.lookup import Lookup
from cronwright.engine.validation.paramdefs import validate_param_values
from cronwright.engine.validation.params import has_reserved_override_key, is_word
from cronwright.engine.validation.patterns import HTML_META_RE
from cronwright.errors import api_error

CONDITION_RE = re.compile(
    r"^(start|complete|success|warning|error|user|critical|abort|tag:\w+|alert_new|alert_cleared)\Z", re.ASCII
)
BUCKET_SYNC_VALUES = frozenset({"data", "files", "data_and_files"})

ActionCheck = Callable[[dict[str, Any], str, Lookup], None]


def validate_actions(actions: Any, *, lookup: Lookup) -> None:
    """Validate an ``actions`` list (a falsy value counts as omitted, as in xyOps) — first failure wins."""
    if not js_truthy(actions):
        return
    if not isinstance(actions, list):
        raise api_error("Malformed event parameter: actions (must be array)")
    for index, action in enumerate(actions, start=1):
        prefix = f"Malformed action entry #{index}"
        if not isinstance(action, dict):
            raise api_error(f"{prefix} (not an object)")
        if "enabled" not in action:
            raise api_error(f"{prefix}: Missing enabled flag")
        condition = action.get("condition")
        if not isinstance(condition, str) or not CONDITION_RE.match(condition):
            raise api_error(f"{prefix}: Invalid condition")
        kind = action.get("type")
        check = _TYPE_CHECKS.get(kind) if isinstance(kind, str) else None
        if check is None:
            raise api_error(f"{prefix}: Unknown type")
        check(action, prefix, lookup)


def _no_fields(action: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    """disable, delete, snapshot, suspend: nothing to check."""


def _check_email(action: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    # CRONWRIGHT DECISION (limits-actions.md §3.1): `users` optional; need ≥1 user or an email.
    users = action.get("users")
    if users is not None and not _is_string_list(users):
        raise api_error(f"{prefix}: Invalid user list.")
    email = action.get("email")
    if email is not None and not isinstance(email, str):
        raise api_error(f"{prefix}: Invalid email address.")
    if not users and not js_truthy(email):
        raise api_error(f"{prefix}: No email addresses provided.")


def _check_web_hook(action: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    if not is_word(action.get("web_hook")):
        raise api_error(f"{prefix}: Invalid Web Hook ID.")


def _check_run_event(action: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    event_id = action.get("event_id")
    if not is_word(event_id):
        raise api_error(f"{prefix}: Invalid Event ID.")
    target = lookup.get_event(event_id)
    if not isinstance(target, dict):
        raise api_error(f"{prefix}: Event not found: {event_id}")
    params = _action_params(action, prefix)
    if params is not None:
        reserved = has_reserved_override_key(params)
        if reserved is not None:
            raise api_error(f"{prefix}: Invalid parameter ID: {reserved} (reserved)")
        fields = target.get("fields")
        values = {**_field_defaults(fields), **_as_dict(target.get("params")), **params}
        validate_param_values(fields, values, f"{prefix}: Event")
    delay = action.get("start_delay")
    if delay is not None and not (is_js_number(delay) and delay >= 0):
        raise api_error(f"{prefix}: Invalid start delay (must be a number of seconds).")


def _check_plugin(action: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    plugin_id = action.get("plugin_id")
    if not is_word(plugin_id):
        raise api_error(f"{prefix}: Invalid Plugin ID.")
    plugin = lookup.get_plugin(plugin_id)
    if not isinstance(plugin, dict) or plugin.get("type") != "action":
        raise api_error(f"{prefix}: Action Plugin not found: {plugin_id}")
    params = _action_params(action, prefix)
    validate_param_values(plugin.get("params"), params or {}, f"{prefix}: Action Plugin")


def _check_tag(action: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    tags = action.get("tags")
    if not isinstance(tags, list):
        raise api_error(f"{prefix}: Invalid tag list.")
    if not tags:
        raise api_error(f"{prefix}: No tags selected.")
    if not _is_string_list(tags):
        raise api_error(f"{prefix}: Invalid tag list.")


def _check_label(action: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    label = action.get("label")
    if not isinstance(label, str):
        raise api_error(f"{prefix}: Invalid label (must be a string).")
    if HTML_META_RE.search(label):
        raise api_error(f"{prefix}: Label contains illegal characters.")
    if not label.strip():
        raise api_error(f"{prefix}: Label is empty.")


def _check_channel(action: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    if not is_word(action.get("channel_id")):
        raise api_error(f"{prefix}: Invalid Channel ID.")


def _check_bucket(action: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    if not is_word(action.get("bucket_id")):
        raise api_error(f"{prefix}: Invalid Bucket ID.")
    sync = action.get("bucket_sync")
    if not (isinstance(sync, str) and sync in BUCKET_SYNC_VALUES):
        raise api_error(f"{prefix}: Invalid Bucket sync type.")
    glob = action.get("bucket_glob")
    if glob is not None and not isinstance(glob, str):
        raise api_error(f"{prefix}: Invalid Bucket glob (must be a string).")


def _check_ticket(action: dict[str, Any], prefix: str, lookup: Lookup) -> None:
    # Ticket types come from config in xyOps; until that exists any ^\w+$ id is accepted.
    if not is_word(action.get("ticket_type")):
        raise api_error(f"{prefix}: Invalid Ticket type.")
    if not isinstance(action.get("ticket_assignees"), list):
        raise api_error(f"{prefix}: Invalid Ticket assignees.")
    if not isinstance(action.get("ticket_tags"), list):
        raise api_error(f"{prefix}: Invalid Ticket tag list.")
    due = action.get("ticket_due")
    if due is not None and not (is_js_number(due) or isinstance(due, str)):
        raise api_error(f"{prefix}: Invalid Ticket due date.")


def _action_params(action: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    params = action.get("params")
    if params is None:
        return None
    if not isinstance(params, dict):
        raise api_error(f"{prefix}: Malformed action parameter: params (must be object)")
    return params


def _field_defaults(fields: Any) -> dict[str, Any]:
    if not isinstance(fields, list):
        return {}
    return {
        f["id"]: f["value"] for f in fields if isinstance(f, dict) and isinstance(f.get("id"), str) and "value" in f
    }


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


_TYPE_CHECKS: Mapping[str, ActionCheck] = MappingProxyType(
    {
        "email": _check_email,
        "web_hook": _check_web_hook,
        "run_event": _check_run_event,
        "disable": _no_fields,
        "delete": _no_fields,
        "tag": _check_tag,
        "label": _check_label,
        "plugin": _check_plugin,
        "channel": _check_channel,
        "snapshot": _no_fields,
        "suspend": _no_fields,
        "store": _check_bucket,
        "fetch": _check_bucket,
        "ticket": _check_ticket,
    }
)

ACTION_TYPES: frozenset[str] = frozenset(_TYPE_CHECKS)
