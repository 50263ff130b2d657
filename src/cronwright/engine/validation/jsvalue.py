"""JavaScript value semantics that xyOps validation depends on.

xyOps is written in JavaScript and many of its checks are phrased in JS terms: ``typeof``,
truthiness, ``String(value)`` and loose ``== true``. These pure helpers reproduce those semantics
for JSON values as Python sees them (``None``, ``bool``, ``int``, ``float``, ``str``, ``list``,
``dict``), so that validation answers exactly where xyOps answers. Python's ``bool`` is a subclass
of ``int``; every helper here treats it as a JS boolean, never as a number.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any, TypeGuard

from cronwright.jsvalue import js_truthy, number_to_string

# Arrays nested deeper than this render as "" in js_string (JSON from the wire is rarely deeper;
# the cap keeps the conversion free of RecursionError on hostile input).
_MAX_DEPTH = 64
_EXACT_INT_LIMIT = 2**53
_JS_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_JS_RADIX = re.compile(r"0([xXoObB])([0-9a-fA-F]+)", re.ASCII)
_RADIX_BASE = MappingProxyType({"x": 16, "o": 8, "b": 2})
# JS StrWhiteSpaceChar: what Number(" 1 ") trims.
_JS_WHITESPACE = (
    " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def is_js_number(value: Any) -> bool:
    """True for values JS would see as ``typeof number`` (ints and floats, never booleans)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def js_typeof(value: Any) -> str:
    """The JS ``typeof`` of a JSON value (``null``, arrays and objects are all ``"object"``)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


def js_string(value: Any) -> str:
    """JS ``String(value)``: ``True``→"true", ``None``→"null", ``5``→"5", ``1.0``→"1", lists joined by ","."""
    return _to_string(value, 0)


def js_loose_true(value: Any) -> bool:
    """JS ``value == true``: ``True``, ``1``, ``1.0``, ``"1"``, ``" 1 "``, ``[1]`` — but not ``"true"``."""
    if isinstance(value, bool):
        return value
    if is_js_number(value):
        return bool(value == 1)
    if isinstance(value, str):
        return _string_equals_one(value)
    if isinstance(value, list):
        return _string_equals_one(js_string(value))
    return False


def is_positive_integer_number(value: Any) -> TypeGuard[int | float]:
    """A JSON number, truthy, whose JS string form is all digits (xyOps ``RE_POS_INT`` on a number)."""
    if not (is_js_number(value) and js_truthy(value)):
        return False
    text = js_string(value)
    return text.isascii() and text.isdigit()


def _to_string(value: Any, depth: int) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return _int_string(value)
    if isinstance(value, float):
        return number_to_string(value)
    if isinstance(value, (list, tuple)):
        if depth >= _MAX_DEPTH:
            return ""
        return ",".join("" if item is None else _to_string(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _int_string(value: int) -> str:
    if -_EXACT_INT_LIMIT < value < _EXACT_INT_LIMIT:
        return str(value)
    try:
        return number_to_string(float(value))
    except OverflowError:
        return "Infinity" if value > 0 else "-Infinity"


def _string_equals_one(text: str) -> bool:
    """JS ``Number(text) == 1`` (StringToNumber: trimmed decimal, hex/octal/binary literals)."""
    text = text.strip(_JS_WHITESPACE)
    if _JS_DECIMAL.fullmatch(text):
        return float(text) == 1
    radix = _JS_RADIX.fullmatch(text)
    if radix:
        try:
            return int(radix.group(2), _RADIX_BASE[radix.group(1).lower()]) == 1
        except ValueError:
            return False
    return False
