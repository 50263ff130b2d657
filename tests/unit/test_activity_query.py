"""The ``search_activity`` query syntax: actions, keywords and date bounds (supporting-apis.md §8)."""

from __future__ import annotations

import pytest

from cronwright.engine.activity import ActivityFilter, parse_activity_filter
from cronwright.errors import CwError

DAY_2024_01_05 = 1704412800  # 2024-01-05T00:00:00Z

CASES = [
    ("", ActivityFilter()),
    ("*", ActivityFilter()),
    ("  *  ", ActivityFilter()),
    ("action:event_update", ActivityFilter(actions=("event_update",))),
    ("action:a|b keywords:k1|k2", ActivityFilter(actions=("a", "b"), keywords=("k1", "k2"))),
    ("keyword:solo", ActivityFilter(keywords=("solo",))),
    ("action:a||b", ActivityFilter(actions=("a", "b"))),
    ("date:>=1700000000", ActivityFilter(since=1700000000)),
    ("date:>1700000000", ActivityFilter(since=1700000001)),
    ("date:<=1700000000", ActivityFilter(until=1700000000)),
    ("date:<1700000000", ActivityFilter(until=1699999999)),
    ("date:1700000000", ActivityFilter(since=1700000000, until=1700000000)),
    ("date:100..200", ActivityFilter(since=100, until=200)),
    ("date:200..200", ActivityFilter(since=200, until=200)),
    ("date:>=100 date:<=200", ActivityFilter(since=100, until=200)),
    ("date:>=100 date:>=150 date:<=300 date:<250", ActivityFilter(since=150, until=249)),
    ("date:2024-01-05", ActivityFilter(since=DAY_2024_01_05, until=DAY_2024_01_05 + 86399)),
    ("date:>=2024-01-05", ActivityFilter(since=DAY_2024_01_05)),
    ("date:>2024-01-05", ActivityFilter(since=DAY_2024_01_05 + 86400)),
    ("date:<=2024-01-05", ActivityFilter(until=DAY_2024_01_05 + 86399)),
    ("date:<2024-01-05", ActivityFilter(until=DAY_2024_01_05 - 1)),
    ("date:2024-01-05..2024-01-06", ActivityFilter(since=DAY_2024_01_05, until=DAY_2024_01_05 + 2 * 86400 - 1)),
    (
        "action:user_login keywords:bob date:100..200",
        ActivityFilter(actions=("user_login",), keywords=("bob",), since=100, until=200),
    ),
]

BAD = [
    "just words",
    "action:x stray",
    "color:red",
    "date:yesterday",
    "date:>=",
    "date:>=1.5",
    "date:-5",
    "date:1|2",
    "date:200..100",
    "date:..200",
    "date:100..",
    "date:>=100..200",
    "date:2024-02-30",
    "date:2024-1-5",
]


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_parses(query: str, expected: ActivityFilter) -> None:
    """Each supported query form becomes the expected actions, keywords and inclusive epoch bounds."""
    assert parse_activity_filter(query) == expected


@pytest.mark.parametrize("query", BAD)
def test_rejects(query: str) -> None:
    """Malformed terms, unknown fields and inverted ranges are `api` errors naming the problem."""
    with pytest.raises(CwError) as caught:
        parse_activity_filter(query)
    assert caught.value.code == "api" and "Invalid search query" in caught.value.description


def test_contradictory_bounds_are_an_empty_window() -> None:
    """Separate terms that cannot both hold leave since > until (matches nothing) rather than failing."""
    found = parse_activity_filter("date:>=300 date:<=100")
    assert found.since == 300 and found.until == 100


def test_long_queries_are_refused_without_a_regex_scan() -> None:
    """A query longer than MAX_QUERY_CHARS is an api error, and a long one without colons is
    refused after one linear pass (a regex scan of it used to take quadratic time)."""
    from cronwright.engine.activity import MAX_QUERY_CHARS

    with pytest.raises(CwError, match="longer than"):
        parse_activity_filter("x" * (MAX_QUERY_CHARS + 1))
    with pytest.raises(CwError, match="field:value"):
        parse_activity_filter("x" * MAX_QUERY_CHARS)
