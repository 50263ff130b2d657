"""Tables for the JavaScript value semantics and the JS-dialect user-regex compiler."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cronwright.engine.validation import js_loose_true, js_string, js_truthy, js_typeof
from cronwright.engine.validation.patterns import RegexTooCostly, compile_user_regex
from cronwright.errors import CwError
from tests.unit._validation_data import api_message

# --- JS value semantics -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "true"),
        (False, "false"),
        (None, "null"),
        (5, "5"),
        (-5, "-5"),
        (1.5, "1.5"),
        (1.0, "1"),
        (-0.0, "0"),
        (100.0, "100"),
        (1e21, "1e+21"),
        (1.5e300, "1.5e+300"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (123456789012345680000.0, "123456789012345680000"),
        (2**53 + 1, "9007199254740992"),
        (10**400, "Infinity"),
        (-(10**400), "-Infinity"),
        (float("inf"), "Infinity"),
        ("abc", "abc"),
        ([1, [2, None], "x"], "1,2,,x"),
        ([], ""),
        ({"a": 1}, "[object Object]"),
    ],
)
def test_js_string(value: Any, expected: str) -> None:
    """js_string renders JSON values exactly as JavaScript's String() does."""
    assert js_string(value) == expected


def test_js_string_deep_nesting_does_not_recurse_forever() -> None:
    """A list nested thousands deep is rendered without RecursionError."""
    value: list[Any] = []
    for _ in range(5000):
        value = [value]
    assert js_string(value) == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "boolean"),
        (0, "number"),
        (1.5, "number"),
        ("", "string"),
        (None, "object"),
        ([], "object"),
        ({}, "object"),
    ],
)
def test_js_typeof(value: Any, expected: str) -> None:
    """js_typeof gives JavaScript's typeof, with Python booleans as "boolean", not "number"."""
    assert js_typeof(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (False, False),
        (0, False),
        (0.0, False),
        ("", False),
        (True, True),
        (-1, True),
        ("0", True),
        ([], True),
        ({}, True),
    ],
)
def test_js_truthy(value: Any, expected: bool) -> None:
    """js_truthy follows JavaScript truthiness (empty arrays and objects are truthy)."""
    assert js_truthy(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (1, True),
        (1.0, True),
        ("1", True),
        (" 1 ", True),
        ("1.0", True),
        ("0x1", True),
        ([1], True),
        ("true", False),
        (False, False),
        (2, False),
        (None, False),
        ({}, False),
        ("", False),
        ("1_0", False),
    ],
)
def test_js_loose_true(value: Any, expected: bool) -> None:
    """js_loose_true is JavaScript's `value == true` (so "1" counts and "true" does not)."""
    assert js_loose_true(value) is expected


# --- user regexes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("^abc$", "abc", True),
        ("^abc$", "abc\n", False),
        (r"^\w+$", "caf\u00e9", False),
        (r"(?<year>\d{4})-\d{2}", "2024-01", True),
        ("[]", "anything", False),
        ("^[^]$", "\n", True),
        ("[a-z[]", "[", True),
        ("[+--]", ",", True),
        ("a[$]", "a$", True),
    ],
)
def test_user_regex_js_dialect(pattern: str, text: str, matches: bool) -> None:
    """User regexes are compiled with JS meaning for $, \\w, named groups and empty classes."""
    assert bool(compile_user_regex(pattern).search(text)) is matches


@pytest.mark.parametrize(
    ("pattern", "message_start"),
    [
        ("((", "Invalid regular expression: ((: "),
        ("a{2,1}", "Invalid regular expression: a{2,1}: "),
        (r"\q", "Invalid regular expression: \\q: "),
        ("x" * 1001, "Invalid regular expression: pattern longer than 1000 characters"),
        (r"(a)\1", "Invalid regular expression: (a)\\1: "),
        ("^(?=.*[0-9])", "Invalid regular expression: ^(?=.*[0-9]): "),
        (5, "Invalid regular expression: pattern must be a string"),
    ],
)
def test_user_regex_errors(pattern: Any, message_start: str) -> None:
    """Uncompilable, oversized or non-string patterns give "Invalid regular expression: ..."."""
    assert api_message(lambda: compile_user_regex(pattern)).startswith(message_start)


def test_user_regex_runs_in_linear_time() -> None:
    """A catastrophic-backtracking pattern answers at once (Python's re would take hours here), and a
    text too long for the step budget is reported instead of searched forever."""
    evil = compile_user_regex("^(a+)+$")
    assert evil.search("a" * 40 + "!") is False and evil.search("a" * 40) is True
    with pytest.raises(RegexTooCostly):
        compile_user_regex("^[a-z]+$").search("a" * 1_000_000)
    assert compile_user_regex("(?:){4294967294}").search("x") is True  # an empty item repeated stays empty
    assert api_message(lambda: compile_user_regex("a{1000000}")).startswith("Invalid regular expression: ")


def test_user_regex_compiles_nested_repeats_in_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiling deeply nested repeats (``((((a){1}){1}){1})``, 38 levels) does work proportional to
    the pattern, not doubling per level (a trial copy per repeat took seconds at 19 levels)."""
    from cronwright.expr import regex

    calls = 0
    original = regex._Program.emit

    def counting(self: Any, items: Any, flags: int) -> None:
        nonlocal calls
        calls += 1
        original(self, items, flags)

    monkeypatch.setattr(regex._Program, "emit", counting)
    depth = 38
    compiled = compile_user_regex("(" * depth + "a" + "){1}" * depth)
    assert compiled.search("a") is True and compiled.search("b") is False
    assert 0 < calls <= 4 * depth


REGEX_TEXT = st.text(alphabet="ab()[]{}^$*+?|\\-.:<>=!kPdws0123,&~", max_size=14)
JSON_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.lists(st.integers(), max_size=2)
)


@settings(max_examples=200, deadline=None)
@given(pattern=REGEX_TEXT | JSON_SCALARS, text=st.text(max_size=12))
def test_user_regex_never_crashes_or_warns(pattern: Any, text: str) -> None:
    """Any pattern compiles or gives an api error, without warnings (pytest turns them into errors)."""
    try:
        compiled = compile_user_regex(pattern)
    except CwError as exc:
        assert exc.code == "api"
    else:
        compiled.search(text)
