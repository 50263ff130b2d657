"""The built-in functions, callable as ``name(args)`` or as JEXL transforms ``value|name(args)``.

Functions that xyOps defines (docs/xyexp.md, lib/util.js) give xyOps's results: ``bytes(1536)`` is
"1.5 K", ``number(1048576)`` "1,048,576", ``pct(0.5, 1)`` "50%", ``float(1.3333)`` 1.33,
``integer("1abc")`` 1 and ``find(list, key, text)`` the *list* of objects whose ``key`` contains
``text``. The others (``includes``, ``match``, ``lower``, ``upper``, ``trim``, ``join``, ``split``,
``json``) are Cronwright additions. Every function is total over JSON values: a wrong argument
count, an array or object where a number is needed, or a bad regex / JSON text raises
:class:`ExprError`; ``undefined`` passed to a string helper gives ``undefined`` back.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, Final
from urllib.parse import quote

from cronwright import jsonutil

from .convert import get_key, strict_equal, stringify, to_js_string
from .errors import MAX_STRING_CHARS, Budget, ExprError, check_length
from .regex import search
from .values import (
    UNDEFINED,
    Kind,
    format_number,
    is_truthy,
    js_trim,
    kind_name,
    kind_of,
    normalize,
    parse_float_prefix,
    parse_int_prefix,
    to_number,
)

Impl = Callable[[list[Any], Budget], Any]
_DECIMAL_CONTEXT: Final = Context(prec=400)
_ANY: Final = 1 << 30
_PERCENT_TEXT: Final = re.compile(r"\d+(?:\.\d+)?", re.ASCII)


def _number(name: str, value: Any) -> float:
    """A numeric argument: primitives coerce as in JavaScript; arrays and objects are refused."""
    if kind_of(value) >= Kind.ARRAY:
        raise ExprError(f"{name}() expects a number, got {kind_name(value)}")
    return to_number(value)


def _text(name: str, value: Any, budget: Budget) -> str | None:
    """A string argument: primitives in their JavaScript form; ``None`` for null/undefined."""
    kind = kind_of(value)
    if kind <= Kind.NULL:
        return None
    if kind >= Kind.ARRAY:
        raise ExprError(f"{name}() expects a string, got {kind_name(value)}")
    text = to_js_string(value, budget)
    budget.charge(1 + len(text) // 65536)
    return check_length(text, f"The argument of {name}()")


def _js_round(x: float) -> float:
    """JavaScript ``Math.round``: to the nearest integer, halves toward +Infinity."""
    if x - x != 0 or abs(x) >= 2**52:
        return x
    floor = math.floor(x)
    return float(floor + 1 if x - floor >= 0.5 else floor)


def _floor(x: float) -> float:
    return float(math.floor(x)) if x - x == 0 else x


def _short_float(x: float) -> float:
    """pixl-tools ``shortFloat``: truncate toward -Infinity to two decimal places."""
    return _floor(x * 100) / 100


def _extreme(name: str, args: list[Any], budget: Budget) -> Any:
    values = list(args[0]) if len(args) == 1 and kind_of(args[0]) is Kind.ARRAY else args
    budget.charge(len(values))
    numbers = [_number(name, value) for value in values]
    if any(x != x for x in numbers):
        return math.nan
    if not numbers:
        return math.inf if name == "min" else -math.inf
    return normalize(min(numbers) if name == "min" else max(numbers))


def _round(args: list[Any], budget: Budget) -> Any:
    x = _number("round", args[0])
    if len(args) == 1:
        return normalize(_js_round(x))
    places = _number("round", args[1])
    if not (places.is_integer() and -20 <= places <= 20):
        raise ExprError("round() expects a whole number of decimal places between -20 and 20")
    scale = 10.0 ** abs(places)
    if places >= 0:
        return normalize(_js_round(x * scale) / scale)
    return normalize(_js_round(x / scale) * scale)


def _clamp(args: list[Any], budget: Budget) -> Any:
    x, low, high = (_number("clamp", value) for value in args)
    if x != x or low != low or high != high:
        return math.nan
    return normalize(max(low, min(high, x)))


def _format_number(args: list[Any], budget: Budget) -> Any:
    """``Intl.NumberFormat("en-US").format(value || 0)``: grouped thousands, at most 3 decimals."""
    value = args[0] if is_truthy(args[0]) else 0
    x = _number("number", value)
    if x != x:
        return "NaN"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    rounded = Decimal(repr(x)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP, context=_DECIMAL_CONTEXT)
    whole, _, fraction = f"{abs(rounded):f}".partition(".")
    groups = [whole[max(0, end - 3) : end] for end in range(len(whole), 0, -3)]
    fraction = fraction.rstrip("0")
    sign = "-" if rounded.is_signed() else ""
    return sign + ",".join(reversed(groups)) + ("." + fraction if fraction else "")


def _pct(args: list[Any], budget: Budget) -> Any:
    """pixl-tools ``pct(value, max || 100, floor)``: "50%", never negative or non-finite (→ "0%")."""
    count = _number("pct", args[0])
    maximum = _number("pct", args[1]) if len(args) > 1 and is_truthy(args[1]) else 100.0
    percent = count * 100 / maximum  # maximum is truthy, so never zero
    if not _PERCENT_TEXT.fullmatch(format_number(normalize(percent))):
        percent = 0.0
    shown = _floor(percent) if len(args) > 2 and is_truthy(args[2]) else _short_float(percent)
    return format_number(normalize(shown)) + "%"


def _bytes(args: list[Any], budget: Budget) -> Any:
    """pixl-tools ``getTextFromBytes(parseInt(value))``: "512 bytes", "1.5 K", "1 MB", "2.3 GB"."""
    amount = _floor(_parse_int(args, budget))
    if not amount >= 1024:
        return format_number(normalize(amount)) + (" byte" if amount == 1 else " bytes")
    for unit in ("K", "MB", "GB"):
        amount = _floor(amount / 1024 * 10) / 10
        if not amount >= 1024:
            return f"{format_number(normalize(amount))} {unit}"
    amount = _floor(amount / 1024 * 10) / 10
    return f"{format_number(normalize(amount))} TB"


def _parse_int(args: list[Any], budget: Budget) -> float:
    """JavaScript ``parseInt(String(value))`` (so ``parseInt(0.0000005)`` is 5, like JavaScript)."""
    if kind_of(args[0]) >= Kind.ARRAY:
        raise ExprError(f"Expected a number or a string, got {kind_name(args[0])}")
    return parse_int_prefix(to_js_string(args[0], budget))


def _integer(args: list[Any], budget: Budget) -> Any:
    return normalize(_parse_int(args, budget))


def _float(args: list[Any], budget: Budget) -> Any:
    value = args[0]
    if kind_of(value) >= Kind.ARRAY:
        raise ExprError(f"float() expects a number or a string, got {kind_name(value)}")
    x = parse_float_prefix(to_js_string(value, budget)) if is_truthy(value) else 0.0
    return normalize(_short_float(x))


def _stringify(args: list[Any], budget: Budget) -> Any:
    return stringify(args[0], budget)


def _encode(args: list[Any], budget: Budget) -> Any:
    """``encodeURIComponent(String(value))``."""
    text = check_length(to_js_string(args[0], budget), "The argument of encode()")
    budget.charge(1 + len(text) // 65536)
    try:
        return check_length(quote(text, safe="-_.!~*'()"), "The result of encode()")
    except UnicodeEncodeError:
        raise ExprError("encode() cannot encode a string containing a lone surrogate") from None


def _count(args: list[Any], budget: Budget) -> Any:
    """xyOps ``arr ? arr.length : 0``, extended to count an object's keys."""
    value = args[0]
    if kind_of(value) in (Kind.STRING, Kind.ARRAY, Kind.OBJECT):
        return len(value)
    return 0 if not is_truthy(value) else UNDEFINED


def _includes(args: list[Any], budget: Budget) -> Any:
    haystack, needle = args
    kind = kind_of(haystack)
    if kind is Kind.STRING:
        text = needle if kind_of(needle) is Kind.STRING else to_js_string(needle, budget)
        budget.charge(1 + len(haystack) // 65536)
        return text in haystack
    if kind is Kind.ARRAY:
        for item in haystack:
            budget.charge()
            if strict_equal(item, needle, budget, nan_equal=True):
                return True
        return False
    if kind <= Kind.NULL:
        return False
    raise ExprError(f"includes() expects a string or an array, got {kind_name(haystack)}")


def _find(args: list[Any], budget: Budget) -> Any:
    """xyOps ``find``: the objects of ``array`` whose ``String(item[key])`` contains ``String(value)``."""
    array, key, value = args
    if kind_of(array) is not Kind.ARRAY:
        raise ExprError(f"find() expects an array, got {kind_name(array)}")
    needle = to_js_string(value, budget)
    found = []
    for item in array:
        budget.charge()
        if needle in to_js_string(get_key(item, key), budget):
            found.append(item)
    return found


def _match(args: list[Any], budget: Budget) -> Any:
    text, pattern = args
    if kind_of(pattern) is not Kind.STRING:
        raise ExprError(f"match() expects the pattern as a string, got {kind_name(pattern)}")
    subject = _text("match", text, budget)
    return False if subject is None else search(pattern, subject, budget)


def _string_helper(name: str, change: Callable[[str], str]) -> Impl:
    def apply(args: list[Any], budget: Budget) -> Any:
        text = _text(name, args[0], budget)
        return UNDEFINED if text is None else check_length(change(text), f"The result of {name}()")

    return apply


def _join(args: list[Any], budget: Budget) -> Any:
    array = args[0]
    kind = kind_of(array)
    if kind <= Kind.NULL:
        return UNDEFINED
    if kind is not Kind.ARRAY:
        raise ExprError(f"join() expects an array, got {kind_name(array)}")
    separator = "," if len(args) < 2 or kind_of(args[1]) is Kind.UNDEFINED else to_js_string(args[1], budget)
    parts: list[str] = []
    size = 0
    for item in array:
        budget.charge()
        part = "" if kind_of(item) <= Kind.NULL else to_js_string(item, budget)
        size += len(part) + len(separator)
        if size > MAX_STRING_CHARS + len(separator):
            raise ExprError(f"The result of join() is too long (more than {MAX_STRING_CHARS:,} characters)")
        parts.append(part)
    return separator.join(parts)


def _split(args: list[Any], budget: Budget) -> Any:
    text = _text("split", args[0], budget)
    if text is None:
        return UNDEFINED
    if len(args) < 2 or kind_of(args[1]) is Kind.UNDEFINED:
        return [text]
    separator = to_js_string(args[1], budget)
    if separator == "":
        budget.charge(len(text))
        return list(text)
    budget.charge(1 + text.count(separator))
    return text.split(separator)


def _json(args: list[Any], budget: Budget) -> Any:
    text = args[0]
    if kind_of(text) is not Kind.STRING:
        raise ExprError(f"json() expects a string, got {kind_name(text)}")
    check_length(text, "The argument of json()")
    budget.charge(1 + len(text) // 64)
    try:
        return jsonutil.loads_untrusted(text)
    except jsonutil.JSONDecodeError as exc:
        raise ExprError(f"json() could not parse its argument: {exc}") from None


def _unary_math(name: str, change: Callable[[float], float]) -> Impl:
    return lambda args, budget: normalize(change(_number(name, args[0])))


BUILTINS: Final[dict[str, tuple[Impl, int, int]]] = {
    "min": (lambda args, budget: _extreme("min", args, budget), 0, _ANY),
    "max": (lambda args, budget: _extreme("max", args, budget), 0, _ANY),
    "floor": (_unary_math("floor", _floor), 1, 1),
    "ceil": (_unary_math("ceil", lambda x: -_floor(-x) + 0.0), 1, 1),
    "round": (_round, 1, 2),
    "clamp": (_clamp, 3, 3),
    "number": (_format_number, 1, 1),
    "integer": (_integer, 1, 1),
    "float": (_float, 1, 1),
    "pct": (_pct, 1, 3),
    "bytes": (_bytes, 1, 1),
    "stringify": (_stringify, 1, 1),
    "encode": (_encode, 1, 1),
    "count": (_count, 1, 1),
    "includes": (_includes, 2, 2),
    "find": (_find, 3, 3),
    "match": (_match, 2, 2),
    "lower": (_string_helper("lower", str.lower), 1, 1),
    "upper": (_string_helper("upper", str.upper), 1, 1),
    "trim": (_string_helper("trim", js_trim), 1, 1),
    "join": (_join, 1, 2),
    "split": (_split, 1, 2),
    "json": (_json, 1, 1),
}


def call_builtin(name: str, args: list[Any], budget: Budget) -> Any:
    """Call built-in ``name``; raises "Unknown function: name" or an argument-count error."""
    entry = BUILTINS.get(name)
    if entry is None:
        raise ExprError(f"Unknown function: {name}")
    impl, least, most = entry
    if not least <= len(args) <= most:
        expected = str(least) if least == most else f"at least {least}" if most == _ANY else f"{least} to {most}"
        raise ExprError(f"{name}() takes {expected} argument{'s' if most != 1 else ''} ({len(args)} given)")
    return impl(args, budget)
