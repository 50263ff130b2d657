"""Activity records: the audit trail of every change (supporting-apis.md §8)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


_NAME = re.compile(r"\w+")
#: the longest activity query accepted (queries are a few terms)
MAX_QUERY_CHARS = 4096
_EPOCH = re.compile(r"^\d{1,15}\Z")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})\Z")
_COMPARISON = re.compile(r"^(>=|<=|>|<)?(.+)\Z")
_DAY_S = 86400


@dataclass(frozen=True)
class ActivityFilter:
    """A parsed ``search_activity`` query; every criterion present must hold.

    ``since`` / ``until`` are inclusive bounds on the record's integer ``epoch`` (``None``: open).
    """

    actions: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    since: int | None = None
    until: int | None = None


def parse_activity_filter(query: str) -> ActivityFilter:
    """``action:a|b keywords:k1|k2 date:>=EPOCH`` → ``ActivityFilter``; ``*`` or empty matches all.

    ``date`` takes ``EPOCH``, ``>=EPOCH``, ``>EPOCH``, ``<=EPOCH``, ``<EPOCH`` or ``EPOCH1..EPOCH2``
    (inclusive); an epoch is Unix seconds, or ``YYYY-MM-DD`` for a whole UTC day (``>=`` its start,
    ``<=`` its end). Several ``date`` terms narrow each other.
    """
    text = query.strip()
    if text in ("", "*"):
        return ActivityFilter()
    if len(text) > MAX_QUERY_CHARS:
        raise api_error(f"Invalid search query: longer than {MAX_QUERY_CHARS} characters")
    terms: list[tuple[str, str]] = []
    for token in text.split():  # linear: no regex scan over an untrusted query
        name, colon, value = token.partition(":")
        if not colon or not value or not _NAME.fullmatch(name):
            raise api_error(f"Invalid search query: {token[:100]!r} (use field:value terms, e.g. action:event_update)")
        terms.append((name, value))
    actions: list[str] = []
    keywords: list[str] = []
    since: int | None = None
    until: int | None = None
    for name, value in terms:
        if name == "date":
            low, high = _parse_date_term(value)
            if low is not None:
                since = low if since is None else max(since, low)
            if high is not None:
                until = high if until is None else min(until, high)
            continue
        values = [v for v in value.split("|") if v]
        if name == "action":
            actions.extend(values)
        elif name in ("keywords", "keyword"):
            keywords.extend(values)
        else:
            raise api_error(f"Invalid search query: unknown field {name!r} (known: action, keywords, date)")
    return ActivityFilter(tuple(actions), tuple(keywords), since, until)


def _parse_date_term(value: str) -> tuple[int | None, int | None]:
    """One ``date:`` value → inclusive (since, until) bounds on integer epochs."""
    if ".." in value and not value.startswith(("<", ">")):
        first, _, second = value.partition("..")
        low, high = _day_or_epoch(first, value)[0], _day_or_epoch(second, value)[1]
        if low > high:
            raise api_error(f"Invalid search query: empty date range {value!r}")
        return low, high
    match = _COMPARISON.match(value)
    if match is None:  # only an empty value, which the term pattern never yields
        raise api_error("Invalid search query: empty date term")
    operator, operand = match.groups()
    start, end = _day_or_epoch(operand, value)
    if operator == ">=":
        return start, None
    if operator == ">":
        return end + 1, None
    if operator == "<=":
        return None, end
    if operator == "<":
        return None, start - 1
    return start, end


def _day_or_epoch(text: str, term: str) -> tuple[int, int]:
    """The first and last second an operand covers: one for an epoch, 86,400 for a UTC day."""
    if _EPOCH.match(text):
        return int(text), int(text)
    day = _DAY.match(text)
    if day:
        year, month, mday = (int(part) for part in day.groups())
        try:
            epoch = int(datetime(year, month, mday, tzinfo=UTC).timestamp())
        except ValueError:
            raise api_error(f"Invalid search query: bad date {text!r} in date:{term}") from None
        return epoch, epoch + _DAY_S - 1
    raise api_error(f"Invalid search query: date:{term} (use Unix seconds or YYYY-MM-DD, e.g. date:>=1700000000)")
