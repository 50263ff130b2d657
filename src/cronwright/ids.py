"""Identifier generation in the xyOps format.

A generated id is ``prefix + base36(milliseconds) + base36(counter, 2 chars) + random``, padded
with random ``[a-z0-9]`` characters to 16 characters in all (``e`` events, ``j`` jobs, ``k`` API
keys, ``ca`` categories, ``g`` groups, ``p`` plugins, ``t`` tags, ``w`` web hooks, ``r`` roles,
``a`` activity, ``f`` files, ``m`` meta rows, ``s`` sessions).
"""

from __future__ import annotations

import itertools
import secrets
import time

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_counter = itertools.count()
ID_LENGTH = 16


def base36(value: int) -> str:
    if value < 0:
        raise ValueError("negative value")
    digits = []
    while True:
        value, rem = divmod(value, 36)
        digits.append(_ALPHABET[rem])
        if not value:
            return "".join(reversed(digits))


def random_chars(count: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(count))


def generate_id(prefix: str, length: int = ID_LENGTH) -> str:
    """A unique, roughly time-ordered id such as ``emk2b9x1a00q7z3c``."""
    stamp = base36(time.time_ns() // 1_000_000)
    count = base36(next(_counter) % 1296).rjust(2, "0")
    core = prefix + stamp + count
    return core + random_chars(max(0, length - len(core)))
