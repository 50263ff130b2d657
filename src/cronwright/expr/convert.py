"""Bounded conversions and comparisons of JSON values: text forms, JSON, equality, property access.

Every walk over a value is iterative and charges the evaluation :class:`~.errors.Budget`, so a huge,
deeply nested or even cyclic structure in the context costs a bounded amount of time and never
recurses in Python. Produced strings are capped at :data:`~.errors.MAX_STRING_CHARS`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Final

from .errors import MAX_STRING_CHARS, Budget, ExprError
from .values import UNDEFINED, Kind, as_float, format_number, kind_of, property_key, string_to_number

_END: Final = object()
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_ARRAY_INDEX: Final = re.compile(r"0|[1-9]\d{0,15}", re.ASCII)


def _too_long(what: str) -> ExprError:
    return ExprError(f"{what} is too long (more than {MAX_STRING_CHARS:,} characters)")


def to_js_string(value: Any, budget: Budget) -> str:
    """JavaScript ``String(value)``: arrays joined by ",", objects "[object Object]", ``undefined`` "undefined"."""
    kind = kind_of(value)
    if kind is Kind.STRING:
        return str(value)
    if kind is Kind.NUMBER:
        return format_number(value)
    if kind is Kind.BOOLEAN:
        return "true" if value else "false"
    if kind is Kind.NULL:
        return "null"
    if kind is Kind.OBJECT:
        return "[object Object]"
    if kind is Kind.ARRAY:
        return _array_string(value, budget)
    return "undefined"


def _array_string(array: Any, budget: Budget) -> str:
    """``Array.prototype.join(",")`` applied recursively, as ``String([1, [2, 3]])`` → "1,2,3"."""
    parts: list[str] = []
    size = 0
    stack: list[tuple[Iterator[Any], list[bool]]] = [(iter(array), [True])]
    while stack:
        items, first = stack[-1]
        item: Any = next(items, _END)
        if item is _END:
            stack.pop()
            continue
        budget.charge()
        if not first[0]:
            parts.append(",")
            size += 1
        first[0] = False
        kind = kind_of(item)
        if kind is Kind.ARRAY:
            stack.append((iter(item), [True]))
            continue
        text = "" if kind in (Kind.NULL, Kind.UNDEFINED) else to_js_string(item, budget)
        parts.append(text)
        size += len(text)
        if size > MAX_STRING_CHARS:
            raise _too_long("String result")
    return "".join(parts)


def quote_json_string(text: str) -> str:
    """A JSON string literal as ``JSON.stringify`` writes it (lone surrogates escaped as ``\\udXXX``)."""
    quoted = json.dumps(text, ensure_ascii=False)
    if _SURROGATE.search(quoted):
        quoted = _SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", quoted)
    return quoted


def stringify(value: Any, budget: Budget) -> Any:
    """Compact ``JSON.stringify(value)`` with JavaScript number forms; ``undefined`` gives :data:`UNDEFINED`."""
    if kind_of(value) is Kind.UNDEFINED:
        return UNDEFINED
    out: list[str] = []
    size = 0
    stack: list[tuple[bool, Iterator[Any], list[bool]]] = []

    def emit(item: Any) -> None:
        nonlocal size
        budget.charge()
        kind = kind_of(item)
        if kind is Kind.ARRAY:
            text = "["
            stack.append((False, iter(item), [True]))
        elif kind is Kind.OBJECT:
            text = "{"
            stack.append((True, iter(item.items()), [True]))
        elif kind is Kind.STRING:
            text = quote_json_string(item)
        elif kind is Kind.NUMBER:
            number = as_float(item)
            text = format_number(item) if number - number == 0 else "null"
        elif kind is Kind.BOOLEAN:
            text = "true" if item else "false"
        else:
            text = "null"
        out.append(text)
        size += len(text)
        if size > MAX_STRING_CHARS:
            raise _too_long("JSON text")

    emit(value)
    while stack:
        is_object, items, first = stack[-1]
        entry: Any = next(items, _END)
        if entry is _END:
            stack.pop()
            out.append("}" if is_object else "]")
            size += 1
            continue
        if is_object:
            key, item = entry
            name = property_key(key)
            if name is None or kind_of(item) is Kind.UNDEFINED:
                continue
            out.append(("" if first[0] else ",") + quote_json_string(name) + ":")
            size += len(out[-1])
        else:
            item = entry
            if not first[0]:
                out.append(",")
                size += 1
        first[0] = False
        emit(item)
    return "".join(out)


def deep_equal(left: Any, right: Any, budget: Budget) -> bool:
    """Structural equality of two values with strict (``===``) comparison of the leaves."""
    pending = [(left, right)]
    while pending:
        a, b = pending.pop()
        budget.charge()
        if a is b and isinstance(a, (dict, list, tuple)):
            continue  # the same container: equal, as JavaScript's identity comparison says
        kind = kind_of(a)
        if kind is not kind_of(b):
            return False
        if kind is Kind.ARRAY:
            if len(a) != len(b):
                return False
            pending.extend(zip(a, b, strict=True))
        elif kind is Kind.OBJECT:
            if len(a) != len(b):
                return False
            for key, item in a.items():
                if key not in b:
                    return False
                pending.append((item, b[key]))
        elif kind is Kind.NUMBER:
            if as_float(a) != as_float(b):
                return False
        elif kind in (Kind.STRING, Kind.BOOLEAN) and a != b:
            return False
    return True


def strict_equal(left: Any, right: Any, budget: Budget, *, nan_equal: bool = False) -> bool:
    """JavaScript ``===`` (``SameValueZero`` with ``nan_equal``); arrays and objects compare by content."""
    kind = kind_of(left)
    if kind is not kind_of(right):
        return False
    if kind is Kind.NUMBER:
        a, b = as_float(left), as_float(right)
        return a == b or (nan_equal and a != a and b != b)
    if kind in (Kind.ARRAY, Kind.OBJECT):
        return deep_equal(left, right, budget)
    if kind in (Kind.NULL, Kind.UNDEFINED):
        return True
    return bool(left == right)


def loose_equal(left: Any, right: Any, budget: Budget) -> bool:
    """JavaScript ``==``: ``1 == "1"``, ``null == undefined``, ``true == 1``; arrays/objects by content."""
    for _ in range(4):  # each round removes one coercion (boolean, array/object, string); four always settle
        lk, rk = kind_of(left), kind_of(right)
        if lk is rk:
            return strict_equal(left, right, budget)
        if lk <= Kind.NULL or rk <= Kind.NULL:
            return lk <= Kind.NULL and rk <= Kind.NULL
        if lk is Kind.BOOLEAN:
            left = 1 if left else 0
        elif rk is Kind.BOOLEAN:
            right = 1 if right else 0
        elif lk is Kind.NUMBER and rk is Kind.STRING:
            right = string_to_number(right)
        elif lk is Kind.STRING and rk is Kind.NUMBER:
            left = string_to_number(left)
        elif lk >= Kind.ARRAY and rk >= Kind.ARRAY:
            return False
        elif lk >= Kind.ARRAY:
            left = to_js_string(left, budget)
        else:
            right = to_js_string(right, budget)
    return False  # pragma: no cover - the coercions above always settle within four rounds


def compare_strings(left: str, right: str) -> int:
    """-1, 0 or 1 comparing by UTF-16 code units, as JavaScript's ``<`` does on strings."""
    if left == right:
        return 0
    a = left.encode("utf-16-be", "surrogatepass")
    b = right.encode("utf-16-be", "surrogatepass")
    return -1 if a < b else 1


def get_key(subject: Any, key: Any) -> Any:
    """JavaScript ``subject[key]`` restricted to JSON data: own keys, array indexes and ``length``."""
    kind = kind_of(subject)
    if kind < Kind.STRING:
        return UNDEFINED
    name = property_key(key)
    if name is None:
        return UNDEFINED
    if kind is Kind.OBJECT:
        found = subject.get(name, UNDEFINED)
        return found if kind_of(found) is not Kind.UNDEFINED else UNDEFINED
    if name == "length":
        return len(subject)
    if not _ARRAY_INDEX.fullmatch(name):
        return UNDEFINED
    index = int(name)
    if index >= len(subject):
        return UNDEFINED
    found = subject[index]
    return found if kind_of(found) is not Kind.UNDEFINED else UNDEFINED


def get_dot(subject: Any, name: str) -> Any:
    """JEXL ``subject.name``: like ``subject[name]``, except that on an array it reads the first element."""
    if kind_of(subject) is Kind.ARRAY:
        if not subject:
            return UNDEFINED
        subject = subject[0]
    return get_key(subject, name)
