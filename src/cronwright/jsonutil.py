"""JSON encoding used everywhere (wire and storage): orjson, JavaScript-compatible numbers.

orjson parses integers beyond 64 bits as floats, exactly as a JavaScript client would, and rejects
NaN, Infinity and lone surrogates, so every stored document can be encoded again.

Nesting: orjson parses documents up to 1,024 levels deep but encodes at most 254, so a deeper
value taken in could never be stored or answered. JSON from outside (request bodies, form fields
carrying JSON, plugin output records) goes through ``loads_untrusted``, which refuses more than
``MAX_JSON_DEPTH`` levels.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError
#: the deepest nesting accepted from outside (``{}`` is one level, ``{"a": []}`` two). Real payloads
#: (events, workflows, web hook bodies such as GitHub's) stay under 20; the rest of the 254 levels
#: orjson can encode is left for the records that wrap a payload (a job embeds ``params``,
#: ``post_data``, ``data`` ...), and Python-recursive helpers (copies, templates, validation) stay
#: far below the interpreter's recursion limit.
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACES_TO_BRACKETS = bytes.maketrans(b"{}", b"[]")


class JSONTooDeep(JSONDecodeError):
    """A JSON document nested deeper than allowed (a ``JSONDecodeError``: callers that report
    malformed JSON report this too, as "nested too deeply (limit N)")."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"nested too deeply (limit {limit})", "", 0)
        self.limit = limit

    def __str__(self) -> str:
        return str(self.msg)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def dumps_str(value: Any) -> str:
    return orjson.dumps(value).decode()


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def loads_untrusted(data: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``loads`` for JSON from outside: raises ``JSONTooDeep`` beyond ``max_depth`` levels."""
    try:
        value = orjson.loads(data)
    except JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):  # orjson's own limit (1,024 levels)
            raise JSONTooDeep(max_depth) from None
        raise
    raw = data.encode() if isinstance(data, str) else data
    if raw.count(b"[") + raw.count(b"{") > max_depth and nesting_exceeds(raw, max_depth):
        raise JSONTooDeep(max_depth)
    return value


def nesting_exceeds(raw: bytes, max_depth: int) -> bool:
    """Whether the valid JSON text ``raw`` nests arrays and objects more than ``max_depth`` levels.

    Works on the text at C speed (no walk over the parsed values): strings are removed, then
    everything but brackets; each pass that deletes every empty pair ``[]`` then removes exactly
    one level (after k passes, precisely the containers at most k levels high are gone)."""
    shape = _JSON_STRING.sub(b"", raw).translate(_BRACES_TO_BRACKETS, _NOT_BRACKETS)
    for _ in range(max_depth):
        if not shape:
            return False
        shape = shape.replace(b"[]", b"")
    return bool(shape)
