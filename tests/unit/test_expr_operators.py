"""Tables for every operator: JavaScript arithmetic, concatenation, loose equality, ``in``, logic and truthiness."""

from __future__ import annotations

import math
from typing import Any

import pytest

from cronwright.expr import UNDEFINED, ExprError, evaluate, is_truthy

CTX: dict[str, Any] = {"n": None, "big": 2**70, "arr": [1, "2", [3]], "obj": {"k": "v"}, "str": "hello"}


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    return actual == expected and type(actual) is type(expected)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2", 3),
        ("0.1 + 0.2", 0.30000000000000004),
        ("7 - 10", -3),
        ("6 * 7", 42),
        ("7 / 2", 3.5),
        ("6 / 3", 2),
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("7 % 3", 1),
        ("-7 % 3", -1),
        ("7.5 % 2", 1.5),
        ("1 / 0", math.inf),
        ("-1 / 0", -math.inf),
        ("1 / -0", -math.inf),
        ("0 / 0", math.nan),
        ("1 // 0", math.inf),
        ("5 % 0", math.nan),
        ("5 % (1/0)", 5),
        ("(1/0) % 5", math.nan),
        ("(1/0) - (1/0)", math.nan),
        ("'3' * '4'", 12),
        ("' 8 ' / 2", 4),
        ("'0x10' - 0", 16),
        ("'' * 5", 0),
        ("'abc' * 2", math.nan),
        ("null + 1", 1),
        ("n * 3", 0),
        ("nope * 2", math.nan),
        ("true + true", 2),
        ("false - 1", -1),
        ("-'3'", -3),
        ("-null", -0.0),
        ("-true", -1),
        ("-nope", math.nan),
        ("- -2", 2),
        ("big + 0", 1.1805916207174113e21),
        ("2" + " * 2" * 1100, math.inf),
        ("9007199254740993 + 0", 9007199254740992.0),
    ],
)
def test_arithmetic(source: str, expected: Any) -> None:
    """Arithmetic follows JavaScript doubles, including Infinity/NaN for division by zero and string coercion."""
    assert _same(evaluate(source, CTX), expected)


def test_integral_results_are_ints() -> None:
    """Integral results within ±2**53 come back as int, so templates print "42" rather than "42.0"."""
    assert type(evaluate("21 * 2.0", {})) is int
    assert type(evaluate("4 / 2", {})) is int
    assert type(evaluate("1e16 * 10", {})) is float


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("'a' + 1", "a1"),
        ("1 + '1'", "11"),
        ("'x' + true", "xtrue"),
        ("'x' + null", "xnull"),
        ("'x' + nope", "xundefined"),
        ("'x' + 1.0", "x1"),
        ("'x' + 0.1 * 3", "x0.30000000000000004"),
        ("'x' + 1e21", "x1e+21"),
        ("'x' + (1/0)", "xInfinity"),
        ("'' + arr", "1,2,3"),
        ("'' + obj", "[object Object]"),
        ("'' + [null, [], 'a']", ",,a"),
    ],
)
def test_string_concatenation(source: str, expected: str) -> None:
    """``+`` with a string on either side concatenates JavaScript string forms."""
    assert evaluate(source, CTX) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("'x' * obj", "Cannot apply '*' to string and object"),
        ("arr - 1", "Cannot apply '-' to array and number"),
        ("1 + obj", "Cannot apply '+' to number and object"),
        ("arr + arr", "Cannot apply '+' to array and array"),
        ("obj < 1", "Cannot apply '<' to object and number"),
        ("nope >= arr", "Cannot apply '>=' to undefined and array"),
        ("-obj", "Cannot apply unary '-' to object"),
        ("obj // 2", "Cannot apply '//' to object and number"),
        ("arr % 2", "Cannot apply '%' to array and number"),
    ],
)
def test_type_errors(source: str, message: str) -> None:
    """Arrays and objects where numbers are needed raise a clear ExprError instead of JavaScript's NaN."""
    with pytest.raises(ExprError) as caught:
        evaluate(source, CTX)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 == 1.0", True),
        ("1 == '1'", True),
        ("'1.0' == 1", True),
        ("0 == ''", True),
        ("0 == '0'", True),
        ("'' == '0'", False),
        ("null == nope", True),
        ("null == 0", False),
        ("nope == false", False),
        ("null == null", True),
        ("true == 1", True),
        ("true == '1'", True),
        ("'true' == true", False),
        ("[1] == 1", True),
        ("[1, 2] == '1,2'", True),
        ("[1] == true", True),
        ("obj == '[object Object]'", True),
        ("{a: 1} == {a: 1}", True),
        ("[1, [2]] == [1, [2]]", True),
        ("[1] == [1, 2]", False),
        ("[] == {}", False),
        ("(0/0) == (0/0)", False),
        ("'a' != 'b'", True),
        ("1 != '1'", False),
        ("big == 1180591620717411303424", True),
    ],
)
def test_loose_equality(source: str, expected: bool) -> None:
    """``==``/``!=`` are JavaScript's loose equality; arrays and objects compare by content."""
    assert evaluate(source, CTX) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 > 2", True),
        ("2 >= 3", False),
        ("'b' > 'a'", True),
        ("'10' < '9'", True),
        ("'10' < 9", False),
        ("'abc' < 'abd'", True),
        ("'\uffff' < '\U0001f600'", False),
        ("null < 1", True),
        ("nope < 1", False),
        ("nope >= nope", False),
        ("(0/0) < 1", False),
        ("true > 0", True),
        ("'x' < 1", False),
    ],
)
def test_comparisons(source: str, expected: bool) -> None:
    """Relational operators compare strings by UTF-16 code units and everything else numerically (NaN → false)."""
    assert evaluate(source, CTX) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("'ell' in 'hello'", True),
        ("'x' in 'hello'", False),
        ("1 in '123'", True),
        ("2 in [1, 2]", True),
        ("'2' in [1, 2]", False),
        ("'2' in arr", True),
        ("[3] in arr", True),
        ("'k' in obj", False),
        ("1 in nope", False),
        ("'a' in ['a', 'b'] && 'c' in 'abc'", True),
    ],
)
def test_in_operator(source: str, expected: bool) -> None:
    """``in`` is a substring test on strings, a strict element test on arrays, and false otherwise."""
    assert evaluate(source, CTX) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("0 || 'x'", "x"),
        ("'a' || 'b'", "a"),
        ("'' && 1", ""),
        ("1 && 'b'", "b"),
        ("nope || null", None),
        ("nope && boom(1)", UNDEFINED),
        ("1 || boom(1)", 1),
        ("!0", True),
        ("!''", True),
        ("![]", False),
        ("!{}", False),
        ("!nope", True),
        ("0 ? 'y' : 'n'", "n"),
        ("[] ? 'y' : 'n'", "y"),
        ("nope ?: 'd'", "d"),
        ("'' ?: 0 ?: 'last'", "last"),
    ],
)
def test_logic_and_ternary(source: str, expected: Any) -> None:
    """``&&``/``||`` return operand values and short-circuit (boom() is never called); ternaries use truthiness."""
    assert evaluate(source, CTX) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, False),
        (0.0, False),
        (-0.0, False),
        (math.nan, False),
        ("", False),
        (None, False),
        (UNDEFINED, False),
        (False, False),
        (1, True),
        (-1.5, True),
        ("0", True),
        ("false", True),
        ([], True),
        ({}, True),
        (True, True),
        (object(), False),
    ],
)
def test_is_truthy(value: Any, expected: bool) -> None:
    """is_truthy is JavaScript truthiness ([] and {} truthy, NaN falsy); foreign objects count as undefined."""
    assert is_truthy(value) is expected


def test_target_expression_against_server() -> None:
    """A target expression selects servers by their properties, with ``in`` over an array literal."""
    expression = "cpu.cores >= 2 && hostname in ['a', 'b']"
    assert evaluate(expression, {"cpu": {"cores": 4}, "hostname": "a"}) is True
    assert evaluate(expression, {"cpu": {"cores": 4}, "hostname": "c"}) is False
    assert evaluate(expression, {"cpu": {"cores": 1}, "hostname": "a"}) is False
    assert evaluate(expression, {"hostname": "a"}) is False


def test_evaluation_does_not_mutate_the_context() -> None:
    """Evaluating never changes the context, even through filters, literals and functions."""
    ctx = {"a": [{"x": 1}, {"x": 2}], "s": "t"}
    snapshot = repr(ctx)
    evaluate("a[.x > 0] == a && join(a, s) && find(a, 'x', 1) && split(s, '') && {k: a}", ctx)
    assert repr(ctx) == snapshot
