"""The `search_jobs` query language, words, dates and paging quirks, as pure tables."""

from __future__ import annotations

import contextlib
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cronwright.engine.jobs.search import js_parse_int, page_params
from cronwright.engine.jobs.search_query import ALL, ById, QueryError, date_hour, parse_query
from cronwright.engine.maintenance import next_run
from cronwright.store.jobquery import Group, Hours, Term, index_words, word_list

UTC = ZoneInfo("UTC")
NOW = 1796310950.0  # 2026-12-03 15:15:50 UTC, hour 498975
H = 498975


def parse(text: str, zone: ZoneInfo = UTC) -> Any:
    return parse_query(text, now=NOW, zone=zone)


def AND(*items: Any) -> Group:
    return Group("and", tuple(items))


def OR(*items: Any) -> Group:
    return Group("or", tuple(items))


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("abort", ["abort"]),
        (0, ["0"]),
        (-1, ["1"]),
        (2.5, ["2_5"]),
        (3.0, ["3"]),
        ("bad thing!", ["bad", "thing"]),
        (["flag", "important", "_error"], ["flag", "important", "_error"]),
        ("My-Tag", ["my", "tag"]),
        ("Café crème", ["cafe", "creme"]),
        ("v1.2.3 ok", ["v1_2_3", "ok"]),
        ("x" * 256, []),
        (None, []),
        ("", []),
        (True, ["true"]),
    ],
)
def test_word_list(value: Any, words: list[str]) -> None:
    """Values become lower-case ASCII words; dots inside numbers become `_` (§3.1)."""
    assert word_list(value) == words


def test_index_words_keep_positions() -> None:
    """Array elements are indexed at consecutive positions; `workflow` is `workflow.event`."""
    job = {"code": 0, "tags": ["flag", "_last"], "workflow": {"event": "wf"}, "event": "", "server": None}
    assert index_words(job) == [("code", "0", 1), ("tags", "flag", 1), ("tags", "_last", 2), ("workflow", "wf", 1)]


SIMPLE = [
    ("*", ALL),
    ("  *  ", ALL),
    ("#id:jabc more", ById("jabc")),
    ("code:0", AND(Term("code", ("0",)))),
    ("abort", AND(Term("code", ("abort",)))),
    ("abort|3", AND(OR(Term("code", ("abort",)), Term("code", ("3",))))),
    ("code : abort | 3", AND(OR(Term("code", ("abort",)), Term("code", ("3",))))),
    ("code:-0|abort", AND(OR(Term("code", ("0",)), Term("code", ("abort",))))),
    ("code:-0", AND(Term("code", ("0",), negative=True))),
    ("+abort", AND(Term("code", ("abort",)))),
    ("event:x abort", AND(Term("event", ("x",)), Term("event", ("abort",)))),
    ("tags:my-tag", AND(Term("tags", ("my", "tag"), phrase=True))),
    ('tags:"a b"', AND(Term("tags", ("a", "b"), phrase=True))),
    ("tags:important -code:warning", AND(Term("tags", ("important",)), Term("tags", ("code", "warning"), True, True))),
    ("code:>0", AND(Term("code", ("0",)))),
    ("foo:bar", AND()),
    ("foo:bar abort", AND()),
    ("foo:bar code:abort", AND(Term("code", ("abort",)))),
    ("CODE:abort", AND()),
    ("*x", AND(Term("code", ("x",)))),
    ('(code = "a"', AND(Term("code", ("code",)), Term("code", ("a",)))),
    ("()", AND()),
    ("!!! ...", AND()),
    ("   ", AND()),
    ("date:1796310875", AND(Hours(H, H))),
    ("date:>=1796310875", AND(Hours(H, None))),
    ("date:>1796310875", AND(Hours(H + 1, None))),
    ("date:<1796310875", AND(Hours(None, H - 1))),
    ("date:<=1796310875", AND(Hours(None, H))),
    ("date:-now", AND(Hours(H, H, negative=True))),
    ("date:1796310875.9", AND(Hours(H, H))),
    ("date:abc", AND()),
    ("date:today", AND(Hours(H - 15, H - 15))),
    ("date:2026-12-01..now", AND(Hours(H - 63, H))),
    ("date:2026/12/03", AND(Hours(H - 15, H - 15))),
    ("date:99999999999999999999", AND(Hours(1_000_000, 1_000_000))),
    ("date:now|today", AND(OR(Hours(H, H), Hours(H - 15, H - 15)))),
    ('(code = "abort" | code = "3")', OR(Term("code", ("abort",)), Term("code", ("3",)))),
    ("(code = 2.5)", AND(Term("code", ("2_5",)))),
    ('(tags !~ "x" && date >= 1796310875)', AND(Term("tags", ("x",), negative=True), Hours(H, None))),
    (
        '((code = "a" | code = "b") & tags = "c d")',
        AND(OR(Term("code", ("a",)), Term("code", ("b",))), Term("tags", ("c", "d"), phrase=True)),
    ),
]


@pytest.mark.parametrize(("text", "parsed"), SIMPLE, ids=[s[0] for s in SIMPLE])
def test_parse(text: str, parsed: Any) -> None:
    """Each form parses to the search tree xyOps would evaluate (§3–§5)."""
    assert parse(text) == parsed


def test_local_dates_use_the_conductor_zone() -> None:
    """`today` and `YYYY-MM-DD` are local midnight in the conductor's zone (New York: UTC-5)."""
    assert parse("date:2026-12-03", ZoneInfo("America/New_York")) == AND(Hours(H - 10, H - 10))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('(foo = "bar")', "Index not found: foo"),
        ('(code = "a" & code = "b" | code = "c")', "Ambiguous logic operator: | (use parenthesis to group)"),
        ('(code = "a" & code = "b" && code = "c")', "Ambiguous logic operator: && (use parenthesis to group)"),
        ("(code = abort)", "Syntax error at line 1 col 9: unexpected column token: 'abort'"),
        ("(code $ 1)", "Syntax error at line 1 col 7: invalid character '$'"),
        ("(" * 40 + 'code = "a"' + ")" * 40, None),
    ],
)
def test_pxql_errors(text: str, message: str | None) -> None:
    """PxQL mistakes raise `QueryError` with xyOps' messages (§5, §8)."""
    with pytest.raises(QueryError) as caught:
        parse(text)
    if message is not None:
        assert str(caught.value) == message


@given(st.text(max_size=200))
def test_any_text_parses_or_is_a_query_error(text: str) -> None:
    """No query text makes the parser fail other than with `QueryError`."""
    with contextlib.suppress(QueryError):
        parse(text)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, (0, 1, True)),
        ({"limit": "0"}, (0, None, True)),
        ({"limit": 0}, (0, 1, True)),
        ({"limit": "abc"}, (0, None, True)),
        ({"limit": "12abc"}, (0, 12, True)),
        ({"limit": -3}, (0, -3, True)),
        ({"limit": 2.7}, (0, 2, True)),
        ({"offset": "-2", "limit": "3"}, (-2, 3, True)),
        ({"offset": "x"}, (0, 1, True)),
        ({"sort_dir": 1}, (0, 1, False)),
        ({"sort_dir": "0"}, (0, 1, False)),
        ({"sort_dir": 0}, (0, 1, True)),
        ({"sort_dir": ""}, (0, 1, True)),
        ({"sort_dir": "abc"}, (0, 1, False)),
        ({"sort_dir": "-5"}, (0, 1, True)),
        ({"limit": "9" * 40}, (0, 2**53 - 1, True)),
    ],
)
def test_page_params(params: dict[str, Any], expected: tuple[int, int | None, bool]) -> None:
    """`offset`, `limit` and `sort_dir` follow xyOps' JavaScript parsing (§1)."""
    assert page_params(params) == expected


def test_js_parse_int() -> None:
    """Leading digits only; booleans and text without digits are NaN (None)."""
    assert [js_parse_int(v) for v in ("  7x", "-3", True, "x", ["4", "5"])] == [7, -3, None, None, 4]


def test_date_hour_caps() -> None:
    """Hour numbers are capped at one million either way."""
    assert date_hour("-" + "9" * 30, now=NOW, zone=UTC) == -1_000_000
    assert date_hour("3600", now=NOW, zone=UTC) == 1


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        (1796310950.0, "UTC", 1796356800.0),  # 15:15 → next day 04:00
        (1796270000.0, "UTC", 1796270400.0),  # 03:53:20 → same day 04:00
        (1796270400.0, "UTC", 1796356800.0),  # exactly 04:00 → the next day
        (1772949600.0, "America/New_York", 1772956800.0),  # 2026-03-08 01:00 EST → 04:00 EDT (2 h later)
    ],
)
def test_next_maintenance_run(now: float, zone: str, expected: float) -> None:
    """The daily pass runs at the next 04:00 local time strictly after now."""
    assert next_run(now, ZoneInfo(zone), (4, 0)) == expected
