"""Tables for the expression grammar: literals, paths, precedence, syntax errors and structural limits."""

from __future__ import annotations

import math
from typing import Any

import pytest

from cronwright.expr import MAX_DEPTH, UNDEFINED, ExprError, compile_expression, evaluate

CTX: dict[str, Any] = {
    "a": {"b": {"c": 5}, "x-y": "dash", "in": "kw", "list": [10, 20, 30]},
    "arr": [{"v": 1, "name": "one"}, {"v": 2, "name": "two"}, {"v": 3, "name": "three"}],
    "s": "hey",
    "n": None,
    "t": True,
    "$x": 7,
    "_under": 8,
    "émoji": "ok",
    "name": "bob",
    "items": ["a", "b"],
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("42", 42),
        ("4.5", 4.5),
        (".5", 0.5),
        ("1.", 1),
        ("1e3", 1000),
        ("2.5E-1", 0.25),
        ("1e400", math.inf),
        ("-7", -7),
        ("'single'", "single"),
        ('"double"', "double"),
        (r"'it\'s'", "it's"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'a\nb\tc\\d'", "a\nb\tc\\d"),
        (r"'\x41\u0042\u{1F600}'", "AB\U0001f600"),
        (r"'\uD83D\uDE00'", "\U0001f600"),
        (r"'\uD800'", "\ufffd"),
        (r"'\q'", "q"),
        ("true", True),
        ("false", False),
        ("null", None),
        ("[1, 'a', [true]]", [1, "a", [True]]),
        ("[]", []),
        ("{a: 1, 'b c': 2, 3: 'x'}", {"a": 1, "b c": 2, "3": "x"}),
        ("{}", {}),
        ("[nope, 1]", [None, 1]),
        ("{a: nope, b: 1}", {"b": 1}),
    ],
)
def test_literals(source: str, expected: Any) -> None:
    """Numbers (with exponents), quoted strings with JS escapes, keywords, arrays and objects evaluate to JSON values."""
    assert evaluate(source, {}) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("a.b.c", 5),
        ("a['x-y']", "dash"),
        ('a["b"]["c"]', 5),
        ("a.in", "kw"),
        ("a.list[0]", 10),
        ("a.list[2]", 30),
        ("a.list['1']", 20),
        ("a.list[1.0]", 20),
        ("a.list['length']", 3),
        ("s.length", 3),
        ("s[0]", "h"),
        ("$x", 7),
        ("_under", 8),
        ("émoji", "ok"),
        ("arr[1].name", "two"),
        ("arr.name", "one"),
        ("arr[.v >= 2]", [{"v": 2, "name": "two"}, {"v": 3, "name": "three"}]),
        ("arr[.v >= 2].name", "two"),
        ("arr[.name == 'three'][0].v", 3),
        ("arr[.v > 5]", []),
        ("a[.c == 5]", []),
        ("arr[true]", CTX["arr"]),
        ("a['b']['c'] + 1", 6),
        ("a[s == 'hey' ? 'in' : 'b']", "kw"),
    ],
)
def test_paths(source: str, expected: Any) -> None:
    """Dotted paths, brackets with any key expression, array indexes and JEXL filters read the context."""
    assert evaluate(source, CTX) == expected


@pytest.mark.parametrize(
    "source",
    [
        "nope",
        "nope.x.y",
        "n.x",
        "t.x",
        "s.nope",
        "a.list[-1]",
        "a.list[3]",
        "a.list[1.5]",
        "a.list['01']",
        "a.list.length",
        "arr[false]",
        "a[nope]",
        "a[[1]]",
        "a.b.c.d.e",
        "undefined",
        "[][0]",
        "[].x",
    ],
)
def test_missing_paths_are_undefined(source: str) -> None:
    """Missing properties, negative or out-of-range indexes and access through undefined/null give undefined."""
    assert evaluate(source, CTX) is UNDEFINED


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),
        ("2 * 3 % 4", 2),
        ("1 + 2 == 3", True),
        ("1 < 2 == true", True),
        ("!0 == true", True),
        ("!a.b", False),
        ("-2 * 3", -6),
        ("- (2 + 3)", -5),
        ("true || false && false", False),
        ("false && true || true", True),
        ("1 ? 2 ? 3 : 4 : 5", 3),
        ("0 ? 1 : 0 ? 2 : 3", 3),
        ("1 + 1 ? 'y' : 'n'", "y"),
        ("0 ?: 'fallback'", "fallback"),
        ("'v' ?: 'fallback'", "v"),
        ("0 ? : 'spaced'", "spaced"),
        ("'a' + 'b' | upper", "aB"),
        ("name|upper", "BOB"),
        ("items|join(', ')", "a, b"),
        ("items | join('-') | upper", "A-B"),
        ("arr[0].name|upper|lower", "one"),
        ("2 in [1, 2] && 'e' in s", True),
    ],
)
def test_precedence(source: str, expected: Any) -> None:
    """JEXL precedence: unary > * / // % > + - > comparisons and in > && || (one level), then ternary."""
    assert evaluate(source, CTX) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "Empty expression"),
        ("   ", "Empty expression"),
        ("1 +", "Unexpected end of expression"),
        ("(1 + 2))", "Unexpected token ')' at position 7"),
        ("###", "Unexpected character '#' at position 0"),
        ("a = 1", "Unexpected character '=' at position 2 (did you mean '=='?)"),
        ("a & b", "Unexpected character '&' at position 2 (did you mean '&&'?)"),
        ("2 ^ 3", "Unexpected character '^' at position 2"),
        ("'open", "Unterminated string starting at position 0"),
        ("'open\\", "Unterminated string starting at position 0"),
        ("(1", "Unexpected end of expression (expected ')')"),
        ("[1, 2", "Unexpected end of expression (expected ']')"),
        ("[1 2]", "Expected ']' at position 3 but found '2'"),
        ("{a 1}", "Expected ':' at position 3 but found '1'"),
        ("{[1]: 2}", "Expected an object key at position 1"),
        ("a.", "Unexpected end of expression (expected a property name after '.')"),
        ("a.1", "Expected a property name after '.' at position 2"),
        ("x | 1", "Expected a transform name after '|' at position 4"),
        ("1 ? 2", "Unexpected end of expression (expected ':')"),
        ("in", "Unexpected token 'in' at position 0"),
        (".v", "Relative name '.v' at position 0 is only allowed inside [ ]"),
        ("a b", "Unexpected token 'b' at position 2"),
        (r"'\u12'", "Invalid escape sequence at position 1"),
        (r"'\u{110000}'", "Invalid Unicode escape at position 1"),
        ("1 +* 2", "Unexpected token '*' at position 3"),
    ],
)
def test_syntax_errors(source: str, message: str) -> None:
    """Syntax errors raise ExprError with a readable message and a 0-based position."""
    with pytest.raises(ExprError) as caught:
        compile_expression(source)
    assert str(caught.value) == message


def test_error_position_attribute() -> None:
    """ExprError carries the offending position for callers that want to point at it."""
    with pytest.raises(ExprError) as caught:
        compile_expression("(1 + 2))")
    assert caught.value.position == 7


@pytest.mark.parametrize(
    "source",
    [
        "(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH,
        "!" * (MAX_DEPTH + 1) + "x",
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        "f(" * (MAX_DEPTH + 1) + ")" * (MAX_DEPTH + 1),
        "a[" * (MAX_DEPTH + 1) + "0" + "]" * (MAX_DEPTH + 1),
        "1 ? " * (MAX_DEPTH + 1) + "1" + " : 1" * (MAX_DEPTH + 1),
        "(" * 4000 + "1" + ")" * 4000,
    ],
)
def test_nesting_limit(source: str) -> None:
    """More than MAX_DEPTH levels of nesting is a syntax error, never a RecursionError."""
    with pytest.raises(ExprError, match="nested too deeply"):
        compile_expression(source)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("(" * (MAX_DEPTH - 1) + "1" + ")" * (MAX_DEPTH - 1), 1),
        ("!" * (MAX_DEPTH - 1) + "1", False),
        ("-" * 5000 + "1", 1),
        ("1" + "+1" * 4000, 4001),
        ("a" + ".b" * 4000, UNDEFINED),
        ("x" + "|upper" * 500, "HI"),
    ],
)
def test_long_flat_expressions(source: str, expected: Any) -> None:
    """Long operator and path chains are stored flat, so only real nesting counts towards the depth limit."""
    assert evaluate(source, {"x": "hi"}) == expected


def test_source_length_limit() -> None:
    """Sources longer than 10,000 characters are refused."""
    with pytest.raises(ExprError, match="too long"):
        compile_expression("1" + " " * 10_000)


def test_expression_is_reusable() -> None:
    """A compiled expression evaluates against many contexts and reports the names it calls."""
    expression = compile_expression("upper(name) + (items|join('+')) + nope(1)")
    assert expression.function_names == frozenset({"upper", "join", "nope"})
    assert expression.unknown_functions() == frozenset({"nope"})
    assert compile_expression("x * 2").evaluate({"x": 2}) == 4
    assert compile_expression("x * 2").evaluate({"x": 5}) == 10


def test_host_functions() -> None:
    """Callers may supply extra functions (e.g. server lookups); built-ins keep their meaning."""
    functions = {"server": lambda sid: {"id": sid, "hostname": f"host-{sid}"}, "upper": lambda s: "never"}
    assert evaluate("server('s1').hostname", {}, functions=functions) == "host-s1"
    assert evaluate("upper('a')", {}, functions=functions) == "A"
    assert evaluate("'s2'|server", {}, functions=functions) == {"id": "s2", "hostname": "host-s2"}


def test_host_function_failure_is_expr_error() -> None:
    """An exception inside a host function surfaces as ExprError."""

    def broken(value: Any) -> Any:
        raise ValueError("boom")

    with pytest.raises(ExprError, match=r"Function broken\(\) failed: boom"):
        evaluate("broken(1)", {}, functions={"broken": broken})


def test_foreign_python_objects_are_undefined() -> None:
    """Values that are not JSON (objects, functions, sets) are invisible: reading them gives undefined."""

    class Secret:
        password = "hunter2"

    ctx = {"obj": Secret(), "fn": print, "set": {1, 2}}
    assert evaluate("obj", ctx) is UNDEFINED
    assert evaluate("obj.password", ctx) is UNDEFINED
    assert evaluate("fn.__globals__", ctx) is UNDEFINED
    assert evaluate("set", ctx) is UNDEFINED
    assert evaluate("__class__", ctx) is UNDEFINED


def test_context_must_be_a_mapping() -> None:
    """A context that is not a mapping is reported as ExprError."""
    with pytest.raises(ExprError, match="context must be an object"):
        compile_expression("1").evaluate([])
