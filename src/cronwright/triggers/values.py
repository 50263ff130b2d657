"""Lenient readers for trigger fields: JS truthiness and numbers, never raising on odd input.

Triggers are validated when an event is saved; the scheduling maths still reads them defensively
(a hand-edited store or an older record must not crash a tick). Each reader returns a neutral value
for anything it does not understand; the callers decide what "not understood" means for a trigger.
"""

from __future__ import annotations

import math
from typing import Any

from cronwright.jsvalue import js_truthy

__all__ = ["as_int", "as_number", "int_set", "js_truthy", "str_list"]


def as_number(value: Any) -> int | float | None:
    """``value`` when it is a finite JSON number (booleans excluded), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def as_int(value: Any) -> int | None:
    """``value`` as an ``int`` when it is an integral finite number, else ``None``."""
    number = as_number(value)
    if number is None:
        return None
    if isinstance(number, float):
        return int(number) if number.is_integer() else None
    return number


def int_set(value: Any) -> frozenset[int] | None:
    """A schedule list as a set; ``None`` means "any" (missing, ``null`` or empty list).

    Non-integral members are dropped (JS ``includes`` would never match them), so a list of only
    such members, or a value that is not a list at all, yields the empty set: it never matches.
    """
    if value is None or (isinstance(value, list) and not value):
        return None
    if not isinstance(value, list):
        return frozenset()
    return frozenset(number for number in map(as_int, value) if number is not None)


def str_list(value: Any) -> list[str]:
    """The strings of ``value`` when it is a list, else an empty list."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]
