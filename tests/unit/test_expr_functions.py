"""Tables for every built-in function and transform, and the linear-time regex engine behind ``match()``."""

from __future__ import annotations

import math
import re
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cronwright.expr import UNDEFINED, ExprError, evaluate
from cronwright.expr.errors import Budget
from cronwright.expr.regex import search

CTX: dict[str, Any] = {
    "servers": [
        {"id": "s1", "hostname": "web-01.example.com", "cores": 4},
        {"id": "s2", "hostname": "db-01.example.com", "cores": 8},
        {"id": "s3", "hostname": "web-02.example.com", "cores": 2},
    ],
    "words": ["a", "b", None, 3],
    "obj": {"a": 1, "b": [1, 2.5], "c": {"d": None}},
    "name": "Bob",
}


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    return actual == expected and type(actual) is type(expected)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # math (xyOps: Math.min/max/floor/ceil/round, Tools.clamp)
        ("min(4, 5)", 4),
        ("max(4, 5)", 5),
        ("min([3, 1, 2])", 1),
        ("max('7', 2)", 7),
        ("min(1, 'x')", math.nan),
        ("min()", math.inf),
        ("max()", -math.inf),
        ("floor(1.7)", 1),
        ("floor(-1.2)", -2),
        ("ceil(1.2)", 2),
        ("ceil(1/0)", math.inf),
        ("round(1.2)", 1),
        ("round(2.5)", 3),
        ("round(-2.5)", -2),
        ("round(0.49999999999999994)", 0),
        ("round(3.14159, 2)", 3.14),
        ("round(1234.5, -2)", 1200),
        ("clamp(50, 0, 100)", 50),
        ("clamp(150, 0, 100)", 100),
        ("clamp(-5, 0, 100)", 0),
        # xyOps formatting helpers (docs/xyexp.md)
        ("bytes(1048576)", "1 MB"),
        ("bytes(1536)", "1.5 K"),
        ("bytes(1024)", "1 K"),
        ("bytes(1023)", "1023 bytes"),
        ("bytes(1)", "1 byte"),
        ("bytes(0)", "0 bytes"),
        ("bytes('2048')", "2 K"),
        ("bytes(1073741824 * 2.5)", "2.5 GB"),
        ("bytes(1099511627776 * 3)", "3 TB"),
        ("bytes(nope)", "NaN bytes"),
        ("number(1048576)", "1,048,576"),
        ("number(1234.5678)", "1,234.568"),
        ("number(-0.0004)", "-0"),
        ("number(nope)", "0"),
        ("number('12')", "12"),
        ("number('abc')", "NaN"),
        ("number(1/0)", "∞"),
        ("number(1e21)", "1,000,000,000,000,000,000,000"),
        ("pct(0.5, 1.0)", "50%"),
        ("pct(45)", "45%"),
        ("pct(1, 3)", "33.33%"),
        ("pct(2, 3, true)", "66%"),
        ("pct(-1)", "0%"),
        ("pct(nope)", "0%"),
        ("integer('1abc')", 1),
        ("integer('  -42.9')", -42),
        ("integer('0x1A')", 26),
        ("integer('abc')", math.nan),
        ("integer(0.0000005)", 5),
        ("float(1.33333333)", 1.33),
        ("float('2.999x')", 2.99),
        ("float(-1.234)", -1.24),
        ("float(nope)", 0),
        ("float('x')", math.nan),
        ("encode('a b')", "a%20b"),
        ("encode('x&y=/é~*()!')", "x%26y%3D%2F%C3%A9~*()!"),
        ("encode(nope)", "undefined"),
        ("encode(12)", "12"),
        ("stringify(obj)", '{"a":1,"b":[1,2.5],"c":{"d":null}}'),
        ("stringify('q\"')", '"q\\""'),
        ("stringify([1.0, 1e21, 0/0, nope])", "[1,1e+21,null,null]"),
        ("stringify(nope)", UNDEFINED),
        ("count([1, 2, 3])", 3),
        ("count('abcd')", 4),
        ("count(obj)", 3),
        ("count(nope)", 0),
        ("count(null)", 0),
        ("count(5)", UNDEFINED),
        # array helpers
        ("find(servers, 'hostname', 'web')", [CTX["servers"][0], CTX["servers"][2]]),
        ("find(servers, 'hostname', 'web').id", "s1"),
        ("find(servers, 'cores', 8)[0].id", "s2"),
        ("find(servers, 'nope', 'x')", []),
        ("includes([1, 2], 2)", True),
        ("includes([1, 2], '2')", False),
        ("includes([0/0], 0/0)", True),
        ("includes('abc', 'bc')", True),
        ("includes(nope, 'x')", False),
        # Cronwright string helpers
        ("lower('ABC')", "abc"),
        ("upper(name)", "BOB"),
        ("upper(12)", "12"),
        ("lower(nope)", UNDEFINED),
        ("trim('  x \\n')", "x"),
        ("join(words, '-')", "a-b--3"),
        ("join(words)", "a,b,,3"),
        ("join([[1, 2], 3], ';')", "1,2;3"),
        ("join(nope, '-')", UNDEFINED),
        ("split('a,b,,c', ',')", ["a", "b", "", "c"]),
        ("split('abc', '')", ["a", "b", "c"]),
        ("split('abc')", ["abc"]),
        ("split(nope, ',')", UNDEFINED),
        ("json('{\"a\": [1, 2]}').a[1]", 2),
        ("json('12')", 12),
        ("match('web-01', '^web-\\\\d+$')", True),
        ("match('db-01', '^web-')", False),
        ("match('ABC', '(?i)abc')", True),
        ("match(nope, 'x')", False),
        ("match(12345, '^\\\\d{5}$')", True),
        # transforms map to the same functions
        ("name|upper", "BOB"),
        ("words|join('+')", "a+b++3"),
        ("servers|count", 3),
        ("'x y'|encode", "x%20y"),
        ("1536|bytes", "1.5 K"),
    ],
)
def test_functions(source: str, expected: Any) -> None:
    """Each built-in gives xyOps's result for its documented functions and the documented result for additions."""
    assert _same(evaluate(source, CTX), expected)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("nope(1)", "Unknown function: nope"),
        ("now()", "Unknown function: now"),
        ("x|nope", "Unknown function: nope"),
        ("round()", r"round\(\) takes 1 to 2 arguments \(0 given\)"),
        ("floor(1, 2)", r"floor\(\) takes 1 argument \(2 given\)"),
        ("clamp(1, 2)", r"clamp\(\) takes 3 arguments \(2 given\)"),
        ("floor(obj)", r"floor\(\) expects a number, got object"),
        ("min([1, [2]])", r"min\(\) expects a number, got array"),
        ("round(1, 1.5)", "whole number of decimal places"),
        ("number(obj)", r"number\(\) expects a number, got object"),
        ("upper(obj)", r"upper\(\) expects a string, got object"),
        ("includes(5, 1)", r"includes\(\) expects a string or an array, got number"),
        ("find(obj, 'a', 1)", r"find\(\) expects an array, got object"),
        ("find(nope, 'a', 1)", r"find\(\) expects an array, got undefined"),
        ("join(obj)", r"join\(\) expects an array, got object"),
        ("json(12)", r"json\(\) expects a string, got number"),
        ("json('{bad')", r"json\(\) could not parse its argument"),
        ("match('a', 1)", r"match\(\) expects the pattern as a string, got number"),
        ("match('a', '(')", "Invalid regular expression: missing \\), unterminated subpattern"),
        ("match('a', '(a)\\\\1')", r"not supported by match\(\): groupref"),
        ("match('a', '(?=a)')", r"not supported by match\(\): assert"),
        ("match('a', '(?>a)')", r"not supported by match\(\): atomic_group"),
        ("match('a', 'a*+')", r"not supported by match\(\): possessive_repeat"),
        ("match('a', '(a{1000}){1000}')", "too large to match safely"),
        ("match('a', '" + "(" * 41 + "a" + ")" * 41 + "')", "nested too deeply"),
        ("match('a', '" + "a" * 501 + "')", "too long"),
        ("encode('\\uD800')", None),
    ],
)
def test_function_errors(source: str, message: str | None) -> None:
    """Unknown functions, wrong argument counts or types, bad JSON and bad regexes raise a clear ExprError."""
    if message is None:  # a lone surrogate from the source is replaced by U+FFFD, so this one succeeds
        assert evaluate(source, CTX) == "%EF%BF%BD"
        return
    with pytest.raises(ExprError, match=message):
        evaluate(source, CTX)


def test_encode_rejects_lone_surrogates_from_data() -> None:
    """A lone surrogate arriving in context data cannot be URI-encoded and raises ExprError."""
    with pytest.raises(ExprError, match="lone surrogate"):
        evaluate("encode(s)", {"s": "a\ud800"})


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("(a+)+$", "a" * 30_000 + "!"),
        ("(a|aa)*c", "a" * 30_000),
        ("(.*a){12}", "a" * 30_000),
        ("^(\\w+\\s?)*$", "word " * 6_000 + "!"),
    ],
)
def test_match_is_linear_on_pathological_patterns(pattern: str, text: str) -> None:
    """Patterns that make backtracking engines take exponential time finish quickly or run out of budget."""
    started = time.monotonic()
    try:
        evaluate("match(s, p)", {"s": text, "p": pattern})
    except ExprError as exc:
        assert "too complex" in str(exc)
    assert time.monotonic() - started < 5


ALPHABET = "ab\n_ 1"
ATOMS = ["a", "b", ".", "\\d", "\\w", "\\s", "\\W", "[ab]", "[^a]", "[a-c1]", "\\n", "_", "(?i:A)", "\\b", "^", "$"]


@st.composite
def regexes(draw: st.DrawFn, depth: int = 0) -> str:
    """Random patterns built from supported constructs (groups, alternation, quantifiers, anchors).
    Groups take only bounded quantifiers: the oracle, Python's backtracking ``re``, can take hours on
    nested unbounded ones (``((a*)*b*)*``), in C code that no test timeout interrupts."""
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        if depth < 2 and draw(st.booleans()):
            inner = draw(regexes(depth + 1))
            alt = draw(regexes(depth + 1)) if draw(st.booleans()) else None
            part = f"(?:{inner}|{alt})" if alt is not None else f"({inner})"
            part += draw(st.sampled_from(["", "", "?", "{2}", "{0,2}"]))
        else:
            part = draw(st.sampled_from(ATOMS))
            if part not in ("^", "$", "\\b"):
                part += draw(st.sampled_from(["", "", "*", "+", "?", "*?", "{2}", "{1,3}", "{0,2}"]))
        parts.append(part)
    return "".join(parts)


@settings(max_examples=400, deadline=None)
@given(pattern=regexes(), text=st.text(alphabet=ALPHABET, max_size=12), flags=st.sampled_from(["", "(?m)", "(?s)"]))
def test_match_agrees_with_python_re(pattern: str, text: str, flags: str) -> None:
    """On supported syntax, the linear-time engine answers exactly like ``re.search``."""
    pattern = flags + pattern
    assert search(pattern, text, Budget(10**7)) == (re.search(pattern, text) is not None)
