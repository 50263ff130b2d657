"""Request-parameter checks shared by every handler (api-conventions §5), plus the param-definition
and param-value validators of plugins.md §2 (implemented in ``paramdefs`` and re-exported here).

``require_params`` is xyOps ``requireParams``; ``validate_optional_params`` is
``validateOptionalParams``; ``strip_html_fields`` is the tag stripping ``requireParams`` applies to
``notes``/``label``/``message``. All raise ``cronwright.errors.api_error`` and never anything else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeGuard

from cronwright.engine.validation.jsvalue import js_string, js_truthy, js_typeof
from cronwright.engine.validation.paramdefs import validate_param_definitions, validate_param_values
from cronwright.engine.validation.patterns import (
    HTML_META_RE,
    HTML_TAG_RE,
    ICON_RE,
    ID_RE,
    OVERRIDE_RESERVED_RE,
    RESERVED_WORDS,
    WORD_RE,
)
from cronwright.errors import api_error

__all__ = [
    "ID_RE",
    "OVERRIDE_RESERVED_RE",
    "RESERVED_WORDS",
    "WORD_RE",
    "js_string",
    "require_params",
    "strip_html_fields",
    "validate_optional_params",
    "validate_param_definitions",
    "validate_param_values",
]

_JS_TYPE_NAMES = frozenset({"string", "number", "boolean", "object", "undefined", "function", "bigint", "symbol"})
_HTML_FIELDS = ("notes", "label", "message")

Rule = str | re.Pattern[str]


def require_params(params: Mapping[str, Any], rules: Mapping[str, Rule]) -> None:
    """Check required keys against their rules, then the checks xyOps applies to every request.

    A rule is ``"array"`` (the value must be a list), a JS type name such as ``"string"`` (a
    ``typeof`` check), or a pattern searched in the JS string form of the value (lists and objects
    never match). Afterwards: ``id`` must be a string and not a reserved word, no key may be a
    reserved word, a string ``title`` may not contain ``<``/``>``, and a non-empty ``icon`` must
    match ``^[\\w\\-]+$``.
    """
    for key, rule in rules.items():
        if key not in params:
            raise api_error(f"Missing parameter: {key}")
        value = params[key]
        if rule == "array":
            if not isinstance(value, list):
                raise api_error(f"Parameter is not an array: {key}")
        elif isinstance(rule, str) and rule in _JS_TYPE_NAMES:
            if js_typeof(value) != rule:
                raise api_error(f"Parameter is not type {rule}: {key}")
        elif not _matches(rule, value):
            raise api_error(f"Malformed parameter: {key}")

    if "id" in params:
        ident = params["id"]
        if not isinstance(ident, str):
            raise api_error(f"Invalid ID parameter: {js_string(ident)} (not a string)")
        if ident in RESERVED_WORDS:
            raise api_error(f"Invalid ID parameter: {ident} (reserved word)")
    for key in params:
        if key in RESERVED_WORDS:
            raise api_error(f"Invalid parameter: {key} (illegal key)")
    title = params.get("title")
    if isinstance(title, str) and HTML_META_RE.search(title):
        raise api_error("Malformed title parameter: Cannot contain HTML metacharacters")
    icon = params.get("icon")
    if js_truthy(icon) and not (isinstance(icon, str) and ICON_RE.match(icon)):
        raise api_error("Malformed icon parameter: Contains illegal characters")


def validate_optional_params(
    params: Mapping[str, Any], rules: Mapping[str, tuple[str | re.Pattern[str], str | re.Pattern[str]]]
) -> None:
    """For each rule key present: its JS type name must match the type pattern ("Malformed parameter
    type: K (type)") and its JS string form the value pattern ("Malformed parameter value: K")."""
    for key, (type_rule, value_rule) in rules.items():
        if key not in params:
            continue
        value = params[key]
        type_name = js_typeof(value)
        if not re.search(type_rule, type_name):
            raise api_error(f"Malformed parameter type: {key} ({type_name})")
        if not _matches(value_rule, value):
            raise api_error(f"Malformed parameter value: {key}")


def strip_html_fields(doc: dict[str, Any]) -> None:
    """Silently remove ``<...>`` tags from the string values of ``notes``, ``label`` and ``message``."""
    for key in _HTML_FIELDS:
        value = doc.get(key)
        if isinstance(value, str):
            doc[key] = HTML_TAG_RE.sub("", value)


def is_id(value: Any) -> TypeGuard[str]:
    """True for a lookup id string (``^[a-z0-9_]+$``)."""
    return isinstance(value, str) and ID_RE.match(value) is not None


def is_word(value: Any) -> TypeGuard[str]:
    """True for a reference id string (``^\\w+$``, ASCII)."""
    return isinstance(value, str) and WORD_RE.match(value) is not None


def has_reserved_override_key(values: Mapping[str, Any]) -> str | None:
    """The first key of ``values`` that is a reserved ``_xy_override_*`` name, if any."""
    for key in values:
        if isinstance(key, str) and OVERRIDE_RESERVED_RE.match(key):
            return key
    return None


def _matches(rule: str | re.Pattern[str], value: Any) -> bool:
    """JS ``('' + value).match(rule)`` for scalars; lists and objects never match."""
    if isinstance(value, (list, dict)):
        return False
    return re.search(rule, js_string(value)) is not None
