"""Parameter definitions (plugin ``params[]``, event ``fields[]``) and the values checked against them.

plugins.md §2: ``validate_param_definitions`` is what a plugin save (or an event's ``fields``)
must pass; ``validate_param_values`` is xyOps ``validateParamValues`` (required / regex / range),
used for event params, trigger params, run requests, magic links and actions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from cronwright.engine.validation.jsvalue import is_js_number, js_string, js_truthy
from cronwright.engine.validation.patterns import (
    HTML_META_RE,
    OVERRIDE_RESERVED_RE,
    PARAM_ID_RE,
    PARAM_ID_START_RE,
    RESERVED_WORDS,
    RegexTooCostly,
    UserRegex,
    compile_user_regex,
)
from cronwright.errors import CwError, api_error

PARAM_TYPES = frozenset(
    {"text", "textarea", "code", "json", "checkbox", "select", "bucket", "system", "hidden", "toolset", "group"}
)
TEXT_VARIANTS = frozenset(
    {"color", "date", "datetime-local", "email", "number", "password", "text", "time", "tel", "url"}
)
RANGE_EPSILON = 1e-7

_NUM = r"\d+(?:\.\d+)?|\.\d+"
_RANGE_RE = re.compile(rf"(-?(?:{_NUM}))-(-?(?:{_NUM}))(?:/((?:{_NUM})|any))?", re.ASCII)
_NUMERIC_VALUE_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_WHITESPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class NumericRange:
    """A parsed ``"MIN-MAX/STEP"`` range; ``step`` is ``None`` for ``any``."""

    low: float
    high: float
    step: float | None


def parse_range(spec: Any) -> NumericRange | None:
    """Parse ``"1-100/1"``, ``"0 - 10 / any"``, ``"-5--1/1"`` (whitespace ignored, step optional).

    Returns ``None`` for anything else, including a non-positive step.
    """
    if not isinstance(spec, str):
        return None
    match = _RANGE_RE.fullmatch(_WHITESPACE_RE.sub("", spec))
    if not match:
        return None
    low, high, step_text = float(match.group(1)), float(match.group(2)), match.group(3)
    step = None if step_text in (None, "any") else float(step_text)
    if step is not None and not step > 0:
        return None
    return NumericRange(low, high, step)


def validate_param_definitions(
    defs: Any,
    *,
    what: str = "parameter",
    require_title: bool = True,
    locked_ids: Collection[str] = (),
) -> None:
    """Validate a list of parameter definitions; errors read "Malformed <what> '<id>': ...".

    ``what="user field"`` with ``require_title=False`` gives the event ``fields[]`` rules
    (events.md §7); ``locked_ids`` are ids a definition may not reuse (locked plugin params).
    """
    noun = what.split()[-1]
    if not isinstance(defs, list):
        raise api_error(f"Malformed {what} list (must be array)")
    seen: set[str] = set()
    for index, item in enumerate(defs, start=1):
        if not isinstance(item, dict):
            raise api_error(f"Malformed {what} #{index} (not an object)")
        ident = item.get("id")
        prefix = f"Malformed {what} '{js_string(ident) if js_truthy(ident) else 'n/a'}'"
        _check_definition_id(ident, prefix, seen, noun, locked_ids)
        seen.add(str(ident))
        _check_definition_body(item, prefix, require_title)


def validate_param_values(defs: Any, values: Any, prefix: str) -> None:
    """Check ``values`` against each definition's ``required``, ``regex`` and ``range``.

    Messages: "<prefix>: Parameter 'x' is required." / "... value is invalid." /
    "... value is invalid (range).". Malformed definitions are skipped (they are rejected where
    they are saved); an unparseable ``range`` is ignored; a bad ``regex`` is reported.
    """
    if not isinstance(defs, list):
        return
    if not isinstance(values, Mapping):
        values = {}
    for item in defs:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        ident = item["id"]
        value = values.get(ident)
        text = "" if value is None else js_string(value)
        if js_truthy(item.get("required")) and text == "":
            raise api_error(f"{prefix}: Parameter '{ident}' is required.")
        if text == "":
            continue
        regex = item.get("regex")
        if js_truthy(regex):
            try:
                matched = _user_regex(regex, f"{prefix}: Parameter '{ident}'").search(text)
            except RegexTooCostly:
                raise api_error(
                    f"{prefix}: Parameter '{ident}' value could not be checked (too long for its regular expression)."
                ) from None
            if not matched:
                raise api_error(f"{prefix}: Parameter '{ident}' value is invalid.")
        numeric_range = parse_range(item.get("range"))
        if numeric_range is not None and not _in_range(value, text, numeric_range):
            raise api_error(f"{prefix}: Parameter '{ident}' value is invalid (range).")


def _check_definition_id(ident: Any, prefix: str, seen: set[str], noun: str, locked_ids: Collection[str]) -> None:
    if not isinstance(ident, str):
        raise api_error(f"{prefix}: ID must be a string")
    if not PARAM_ID_RE.match(ident):
        raise api_error(
            f"{prefix}: Invalid parameter ID: {ident} (must contain only alphanumerics, underscore, dash and period)"
        )
    if not PARAM_ID_START_RE.match(ident):
        raise api_error(f"{prefix}: Invalid parameter ID: {ident} (must begin with a letter or underscore)")
    if ident in RESERVED_WORDS:
        raise api_error(f"{prefix}: Invalid parameter ID: {ident} (reserved word)")
    if OVERRIDE_RESERVED_RE.match(ident):
        raise api_error(f"{prefix}: Invalid parameter ID: {ident} (reserved)")
    if ident in seen:
        raise api_error(f"{prefix}: Duplicate {noun} ID: {ident}")
    if ident in locked_ids:
        raise api_error(f"{prefix}: ID is already in use (as locked plugin parameter).")


def _check_definition_body(item: dict[str, Any], prefix: str, require_title: bool) -> None:
    kind = item.get("type")
    if not isinstance(kind, str):
        raise api_error(f"{prefix}: Type must be a string")
    if kind not in PARAM_TYPES:
        raise api_error(f"{prefix}: Invalid type")
    title = item.get("title")
    if require_title and not js_truthy(title):
        raise api_error(f"{prefix}: Title property is missing")
    if js_truthy(title):
        if not isinstance(title, str):
            raise api_error(f"{prefix}: Title must be a string")
        if HTML_META_RE.search(title):
            raise api_error(f"{prefix}: Title contains illegal characters")
    caption = item.get("caption")
    if js_truthy(caption):
        if not isinstance(caption, str):
            raise api_error(f"{prefix}: Caption must be a string")
        if HTML_META_RE.search(caption):
            raise api_error(f"{prefix}: Caption contains illegal characters")
    variant = item.get("variant")
    if kind == "text" and js_truthy(variant) and not (isinstance(variant, str) and variant in TEXT_VARIANTS):
        raise api_error(f"{prefix}: Invalid text field variant")
    regex = item.get("regex")
    if js_truthy(regex):
        _user_regex(regex, prefix)
    spec = item.get("range")
    if js_truthy(spec) and parse_range(spec) is None:
        raise api_error(f"{prefix}: Invalid range: {js_string(spec)} (expected MIN-MAX/STEP)")
    if kind == "toolset":
        data = item.get("data")
        tools = data.get("tools") if isinstance(data, dict) else None
        if not isinstance(tools, list) or not tools:
            raise api_error(f"{prefix}: Toolset data must contain a non-empty tools array")


def _user_regex(pattern: Any, prefix: str) -> UserRegex:
    """Compile a definition's regex; a failure names the definition ("<prefix>: Invalid regular expression: ...")."""
    try:
        return compile_user_regex(pattern)
    except CwError as exc:
        raise api_error(f"{prefix}: {exc.description}") from None


def _in_range(value: Any, text: str, numeric_range: NumericRange) -> bool:
    """True if the value is a finite number within the range and on a step (epsilon 1e-7)."""
    try:
        if is_js_number(value):
            number = float(value)
        elif isinstance(value, str) and _NUMERIC_VALUE_RE.fullmatch(text.strip()):
            number = float(text.strip())
        else:
            return False
    except OverflowError:
        return False
    if not math.isfinite(number) or not numeric_range.low <= number <= numeric_range.high:
        return False
    if numeric_range.step is None:
        return True
    steps = (number - numeric_range.low) / numeric_range.step
    return math.isfinite(steps) and abs(math.remainder(steps, 1.0)) < RANGE_EPSILON
