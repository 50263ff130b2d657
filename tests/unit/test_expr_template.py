"""Tables for ``{{ }}`` templates: value rendering (JS number forms), splitting, errors and job param expansion."""

from __future__ import annotations

import math
from typing import Any

import pytest

from cronwright.expr import UNDEFINED, ExprError, compile_template, expand_params, has_macro, render_value

JOB: dict[str, Any] = {
    "id": "jabc",
    "code": 0,
    "params": {"greeting": "hello", "count": "3"},
    "data": {"answer": 42, "ratio": 0.5, "list": [1, "a"], "obj": {"k": True}, "nothing": None},
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", "text"),
        ("", ""),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (42, "42"),
        (-7, "-7"),
        (1.0, "1"),
        (-0.0, "0"),
        (1.5, "1.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (100.0, "100"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (123456789012345680000.0, "123456789012345680000"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (2**53, "9007199254740992"),
        (2**80, "1.2089258196146292e+24"),
        (10**400, "Infinity"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        (math.nan, "NaN"),
        ([1, "a", None, 2.0], '[1,"a",null,2]'),
        ({"a": {"b": [True]}}, '{"a":{"b":[true]}}'),
        ({"s": 'q"\n\u2028'}, '{"s":"q\\"\\n\u2028"}'),
        ([math.nan, math.inf], "[null,null]"),
        ({"x": UNDEFINED, "y": 1}, '{"y":1}'),
        ([UNDEFINED], "[null]"),
        ({1: "int key"}, '{"1":"int key"}'),
    ],
)
def test_render_value(value: Any, expected: str) -> None:
    """Macro values render as JavaScript would print them: integral floats without ".0", compact JSON for containers."""
    assert render_value(value) == expected


@pytest.mark.parametrize("value", [None, UNDEFINED, object()])
def test_render_value_undefined(value: Any) -> None:
    """undefined and null render as the caller's placeholder ("" for params, "n/a" for email, "N/A" for URLs)."""
    assert render_value(value) == ""
    assert render_value(value, undefined="n/a") == "n/a"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", "plain text"),
        ("{{id}}", "jabc"),
        ("{{ id }}", "jabc"),
        ("a{{id}}b{{ code }}c", "ajabcb0c"),
        ("{{ params.greeting }} world", "hello world"),
        ("{{ data.answer * 2 }}", "84"),
        ("{{ data.ratio }}", "0.5"),
        ("{{ data.list }}", '[1,"a"]'),
        ("{{ data.obj }}", '{"k":true}'),
        ("[{{ data.nothing }}][{{ nope }}]", "[<u>][<u>]"),
        ("{{ code == 0 ? 'ok' : 'fail' }}", "ok"),
        ("{{ params.count * 2 }}", "6"),
        ("{{ 1/0 }} {{ 0/0 }}", "Infinity NaN"),
        ("{{", "{{"),
        ("{{}}", "{{}}"),
        ("{{ id", "{{ id"),
        ("id }}", "id }}"),
        ("{{ id\n}}", "{{ id\n}}"),
        ("{{{id}}}", None),
        ("{{ {a: 1}.a }}", "1"),
        ('{"text": "{{ id }}"}', '{"text": "jabc"}'),
        ("{{ '{{x}}' }}", None),
        ("line1\n{{ id }}\nline3", "line1\njabc\nline3"),
    ],
)
def test_render(text: str, expected: str | None) -> None:
    """Macros are {{ + one or more characters on one line + the first }}; everything else is literal text."""
    if expected is None:
        with pytest.raises(ExprError):
            compile_template(text)
        return
    assert compile_template(text).render(JOB, undefined="<u>") == expected


@pytest.mark.parametrize(
    ("text", "has", "macros"),
    [
        ("none", False, ()),
        ("{{ a }} and {{b.c}}", True, ("a", "b.c")),
        ("{{\n}}", False, ()),
        ("{{ }", False, ()),
    ],
)
def test_has_macros(text: str, has: bool, macros: tuple[str, ...]) -> None:
    """has_macros and macros report the trimmed expression of each macro found."""
    template = compile_template(text)
    assert template.has_macros is has
    assert has_macro(text) is has
    assert template.macros == macros


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x {{ 1 + }} y", "Invalid macro {{ 1 + }}: Unexpected end of expression"),
        ("{{ ### }}", "Invalid macro {{ ### }}: Unexpected character '#' at position 0"),
        ("{{ }}", "Invalid macro {{ }}: Empty expression"),
        ("ok {{ a }} then {{ (1 }}", "Invalid macro {{ (1 }}: Unexpected end of expression (expected ')')"),
    ],
)
def test_compile_errors_name_the_macro(text: str, message: str) -> None:
    """A template with an uncompilable macro fails to compile and the error quotes that macro."""
    with pytest.raises(ExprError) as caught:
        compile_template(text)
    assert str(caught.value) == message


def test_render_errors_name_the_macro() -> None:
    """An evaluation error names the macro; errors="inline" writes xyOps's "(ERROR: ...)" instead."""
    template = compile_template("a {{ data.obj * 2 }} b")
    with pytest.raises(
        ExprError, match=r"^Error in macro \{\{ data.obj \* 2 \}\}: Cannot apply '\*' to object and number$"
    ):
        template.render(JOB)
    assert template.render(JOB, errors="inline") == "a (ERROR: Cannot apply '*' to object and number) b"


def test_render_is_single_pass() -> None:
    """A value that itself contains {{ }} is inserted as is, not expanded again."""
    assert compile_template("{{ t }}").render({"t": "{{ id }}", "id": "x"}) == "{{ id }}"


def test_rendered_size_limit() -> None:
    """Rendered text longer than 1,000,000 characters raises instead of growing without bound."""
    template = compile_template("{{ s }}{{ s }}")
    assert len(template.render({"s": "x" * 500_000})) == 1_000_000
    with pytest.raises(ExprError, match="too long"):
        template.render({"s": "x" * 500_001})


def test_render_budget_is_shared_by_macros() -> None:
    """All macros of one render share one step budget, so many cheap macros cannot add up to unbounded work."""
    text = "{{ stringify(a) }}" * 40
    with pytest.raises(ExprError, match="too complex"):
        compile_template(text).render({"a": list(range(5_000))})


# --- expand_params (jobs.md §9) -------------------------------------------------------------------


def _launch_context(params: dict[str, Any]) -> dict[str, Any]:
    return {"id": "jabc", "event": "e1", "params": params, "data": {"n": 21}, "files": []}


def test_expand_params_spec_example() -> None:
    """The jobs.md §9 example: earlier params, job fields and input data expand; undefined renders as ""."""
    params = {"a": "x", "b": "{{params.a}}-{{id}}", "c": "{{nope}}", "d": "{{data.n * 2}}"}
    expanded = expand_params(params, order=[], context=_launch_context(params))
    assert expanded == {"a": "x", "b": "x-jabc", "c": "", "d": "42"}


def test_expand_params_does_not_mutate_input() -> None:
    """The params and context passed in are left untouched; a new dict is returned."""
    params = {"a": "{{ id }}"}
    context = _launch_context(params)
    expanded = expand_params(params, order=[], context=context)
    assert params == {"a": "{{ id }}"}
    assert context["params"] is params
    assert expanded == {"a": "jabc"} and expanded is not params


def test_expand_params_field_order_first() -> None:
    """Field ids are expanded first, in order, so a field sees another field already expanded in the same pass."""
    params = {"late": "L{{ params.first }}", "first": "F{{ params.second }}", "second": "S"}
    expanded = expand_params(params, order=["second", "first", "missing"], context=_launch_context(params))
    assert expanded == {"late": "LFS", "first": "FS", "second": "S"}


def test_expand_params_later_param_sees_raw_then_next_pass() -> None:
    """A param that reads a later, unexpanded param gets its macro text, which the next pass expands."""
    params = {"a": "<{{ params.b }}>", "b": "{{ id }}"}
    expanded = expand_params(params, order=[], context=_launch_context(params))
    assert expanded == {"a": "<jabc>", "b": "jabc"}


def test_expand_params_pass_cap_with_self_reference() -> None:
    """A param that keeps referring to itself is expanded at most max_passes (32) times, then returned as is."""
    ticks: list[int] = []

    def tick() -> int:
        ticks.append(1)
        return 1

    functions = {"tick": tick}
    params = {"a": "{{ tick() ? params.a : '' }}"}
    expanded = expand_params(params, order=[], context=_launch_context(params), functions=functions)
    assert expanded == params and len(ticks) == 32
    ticks.clear()
    expand_params(params, order=[], context=_launch_context(params), functions=functions, max_passes=5)
    assert len(ticks) == 5


def test_expand_params_passes_repeat_literal_text() -> None:
    """Each pass re-renders the whole value, so literal text around a self-reference doubles per pass."""
    params = {"a": "x{{ params.a }}"}
    for passes, expected in [(1, "xx"), (2, "xxxx"), (3, "x" * 8)]:
        expanded = expand_params(params, order=[], context=_launch_context(params), max_passes=passes)
        assert expanded["a"] == expected + "{{ params.a }}"


def test_expand_params_doubling_is_bounded() -> None:
    """A param that doubles itself each pass hits the size limit and raises, naming the param."""
    params = {"boom": "{{ params.boom }}{{ params.boom }}"}
    with pytest.raises(ExprError, match=r"^Param 'boom': .*too long"):
        expand_params(params, order=[], context=_launch_context(params))


def test_expand_params_leaves_non_strings_alone() -> None:
    """Numbers, booleans, null and nested objects are not expanded, even when they contain macro text."""
    nested = {"inner": "{{ id }}"}
    params = {"n": 5, "flag": True, "none": None, "nested": nested, "list": ["{{ id }}"], "s": "{{ params.nested }}"}
    expanded = expand_params(params, order=[], context=_launch_context(params))
    assert expanded["nested"] is nested and expanded["list"] == ["{{ id }}"]
    assert expanded["n"] == 5 and expanded["flag"] is True and expanded["none"] is None
    assert expanded["s"] == '{"inner":"jabc"}'  # the JSON text is a string with a macro: the next pass expands it


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{{ 1 + }}", "Param 'bad': Invalid macro {{ 1 + }}: Unexpected end of expression"),
        ("{{ data * 2 }}", "Param 'bad': Error in macro {{ data * 2 }}: Cannot apply '*' to object and number"),
        ("{{ nope(1) }}", "Param 'bad': Error in macro {{ nope(1) }}: Unknown function: nope"),
    ],
)
def test_expand_params_errors_name_the_param(value: str, message: str) -> None:
    """Syntax and evaluation errors raise ExprError("Param 'x': ...") for the job engine to report."""
    params = {"ok": "{{ id }}", "bad": value}
    with pytest.raises(ExprError) as caught:
        expand_params(params, order=[], context=_launch_context(params))
    assert str(caught.value) == message


def test_expand_params_inline_errors() -> None:
    """errors="inline" reproduces xyOps: the failing macro renders as "(ERROR: message)"."""
    params = {"bad": "a{{ data * 2 }}b", "worse": "{{ 1 + }}"}
    expanded = expand_params(params, order=[], context=_launch_context(params), errors="inline")
    assert expanded == {
        "bad": "a(ERROR: Cannot apply '*' to object and number)b",
        "worse": "(ERROR: Unexpected end of expression)",
    }


def test_server_is_not_known_at_expansion() -> None:
    """Expansion happens before server selection, so {{server}} paths render as empty strings."""
    params = {"host": "[{{ server.hostname }}]"}
    assert expand_params(params, order=[], context=_launch_context(params)) == {"host": "[]"}
