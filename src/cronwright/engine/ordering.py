"""Changing many categories or groups in one call: ``multi_update_category`` / ``multi_update_group``.

The request is ``items: [{id, sort_order?, enabled?}, ...]``. Only the fields listed per kind in
``MULTI_UPDATE_FIELDS`` may be set this way (everything else goes through ``update_<one>``). All
records change in one transaction with one activity row; a record whose values do not change
keeps its ``modified`` and ``revision``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cronwright.clock import Clock
from cronwright.engine import activity
from cronwright.engine.activity import Origin
from cronwright.engine.catalog import Catalog
from cronwright.engine.entities import Authenticate, Kind
from cronwright.engine.validation import validate_optional_params
from cronwright.errors import Conflict, NotFound, api_error
from cronwright.store.base import StaleWrite

#: store kind → the fields a multi-update may change
MULTI_UPDATE_FIELDS: dict[str, tuple[str, ...]] = {
    "categories": ("sort_order", "enabled"),
    "groups": ("sort_order",),
}
_RULES = {
    "sort_order": ("^number$", r"^-?\d+(\.\d+)?(e[+-]?\d+)?$"),
    "enabled": ("^(boolean|number)$", r"^(true|false|\d+)$"),
}
_ATTEMPTS = 3


def multi_update(
    catalog: Catalog,
    clock: Clock,
    kind: Kind,
    params: dict[str, Any],
    authenticate: Authenticate,
    origin: Origin,
    on_change: Callable[[Kind], None] | None = None,
) -> list[dict[str, Any]]:
    """Apply ``params["items"]``; returns the records that changed (as stored)."""
    allowed = MULTI_UPDATE_FIELDS[kind.kind]
    changes = _parse_items(params.get("items"), allowed)
    who = authenticate()
    who.require(kind.privileges[1] if kind.privileges else "admin")
    # like xyOps: only callers unrestricted in this dimension may reorder the whole list
    if kind.scope == "category":
        who.require_category("*")
    elif kind.scope == "group":
        who.require_group("*")
    collection = catalog[kind.kind]
    for doc_id in changes:
        if doc_id not in collection:
            raise NotFound(kind.code, f"{kind.title} not found: {doc_id}")
    for attempt in range(_ATTEMPTS):
        now = int(clock.now())
        updated: list[tuple[dict[str, Any], Any]] = []
        for doc_id, fields in changes.items():
            current = collection.get(doc_id)
            if current is None:  # deleted since the check above (only after a retry)
                raise NotFound(kind.code, f"{kind.title} not found: {doc_id}")
            if all(k in current and current[k] == v and type(current[k]) is type(v) for k, v in fields.items()):
                continue
            revision = current.get("revision")
            merged = {**current, **fields, "modified": now, "revision": _number(revision) + 1}
            updated.append((merged, revision))
        try:
            with catalog.transaction() as tx:
                for doc, revision in updated:
                    tx.update(kind.kind, doc, expected_revision=revision)
                activity.record(
                    tx.writer,
                    f"{kind.activity}_multi_update",
                    epoch=now,
                    description="",
                    who=who,
                    origin=origin,
                    keywords=list(changes),
                    updated=sorted({key for fields in changes.values() for key in fields}),
                    items=[{"id": doc_id, **fields} for doc_id, fields in changes.items()],
                )
        except StaleWrite:
            if attempt == _ATTEMPTS - 1:
                raise Conflict(kind.code, f"{kind.title} was changed concurrently, please retry.") from None
            for doc_id in changes:
                catalog.refresh(kind.kind, doc_id)
            continue
        if updated and on_change:
            on_change(kind)
        return [doc for doc, _ in updated]
    raise AssertionError("unreachable")


def _parse_items(items: Any, allowed: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``items`` → ``{id: fields}`` in request order (a repeated id: later fields win)."""
    if items is None:
        raise api_error("Missing parameter: items")
    if not isinstance(items, list):
        raise api_error("Parameter is not an array: items")
    if not items:
        raise api_error("Request missing 'items' parameter, or has zero length.")
    changes: dict[str, dict[str, Any]] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise api_error(f"Malformed parameter: items[{index}] (must be an object)")
        doc_id = item.get("id")
        if not isinstance(doc_id, str) or not doc_id:
            raise api_error(f"Malformed parameter: items[{index}].id (must be a non-empty string)")
        for key in item:
            if key != "id" and key not in allowed:
                raise api_error(
                    f"Invalid parameter: items[{index}].{key} (only {', '.join(allowed)} may be changed this way)"
                )
        fields = {k: v for k, v in item.items() if k != "id"}
        validate_optional_params(fields, {k: _RULES[k] for k in allowed})
        changes.setdefault(doc_id, {}).update(fields)
    return changes


def _number(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0
