"""JSON encoding used everywhere (wire and storage): orjson, JavaScript-compatible numbers.

orjson parses integers beyond 64 bits as floats, exactly as a JavaScript client would, and rejects
NaN, Infinity and lone surrogates, so every stored document can be encoded again.
"""

from __future__ import annotations

from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def dumps_str(value: Any) -> str:
    return orjson.dumps(value).decode()


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)
