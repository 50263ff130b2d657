"""The operators: JavaScript arithmetic and comparison over JSON values, with clear type errors.

Primitives coerce as in JavaScript (``"3" * 2`` is 6, ``null + 1`` is 1, ``undefined * 2`` is NaN,
``1 / 0`` is Infinity). ``+`` concatenates when either side is a string, using JavaScript string
forms. An array or object where a number is needed raises "Cannot apply '*' to string and object"
instead of producing JavaScript's NaN or "[object Object]" arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

from .convert import compare_strings, loose_equal, strict_equal, to_js_string
from .errors import MAX_STRING_CHARS, Budget, ExprError
from .values import Kind, kind_name, kind_of, normalize, to_number


def _cannot(op: str, left: Any, right: Any) -> ExprError:
    return ExprError(f"Cannot apply '{op}' to {kind_name(left)} and {kind_name(right)}")


def _numbers(op: str, left: Any, right: Any) -> tuple[float, float]:
    if kind_of(left) >= Kind.ARRAY or kind_of(right) >= Kind.ARRAY:
        raise _cannot(op, left, right)
    return to_number(left), to_number(right)


def _divide(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or a != a:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _floor(x: float) -> float:
    return float(math.floor(x)) if x - x == 0 else x


def _remainder(a: float, b: float) -> float:
    if b == 0 or a != a or b != b or math.isinf(a):
        return math.nan
    if math.isinf(b):
        return a
    return math.fmod(a, b)


_ARITHMETIC: Final[dict[str, Callable[[float, float], float]]] = {
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
    "//": lambda a, b: _floor(_divide(a, b)),
    "%": _remainder,
}


def add(left: Any, right: Any, budget: Budget) -> Any:
    """``+``: string concatenation when either side is a string, else numeric addition."""
    lk, rk = kind_of(left), kind_of(right)
    if lk is Kind.STRING or rk is Kind.STRING:
        a = left if lk is Kind.STRING else to_js_string(left, budget)
        b = right if rk is Kind.STRING else to_js_string(right, budget)
        if len(a) + len(b) > MAX_STRING_CHARS:
            raise ExprError(f"String result is too long (more than {MAX_STRING_CHARS:,} characters)")
        budget.charge(1 + (len(a) + len(b)) // 65536)
        return a + b
    x, y = _numbers("+", left, right)
    return normalize(x + y)


def _compare(op: str, left: Any, right: Any) -> bool:
    if kind_of(left) is Kind.STRING and kind_of(right) is Kind.STRING:
        order = compare_strings(left, right)
    else:
        x, y = _numbers(op, left, right)
        if x != x or y != y:
            return False
        order = (x > y) - (x < y)
    if op == "<":
        return order < 0
    if op == "<=":
        return order <= 0
    if op == ">":
        return order > 0
    return order >= 0


def contains(left: Any, right: Any, budget: Budget) -> bool:
    """JEXL ``in``: substring of a string, or strict (``===``) element of an array; otherwise false."""
    kind = kind_of(right)
    if kind is Kind.STRING:
        needle = left if kind_of(left) is Kind.STRING else to_js_string(left, budget)
        budget.charge(1 + len(right) // 65536)
        return needle in right
    if kind is Kind.ARRAY:
        for item in right:
            budget.charge()
            if strict_equal(left, item, budget):
                return True
    return False


def binary(op: str, left: Any, right: Any, budget: Budget) -> Any:
    """Apply a non-logical binary operator to two evaluated operands."""
    if op == "+":
        return add(left, right, budget)
    if op in _ARITHMETIC:
        x, y = _numbers(op, left, right)
        return normalize(_ARITHMETIC[op](x, y))
    if op == "==":
        return loose_equal(left, right, budget)
    if op == "!=":
        return not loose_equal(left, right, budget)
    if op == "in":
        return contains(left, right, budget)
    return _compare(op, left, right)


def negate(value: Any) -> Any:
    """Unary ``-``: JavaScript numeric negation of a primitive."""
    if kind_of(value) >= Kind.ARRAY:
        raise ExprError(f"Cannot apply unary '-' to {kind_name(value)}")
    return normalize(-to_number(value))
