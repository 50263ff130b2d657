"""Property tests: any input either evaluates or raises ExprError, quickly, and rendering stays within its size limit."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cronwright.expr import (
    MAX_STRING_CHARS,
    UNDEFINED,
    ExprError,
    compile_template,
    evaluate,
    expand_params,
    render_value,
)
from cronwright.expr.values import Kind, kind_of

NAMES = ["a", "b", "x", "s", "items", "params", "id", "in", "length", "0"]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["", "0", "1", "a,b", "{{ x }}", "\ud800", "web-01", "(a+)+$"])
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(NAMES), children, max_size=4),
    max_leaves=12,
)
TOKENS = [
    *NAMES,
    *(f"{name}(" for name in ["min", "max", "round", "bytes", "number", "pct", "join", "split", "match", "find"]),
    *(f"{name}(" for name in ["stringify", "json", "encode", "count", "includes", "lower", "trim", "nope", "float"]),
    *["integer(", "clamp(", "floor(", "upper("],
    *["0", "1", "2.5", "1e308", "-1", "'a'", '"b"', "'\\u00e9'", "'(a|a)*$'", "'{\"a\":1}'", "''", "true", "null"],
    *["+", "-", "*", "/", "//", "%", "==", "!=", "<", "<=", ">", ">=", "in", "&&", "||", "!", "?", ":", "?:"],
    *["(", ")", "[", "]", "{", "}", ",", ".", "|", "|upper", "|join", "[.a > 0]", "[0]", "['x']", " ", "#", "="],
]
SOUP = st.lists(st.sampled_from(TOKENS), max_size=30).map(" ".join)
SOURCES = SOUP | st.text(max_size=60)
CONTEXT = st.dictionaries(st.sampled_from(NAMES), JSON, max_size=6)


def _is_json_value(value: Any) -> bool:
    """True for a JSON value whose containers hold only JSON values (UNDEFINED allowed only at the top)."""
    pending = [value]
    while pending:
        item = pending.pop()
        kind = kind_of(item)
        if kind is Kind.UNDEFINED:
            return False
        if kind is Kind.ARRAY:
            pending.extend(item)
        elif kind is Kind.OBJECT:
            pending.extend(item.values())
    return True


@settings(max_examples=600, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow])
@given(source=SOURCES, context=CONTEXT)
def test_any_expression_evaluates_or_raises_expr_error(source: str, context: dict[str, Any]) -> None:
    """Any text either compiles and evaluates to a JSON value (or undefined), or raises ExprError; nothing else."""
    try:
        result = evaluate(source, context)
    except ExprError as exc:
        assert str(exc) and not str(exc).startswith("Internal error while evaluating"), str(exc)
        return
    assert result is UNDEFINED or _is_json_value(result)


@settings(max_examples=400, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(SOURCES | SOURCES.map(lambda source: "{{ " + source + " }}"), max_size=6),
    context=CONTEXT,
    undefined=st.sampled_from(["", "n/a", "N/A"]),
)
def test_any_template_renders_or_raises_expr_error(parts: list[str], context: dict[str, Any], undefined: str) -> None:
    """Any template text either compiles and renders to a string, or raises ExprError; nothing else."""
    text = "".join(parts)
    try:
        rendered = compile_template(text).render(context, undefined=undefined)
    except ExprError as exc:
        assert str(exc) and "Internal error while evaluating" not in str(exc), str(exc)
        return
    assert isinstance(rendered, str) and len(rendered) <= MAX_STRING_CHARS


BIG = "x" * 300_000
GROWERS = [
    "s",
    "s + s",
    "s + s + s + s",
    "join([s, s, s, s], s)",
    "stringify([s, s, s, s])",
    "upper(s + s)",
    "encode(s)",
    "[s, s, s, s]",
    "split(s, '')",
    "items|join(s)",
]


@settings(max_examples=60, deadline=timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow])
@given(macros=st.lists(st.sampled_from(GROWERS), min_size=1, max_size=5), glue=st.text(max_size=5))
def test_rendering_never_exceeds_the_size_limit(macros: list[str], glue: str) -> None:
    """However macros multiply a large string, a render returns at most MAX_STRING_CHARS characters or raises."""
    context = {"s": BIG, "items": ["a"] * 50}
    text = glue.join("{{ " + macro + " }}" for macro in macros)
    try:
        rendered = compile_template(text).render(context)
    except ExprError as exc:
        assert "Internal error while evaluating" not in str(exc), str(exc)
        return
    assert len(rendered) <= MAX_STRING_CHARS


@settings(max_examples=200, deadline=timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow])
@given(
    params=st.dictionaries(
        st.sampled_from(["a", "b", "c", "d"]),
        JSON | SOURCES.map(lambda source: "{{ " + source + " }}") | st.sampled_from(["{{ params.a }}{{ params.b }}"]),
        max_size=4,
    ),
    order=st.lists(st.sampled_from(["a", "b", "c", "x"]), max_size=3),
)
def test_expand_params_terminates_with_params_or_expr_error(params: dict[str, Any], order: list[str]) -> None:
    """Param expansion over arbitrary values returns a dict with the same keys, or raises ExprError naming a param."""
    try:
        expanded = expand_params(params, order=order, context={"id": "j1", "params": params})
    except ExprError as exc:
        assert str(exc).startswith("Param '"), str(exc)
        return
    assert expanded.keys() == params.keys()


EXACT_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=timedelta(seconds=2))
@given(value=EXACT_JSON)
def test_render_value_of_containers_is_json(value: Any) -> None:
    """Arrays and objects render as compact JSON that parses back to the same value."""
    text = render_value(value)
    if kind_of(value) in (Kind.ARRAY, Kind.OBJECT):
        assert json.loads(text, parse_int=float) == value
