"""Small helpers shared by the engine's use cases: paging parameters and loose equality."""

from __future__ import annotations

import math
import re
from typing import Any

from cronwright.errors import CwError, api_error
from cronwright.store.base import StoreError

#: keys that only the plugin/config provide at launch; stripped from create/update/run payloads
LAUNCH_CONTEXT_KEYS = ("command", "script", "uid", "gid", "cwd", "env", "kill", "runner")

#: request keys that carry credentials (or cache busting): consumed by authentication, never a parameter
CREDENTIAL_KEYS = ("api_key", "session_id", "csrf_token", "cachebust")

#: keys a client may never set on a stored definition (server-set or credentials)
SERVER_SET_KEYS = ("username", "created", "modified", "update_state", "session_id", "api_key")

_INT = re.compile(r"^\s*[+-]?\d+\s*$")
_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


#: the largest integer a JavaScript client can send exactly (and every database can store)
MAX_SAFE_INT = 2**53 - 1


def int_param(params: dict[str, Any], key: str, default: int, *, minimum: int = 0, maximum: int = MAX_SAFE_INT) -> int:
    """An integer paging parameter (query strings arrive as text); bad values are an ``api`` error."""
    value = params.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise api_error(f"Malformed parameter: {key}")
    if isinstance(value, str) and _INT.match(value):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < minimum or value > maximum:
        bound = f" (must be an integer from {minimum} to {maximum})"
        raise api_error(f"Malformed parameter: {key}{bound}")
    return value


def sort_dir_param(params: dict[str, Any]) -> bool:
    """``sort_dir`` (-1 newest first, the default; 1 oldest first) → newest_first."""
    value = params.get("sort_dir", -1)
    if value in (-1, "-1", None, ""):
        return True
    if value in (1, "1"):
        return False
    raise api_error("Malformed parameter: sort_dir (must be 1 or -1)")


def _loose_scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str) and _NUMBER.match(value):
        number = float(value)
        return number if math.isfinite(number) else value
    if isinstance(value, (int, float)):
        return float(value)
    return value


def loose_equal(stored: Any, wanted: Any) -> bool:
    """JavaScript ``==`` for filter values: ``true == 1``, ``"5" == 5``, ``"true" != true``."""
    if stored is None or wanted is None:
        return stored is None and wanted is None
    if isinstance(stored, (list, dict)) or isinstance(wanted, (list, dict)):
        return stored == wanted
    a, b = _loose_scalar(stored), _loose_scalar(wanted)
    if isinstance(a, float) and isinstance(b, float):
        return a == b
    if isinstance(a, float) or isinstance(b, float):
        return False
    return a == b


def public_reason(exc: BaseException) -> str:
    """What a job's readers may see of an exception: the text of errors written for clients
    (``CwError``, ``StoreError``: no SQL, no driver message), a generic phrase for anything else."""
    if isinstance(exc, CwError):
        return exc.description
    if isinstance(exc, StoreError):
        return str(exc)
    return "internal error (see the server log)"
