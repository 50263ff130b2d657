"""Whole-event validation: xyOps ``requireValidEventData`` (events.md §5, steps 1–12 in order).

``validate_event_data`` is shared by create, update (on the merged event) and run (on the merged
job request). ``validate_create_request`` holds the create-only checks that precede it
(events.md §3.4 steps 1–2: ``requireParams`` and the non-workflow presence checks).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from cronwright.engine.validation.actions import validate_actions
from cronwright.engine.validation.fields import validate_fields
from cronwright.engine.validation.jsvalue import js_string, js_truthy
from cronwright.engine.validation.limits import validate_limits
from cronwright.engine.validation.lookup import Lookup
from cronwright.engine.validation.paramdefs import validate_param_values
from cronwright.engine.validation.params import (
    has_reserved_override_key,
    is_word,
    require_params,
    validate_optional_params,
)
from cronwright.engine.validation.patterns import (
    ALGO_RE,
    ANY_RE,
    ENABLED_VALUE_RE,
    ID_RE,
    NON_SPACE_RE,
    WORD_RE,
    regex_budget,
)
from cronwright.engine.validation.triggers import validate_triggers
from cronwright.errors import api_error

_STRING = r"^(string)$"
# Step 1: optional typed fields, as (JS type pattern, value pattern).
OPTIONAL_EVENT_RULES = MappingProxyType(
    {
        "algo": (_STRING, ALGO_RE),
        "category": (_STRING, WORD_RE),
        "enabled": (r"^(boolean|number)$", ENABLED_VALUE_RE),
        "id": (_STRING, WORD_RE),
        "notes": (_STRING, ANY_RE),
        "plugin": (_STRING, WORD_RE),
        "title": (_STRING, NON_SPACE_RE),
    }
)
# events.md §3.4 step 1 (``id`` must already be generated when absent).
CREATE_RULES = MappingProxyType({"id": ID_RE, "title": NON_SPACE_RE, "enabled": ENABLED_VALUE_RE, "category": WORD_RE})


def validate_create_request(event: Any) -> None:
    """``requireParams`` of create_event, then (non-workflow) targets, algo and plugin must be given."""
    if not isinstance(event, dict):
        raise api_error("Malformed event data (must be object)")
    require_params(event, CREATE_RULES)
    if event.get("type") == "workflow":
        return
    if not js_truthy(event.get("targets")) or event.get("targets") == []:
        raise api_error("Event has no targets specified.")
    if not js_truthy(event.get("algo")):
        raise api_error("Event has no algo specified.")
    if not js_truthy(event.get("plugin")):
        raise api_error("Event has no plugin specified.")


def validate_event_data(event: Any, lookup: Lookup) -> None:
    """Raise ``api_error`` for the first rule of events.md §5 that ``event`` breaks; else return.

    Array-valued keys (``targets``, ``tags``, ``triggers``, ``limits``, ``actions``, ``fields``)
    follow xyOps: a falsy value (absent, ``null``, ``false``, ``0``, ``""``) counts as omitted,
    so consumers must read them as ``event.get(key) or []``.
    """
    if not isinstance(event, dict):
        raise api_error("Malformed event data (must be object)")
    with regex_budget(EVENT_REGEX_STEPS):  # every user-regex check of this event shares one budget
        _validate_event_data(event, lookup)


#: regex steps all user-regex checks of one event (or run request) may take together (≈0.15 s)
EVENT_REGEX_STEPS = 300_000


def _validate_event_data(event: dict[str, Any], lookup: Lookup) -> None:
    validate_optional_params(event, OPTIONAL_EVENT_RULES)  # 1
    params = _check_params(event)  # 2, 3
    plugin = _check_references(event, lookup)  # 4
    if plugin is not None:  # 5
        validate_param_values(plugin.get("params"), params, "Event Plugin")
    _check_targets(event)  # 6
    _check_expression(event)  # 7
    _check_tags(event, lookup)  # 8
    validate_triggers(event.get("triggers"), fields=event.get("fields"), lookup=lookup)  # 9, 10
    validate_limits(event.get("limits"))  # 11
    validate_actions(event.get("actions"), lookup=lookup)
    validate_fields(event.get("fields"), locked_ids=_locked_param_ids(plugin))  # 12
    # Workflow structure (nodes/connections) is [later] and not checked here.


def _check_params(event: dict[str, Any]) -> dict[str, Any]:
    if "params" not in event:
        return {}
    params = event["params"]
    if not isinstance(params, dict):
        raise api_error("Malformed event parameter: params (must be object)")
    reserved = has_reserved_override_key(params)
    if reserved is not None:
        raise api_error(f"Event params: Invalid parameter ID: {reserved} (reserved)")
    return params


def _check_references(event: dict[str, Any], lookup: Lookup) -> dict[str, Any] | None:
    """Category and plugin must exist (plugins named ``_…`` are built-in); returns the plugin."""
    category = event.get("category")
    if js_truthy(category) and not isinstance(lookup.get_category(category), dict):
        raise api_error(f"Category not found: {category}")
    plugin_id = event.get("plugin")
    if not js_truthy(plugin_id) or str(plugin_id).startswith("_"):
        return None
    plugin = lookup.get_plugin(plugin_id)
    if not isinstance(plugin, dict):
        raise api_error(f"Plugin not found: {plugin_id}")
    return plugin


def _check_targets(event: dict[str, Any]) -> None:
    targets = event.get("targets")
    if js_truthy(targets) and not isinstance(targets, list):
        raise api_error("Malformed event parameter: targets (must be array)")
    targets = targets if isinstance(targets, list) else []
    if not targets and event.get("type") != "workflow":
        raise api_error("Event has no targets specified.")
    for target in targets:
        if not isinstance(target, str):
            raise api_error(f"Malformed target: {js_string(target)}")


def _check_expression(event: dict[str, Any]) -> None:
    # No target-expression compiler exists yet ([next]); until it does, only the type is checked.
    expression = event.get("expression")
    if js_truthy(expression) and not isinstance(expression, str):
        raise api_error("Malformed event parameter: expression (must be string)")


def _check_tags(event: dict[str, Any], lookup: Lookup) -> None:
    tags = event.get("tags")
    if not js_truthy(tags):
        return
    if not isinstance(tags, list):
        raise api_error("Malformed event parameter: tags (must be array)")
    for tag in tags:
        if not is_word(tag):
            raise api_error(f"Malformed tag: {js_string(tag)}")
        if not isinstance(lookup.get_tag(tag), dict):
            raise api_error(f"Unknown tag: {tag}")


def _locked_param_ids(plugin: dict[str, Any] | None) -> frozenset[str]:
    defs = plugin.get("params") if plugin is not None else None
    if not isinstance(defs, list):
        return frozenset()
    return frozenset(
        d["id"] for d in defs if isinstance(d, dict) and isinstance(d.get("id"), str) and js_truthy(d.get("locked"))
    )
