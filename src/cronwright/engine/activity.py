"""Activity records: the audit trail of every change (supporting-apis.md §8)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cronwright.engine.identity import Identity
from cronwright.errors import api_error
from cronwright.ids import generate_id
from cronwright.store.base import StoreWriter

#: request headers never copied into a record: they carry credentials
SECRET_HEADERS = frozenset(
    {"cookie", "x-api-key", "x-session-id", "authorization", "x-csrf-token", "proxy-authorization"}
)


@dataclass(frozen=True)
class Origin:
    """Where a request came from, as recorded in activity rows."""

    ip: str = ""
    ips: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def internal(cls) -> Origin:
        return cls(ip="", ips=(), headers={})


def build_record(
    action: str,
    *,
    epoch: float,
    description: str = "",
    who: Identity | None = None,
    origin: Origin | None = None,
    keywords: list[str] | tuple[str, ...] = (),
    **context: Any,
) -> dict[str, Any]:
    origin = origin or Origin.internal()
    words = [k for k in keywords if k]
    if who:
        words.append(who.username)
    words.extend(origin.ips)
    record: dict[str, Any] = {
        "id": generate_id("a"),
        "action": action,
        "epoch": int(epoch),
        "date": int(epoch),  # the name the seed document's history example uses
        "description": description,
        "keywords": list(dict.fromkeys(words)),
        "ip": origin.ip,
        "ips": list(origin.ips),
        "headers": {k: v for k, v in origin.headers.items() if k.lower() not in SECRET_HEADERS},
    }
    if who:
        record["username"] = who.username
    record.update(context)
    return record


def record(writer: StoreWriter, action: str, **kwargs: Any) -> dict[str, Any]:
    """Build and store one activity record inside the caller's transaction."""
    row = build_record(action, **kwargs)
    writer.add_activity(row)
    return row


def public_row(row: dict[str, Any]) -> dict[str, Any]:
    """A record as history endpoints show it: without ``ip``, ``ips`` and ``headers``."""
    return {k: v for k, v in row.items() if k not in ("ip", "ips", "headers")}


_TERM = re.compile(r"(\w+):(\S+)")


def parse_activity_query(query: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``action:a|b keywords:k1|k2`` → (actions, keywords); ``*`` or empty matches all."""
    text = query.strip()
    if text in ("", "*"):
        return (), ()
    actions: list[str] = []
    keywords: list[str] = []
    rest = _TERM.sub(" ", text).strip()
    if rest:
        raise api_error(f"Invalid search query: {rest!r} (use field:value terms, e.g. action:event_update)")
    for name, value in _TERM.findall(text):
        values = [v for v in value.split("|") if v]
        if name == "action":
            actions.extend(values)
        elif name in ("keywords", "keyword"):
            keywords.extend(values)
        else:
            raise api_error(f"Invalid search query: unknown field {name!r} (known: action, keywords)")
    return tuple(actions), tuple(keywords)
