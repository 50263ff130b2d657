"""Validation of an event's user-defined fields (``fields[]``, events.md §7.1–7.2).

Fields have the shape of plugin parameter definitions; ``title`` is optional and a field may not
reuse the id of a locked parameter of the event's plugin.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from cronwright.engine.validation.jsvalue import js_truthy
from cronwright.engine.validation.paramdefs import validate_param_definitions
from cronwright.errors import api_error


def validate_fields(fields: Any, *, locked_ids: Collection[str]) -> None:
    """Validate ``fields`` (a falsy value counts as omitted, as in xyOps) — first failure wins.

    Messages read "Malformed user field 'ID': ..." (e.g. "ID must be a string", "Invalid type",
    "Duplicate field ID: x", "ID is already in use (as locked plugin parameter).").
    """
    if not js_truthy(fields):
        return
    if not isinstance(fields, list):
        raise api_error("Malformed event parameter: fields (must be array)")
    validate_param_definitions(fields, what="user field", require_title=False, locked_ids=locked_ids)
