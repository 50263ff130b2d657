"""JavaScript value semantics shared by validation, trigger maths and the expression evaluator
(xyOps is JavaScript; its rules about truthiness and number printing are part of the API)."""

from __future__ import annotations

import math
from typing import Any


def js_truthy(value: Any) -> bool:
    """JS truthiness: ``null``, ``false``, ``0``, NaN and ``""`` are falsy; arrays and objects are truthy."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0 and value == value
    if isinstance(value, str):
        return value != ""
    return True


def number_to_string(value: float) -> str:
    """ECMAScript ``Number::toString(10)`` of a double: 1.0 → "1", 1e21 → "1e+21", 0.1+0.2 → "0.30000000000000004"."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    int_part, _, frac = mantissa.partition(".")
    digits = int_part + frac
    exp10 = (int(exponent) if exponent else 0) - len(frac)
    stripped = digits.rstrip("0")
    exp10 += len(digits) - len(stripped)
    digits = stripped.lstrip("0")
    count = len(digits)
    point = count + exp10  # value == 0.<digits> * 10**point
    if count <= point <= 21:
        body = digits + "0" * (point - count)
    elif 0 < point <= 21:
        body = digits[:point] + "." + digits[point:]
    elif -6 < point <= 0:
        body = "0." + "0" * (-point) + digits
    else:
        exp = point - 1
        suffix = f"e{'+' if exp >= 0 else '-'}{abs(exp)}"
        body = digits + suffix if count == 1 else digits[0] + "." + digits[1:] + suffix
    return sign + body
