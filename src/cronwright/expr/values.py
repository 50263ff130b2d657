"""JavaScript value semantics over JSON values: kinds, truthiness, numbers and their text forms.

Expressions only ever see JSON values as Python holds them (``None``, ``bool``, ``int``, ``float``,
``str``, ``list``/``tuple``, ``dict``) plus :data:`UNDEFINED`, JavaScript's ``undefined``. Any other
Python object met in a context is treated as ``undefined``: the evaluator never touches attributes
or methods of foreign objects. Python's ``bool`` is an ``int``; here it is always a boolean.

Numbers follow JavaScript doubles: arithmetic is done in ``float`` and integral results inside the
exact range (±2**53) come back as ``int``, so no operation ever builds a huge Python integer.
"""

from __future__ import annotations

import math
import re
from enum import IntEnum
from typing import Any, Final

from cronwright.jsvalue import number_to_string


class _Undefined:
    """JavaScript's ``undefined``: what a missing property evaluates to."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False

    def __copy__(self) -> _Undefined:
        return self

    def __deepcopy__(self, memo: object) -> _Undefined:
        return self


UNDEFINED: Final = _Undefined()
"""The sentinel for JavaScript ``undefined`` (falsy, distinct from ``None``, which is ``null``)."""


class Kind(IntEnum):
    """The JavaScript type of a value, with arrays told apart from objects."""

    UNDEFINED = 0
    NULL = 1
    BOOLEAN = 2
    NUMBER = 3
    STRING = 4
    ARRAY = 5
    OBJECT = 6


KIND_NAMES: Final = {
    Kind.UNDEFINED: "undefined",
    Kind.NULL: "null",
    Kind.BOOLEAN: "boolean",
    Kind.NUMBER: "number",
    Kind.STRING: "string",
    Kind.ARRAY: "array",
    Kind.OBJECT: "object",
}

EXACT_INT_LIMIT: Final = 2**53
_JS_WHITESPACE: Final = (
    " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_DECIMAL: Final = re.compile(r"[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)", re.ASCII)
_RADIX: Final = re.compile(r"0([xXoObB])([0-9a-fA-F]+)", re.ASCII)
_RADIX_BASE: Final = {"x": 16, "o": 8, "b": 2}
_INT_PREFIX: Final = re.compile(r"([+-]?)(?:0[xX]([0-9a-fA-F]+)|(\d+))", re.ASCII)


def kind_of(value: Any) -> Kind:
    """Classify a value; anything that is not a JSON value counts as ``undefined``."""
    if value is None:
        return Kind.NULL
    if isinstance(value, str):
        return Kind.STRING
    if isinstance(value, bool):
        return Kind.BOOLEAN
    if isinstance(value, (int, float)):
        return Kind.NUMBER
    if isinstance(value, dict):
        return Kind.OBJECT
    if isinstance(value, (list, tuple)):
        return Kind.ARRAY
    return Kind.UNDEFINED


def kind_name(value: Any) -> str:
    """The JavaScript-style type name used in error messages ("string", "array", ...)."""
    return KIND_NAMES[kind_of(value)]


def is_truthy(value: Any) -> bool:
    """JavaScript truthiness: 0, NaN, "", null, undefined and false are falsy; ``[]`` and ``{}`` are truthy."""
    kind = kind_of(value)
    if kind is Kind.NUMBER:
        return bool(value == value and value != 0)
    if kind is Kind.STRING:
        return value != ""
    if kind is Kind.BOOLEAN:
        return bool(value)
    return kind >= Kind.ARRAY


def as_float(value: int | float) -> float:
    """A number as a double; integers too large for a double become ±Infinity, as in JavaScript."""
    if isinstance(value, float):
        return value
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def normalize(number: float) -> int | float:
    """Return integral doubles inside ±2**53 as ``int`` (keeping ``-0.0``, NaN and ±Infinity as floats)."""
    if number.is_integer() and -EXACT_INT_LIMIT < number < EXACT_INT_LIMIT:
        if number == 0 and math.copysign(1.0, number) < 0:
            return number
        return int(number)
    return number


def to_number(value: Any) -> float:
    """JavaScript ``Number(value)`` for primitives (``null`` → 0, ``undefined`` → NaN, strings parsed)."""
    kind = kind_of(value)
    if kind is Kind.NUMBER:
        return as_float(value)
    if kind is Kind.BOOLEAN:
        return 1.0 if value else 0.0
    if kind is Kind.NULL:
        return 0.0
    if kind is Kind.STRING:
        return string_to_number(value)
    return math.nan


def string_to_number(text: str) -> float:
    """JavaScript StringToNumber: trimmed decimal, ``Infinity``, or a 0x/0o/0b literal; else NaN."""
    text = text.strip(_JS_WHITESPACE)
    if not text:
        return 0.0
    if _DECIMAL.fullmatch(text):
        return float(text.replace("Infinity", "inf"))
    radix = _RADIX.fullmatch(text)
    if radix:
        try:
            return float(int(radix.group(2), _RADIX_BASE[radix.group(1).lower()]))
        except (ValueError, OverflowError):
            return math.nan
    return math.nan


def parse_float_prefix(text: str) -> float:
    """JavaScript ``parseFloat``: the longest decimal prefix after leading whitespace, else NaN."""
    found = _DECIMAL.match(text.lstrip(_JS_WHITESPACE))
    if not found:
        return math.nan
    return float(found.group(0).replace("Infinity", "inf"))


def parse_int_prefix(text: str) -> float:
    """JavaScript ``parseInt`` with no radix: a leading decimal or 0x-hexadecimal integer, else NaN."""
    found = _INT_PREFIX.match(text.lstrip(_JS_WHITESPACE))
    if not found:
        return math.nan
    sign = -1.0 if found.group(1) == "-" else 1.0
    hex_digits, digits = found.group(2), found.group(3)
    if hex_digits is not None:
        magnitude = math.inf if len(hex_digits) > 300 else float(int(hex_digits, 16))
    else:
        magnitude = float(digits)  # float() parses any length of digits (inf beyond range)
    return sign * magnitude


def format_number(value: int | float) -> str:
    """JavaScript ``Number.prototype.toString()``: ``1.0`` → "1", ``1e21`` → "1e+21", NaN → "NaN"."""
    if isinstance(value, int) and not isinstance(value, bool) and -EXACT_INT_LIMIT < value < EXACT_INT_LIMIT:
        return str(value)
    return number_to_string(as_float(value))


def js_trim(text: str) -> str:
    """JavaScript ``String.prototype.trim`` (its whitespace set differs slightly from Python's)."""
    return text.strip(_JS_WHITESPACE)


def property_key(value: Any) -> str | None:
    """The property name a primitive key stands for (``1`` → "1", ``null`` → "null"), else ``None``."""
    kind = kind_of(value)
    if kind is Kind.STRING:
        return str(value)
    if kind is Kind.NUMBER:
        return format_number(value)
    if kind is Kind.BOOLEAN:
        return "true" if value else "false"
    if kind is Kind.NULL:
        return "null"
    return None
