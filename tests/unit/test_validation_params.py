"""Tables for requireParams & friends, parameter definitions and parameter values (plugins.md §2)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cronwright.engine.validation import (
    ID_RE,
    OVERRIDE_RESERVED_RE,
    RESERVED_WORDS,
    WORD_RE,
    parse_range,
    require_params,
    strip_html_fields,
    validate_optional_params,
    validate_param_definitions,
    validate_param_values,
)
from cronwright.engine.validation.paramdefs import NumericRange
from cronwright.errors import CwError
from tests.unit._validation_data import api_message

# --- constants ---------------------------------------------------------------------------------


def test_reserved_words_list() -> None:
    """RESERVED_WORDS is the MATCH_BAD_KEY list of api-conventions §5."""
    assert {
        "constructor", "__defineGetter__", "__defineSetter__", "hasOwnProperty", "__lookupGetter__",
        "__lookupSetter__", "isPrototypeOf", "propertyIsEnumerable", "toString", "valueOf", "__proto__",
        "toLocaleString", "0",
    } == RESERVED_WORDS  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        (ID_RE, "my_event1", True),
        (ID_RE, "Bad-ID", False),
        (ID_RE, "abc\n", False),
        (WORD_RE, "General_1", True),
        (WORD_RE, "caf\u00e9", False),
        (WORD_RE, "a b", False),
        (OVERRIDE_RESERVED_RE, "_xy_override_uid", True),
        (OVERRIDE_RESERVED_RE, "_xy_override_runner", True),
        (OVERRIDE_RESERVED_RE, "_xy_override_label", False),
        (OVERRIDE_RESERVED_RE, "_xy_override_uid2", False),
    ],
)
def test_exported_patterns(pattern: re.Pattern[str], text: str, matches: bool) -> None:
    """The exported id/word/override patterns are ASCII-only and anchored at the very end."""
    assert bool(pattern.match(text)) is matches


# --- require_params ----------------------------------------------------------------------------

ID_RULES = {"id": ID_RE}


@pytest.mark.parametrize(
    ("params", "rules", "message"),
    [
        ({}, ID_RULES, "Missing parameter: id"),
        ({"id": "Bad-ID"}, ID_RULES, "Malformed parameter: id"),
        ({"id": ["abc"]}, ID_RULES, "Malformed parameter: id"),
        ({"id": {"a": 1}}, ID_RULES, "Malformed parameter: id"),
        ({"id": 5}, ID_RULES, "Invalid ID parameter: 5 (not a string)"),
        ({"id": None}, ID_RULES, "Invalid ID parameter: null (not a string)"),
        ({"id": "constructor"}, {"id": WORD_RE}, "Invalid ID parameter: constructor (reserved word)"),
        ({"id": "0"}, ID_RULES, "Invalid ID parameter: 0 (reserved word)"),
        ({"enabled": True}, {"enabled": re.compile(r"^(\d+|true|false)$")}, None),
        ({"enabled": "yes"}, {"enabled": re.compile(r"^(\d+|true|false)$")}, "Malformed parameter: enabled"),
        ({"ids": "a"}, {"ids": "array"}, "Parameter is not an array: ids"),
        ({"ids": ["a"]}, {"ids": "array"}, None),
        ({"n": "5"}, {"n": "number"}, "Parameter is not type number: n"),
        ({"n": True}, {"n": "number"}, "Parameter is not type number: n"),
        ({"n": 5}, {"n": "number"}, None),
        ({"id": "x", "__proto__": 1}, ID_RULES, "Invalid parameter: __proto__ (illegal key)"),
        ({"valueOf": 1}, {}, "Invalid parameter: valueOf (illegal key)"),
        ({"title": "<b>x</b>"}, {}, "Malformed title parameter: Cannot contain HTML metacharacters"),
        ({"title": "a > b"}, {}, "Malformed title parameter: Cannot contain HTML metacharacters"),
        ({"title": 5}, {}, None),
        ({"icon": "alert-rhombus"}, {}, None),
        ({"icon": ""}, {}, None),
        ({"icon": "bad icon"}, {}, "Malformed icon parameter: Contains illegal characters"),
        ({"icon": 5}, {}, "Malformed icon parameter: Contains illegal characters"),
        ({"title": "  "}, {"title": re.compile(r"\S")}, "Malformed parameter: title"),
    ],
)
def test_require_params(params: dict[str, Any], rules: dict[str, Any], message: str | None) -> None:
    """require_params reports the first broken rule with xyOps wording, or accepts the params."""
    if message is None:
        require_params(params, rules)
    else:
        assert api_message(lambda: require_params(params, rules)) == message


# --- validate_optional_params ------------------------------------------------------------------

OPTIONAL_RULES = {"enabled": (r"^(boolean|number)$", r"^(\d+|true|false)$"), "title": (r"^(string)$", r"\S")}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, None),
        ({"enabled": 1, "title": "x"}, None),
        ({"enabled": "true"}, "Malformed parameter type: enabled (string)"),
        ({"enabled": None}, "Malformed parameter type: enabled (object)"),
        ({"enabled": 1.5}, "Malformed parameter value: enabled"),
        ({"enabled": -1}, "Malformed parameter value: enabled"),
        ({"title": " "}, "Malformed parameter value: title"),
        ({"title": ["x"]}, "Malformed parameter type: title (object)"),
    ],
)
def test_validate_optional_params(params: dict[str, Any], message: str | None) -> None:
    """validate_optional_params checks the JS type first, then the value pattern, for present keys only."""
    if message is None:
        validate_optional_params(params, OPTIONAL_RULES)
    else:
        assert api_message(lambda: validate_optional_params(params, OPTIONAL_RULES)) == message


def test_strip_html_fields() -> None:
    """strip_html_fields removes tags from notes/label/message strings and leaves everything else."""
    doc = {"notes": "<b>hi</b> there", "label": "<i>L</i>", "message": 5, "title": "<b>t</b>"}
    strip_html_fields(doc)
    assert doc == {"notes": "hi there", "label": "L", "message": 5, "title": "<b>t</b>"}


# --- parameter definitions ---------------------------------------------------------------------


def _param(**overrides: Any) -> dict[str, Any]:
    return {"id": "p1", "title": "P1", "type": "text", **overrides}


@pytest.mark.parametrize(
    ("defs", "message"),
    [
        ([_param()], None),
        ([_param(variant="number", range="1-10/1", regex="^\\d+$", caption="ok")], None),
        ("x", "Malformed parameter list (must be array)"),
        ([5], "Malformed parameter #1 (not an object)"),
        ([_param(id=5)], "Malformed parameter '5': ID must be a string"),
        ([_param(id=None)], "Malformed parameter 'n/a': ID must be a string"),
        (
            [_param(id="a b")],
            "Malformed parameter 'a b': Invalid parameter ID: a b (must contain only alphanumerics, underscore, dash and period)",
        ),
        (
            [_param(id="9bad")],
            "Malformed parameter '9bad': Invalid parameter ID: 9bad (must begin with a letter or underscore)",
        ),
        (
            [_param(id="constructor")],
            "Malformed parameter 'constructor': Invalid parameter ID: constructor (reserved word)",
        ),
        (
            [_param(id="_xy_override_script")],
            "Malformed parameter '_xy_override_script': Invalid parameter ID: _xy_override_script (reserved)",
        ),
        ([_param(), _param()], "Malformed parameter 'p1': Duplicate parameter ID: p1"),
        ([_param(type=None)], "Malformed parameter 'p1': Type must be a string"),
        ([_param(type="slider")], "Malformed parameter 'p1': Invalid type"),
        ([_param(title="")], "Malformed parameter 'p1': Title property is missing"),
        ([_param(title=5)], "Malformed parameter 'p1': Title must be a string"),
        ([_param(title="<b>")], "Malformed parameter 'p1': Title contains illegal characters"),
        ([_param(caption="a<b")], "Malformed parameter 'p1': Caption contains illegal characters"),
        ([_param(caption=["x"])], "Malformed parameter 'p1': Caption must be a string"),
        ([_param(variant="slider")], "Malformed parameter 'p1': Invalid text field variant"),
        ([_param(variant=["number"])], "Malformed parameter 'p1': Invalid text field variant"),
        ([_param(type="textarea", variant="slider")], None),
        ([_param(regex="((")], "Malformed parameter 'p1': Invalid regular expression: ((: "),
        ([_param(range="ten")], "Malformed parameter 'p1': Invalid range: ten (expected MIN-MAX/STEP)"),
        (
            [_param(type="toolset", data={"tools": []})],
            "Malformed parameter 'p1': Toolset data must contain a non-empty tools array",
        ),
        ([_param(type="toolset", data={"tools": [{"id": "t"}]})], None),
    ],
)
def test_validate_param_definitions(defs: Any, message: str | None) -> None:
    """Plugin param definitions follow plugins.md §2, reporting "Malformed parameter '<id>': ..."."""
    if message is None:
        validate_param_definitions(defs)
    else:
        assert api_message(lambda: validate_param_definitions(defs)).startswith(message)


def test_validate_param_definitions_locked_ids() -> None:
    """A definition may not reuse an id listed in locked_ids."""
    message = api_message(
        lambda: validate_param_definitions([_param(id="script")], what="user field", locked_ids={"script"})
    )
    assert message == "Malformed user field 'script': ID is already in use (as locked plugin parameter)."


# --- ranges and values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1-100/1", NumericRange(1, 100, 1)),
        ("0 - 10 / any", NumericRange(0, 10, None)),
        ("-5--1/1", NumericRange(-5, -1, 1)),
        ("-5 - -1 / 0.5", NumericRange(-5, -1, 0.5)),
        ("1.5-2.5", NumericRange(1.5, 2.5, None)),
        ("1-10/0", None),
        ("abc", None),
        ("1-", None),
        (5, None),
    ],
)
def test_parse_range(spec: Any, expected: NumericRange | None) -> None:
    """parse_range reads MIN-MAX/STEP with whitespace ignored, negative bounds and an optional step."""
    assert parse_range(spec) == expected


DEFS = [
    {"id": "name", "type": "text", "required": True},
    {"id": "code", "type": "text", "regex": "^[A-Z]{3}$"},
    {"id": "count", "type": "text", "range": "1-100/1"},
    {"id": "ratio", "type": "text", "range": "0 - 1 / 0.1"},
    {"id": "temp", "type": "text", "range": "-5--1/any"},
    {"id": "junk", "type": "text", "range": "not a range"},
]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"name": "x"}, None),
        ({}, "Event: Parameter 'name' is required."),
        ({"name": None}, "Event: Parameter 'name' is required."),
        ({"name": ""}, "Event: Parameter 'name' is required."),
        ({"name": []}, "Event: Parameter 'name' is required."),
        ({"name": False}, None),
        ({"name": 0}, None),
        ({"name": "x", "code": "ABC"}, None),
        ({"name": "x", "code": ""}, None),
        ({"name": "x", "code": "abc"}, "Event: Parameter 'code' value is invalid."),
        ({"name": "x", "code": "ABC\n"}, "Event: Parameter 'code' value is invalid."),
        ({"name": "x", "count": 50}, None),
        ({"name": "x", "count": "50"}, None),
        ({"name": "x", "count": " 7 "}, None),
        ({"name": "x", "count": 0}, "Event: Parameter 'count' value is invalid (range)."),
        ({"name": "x", "count": 101}, "Event: Parameter 'count' value is invalid (range)."),
        ({"name": "x", "count": 5.5}, "Event: Parameter 'count' value is invalid (range)."),
        ({"name": "x", "count": "abc"}, "Event: Parameter 'count' value is invalid (range)."),
        ({"name": "x", "count": True}, "Event: Parameter 'count' value is invalid (range)."),
        ({"name": "x", "count": "Infinity"}, "Event: Parameter 'count' value is invalid (range)."),
        ({"name": "x", "count": 10**400}, "Event: Parameter 'count' value is invalid (range)."),
        ({"name": "x", "count": 1e308}, "Event: Parameter 'count' value is invalid (range)."),
        ({"name": "x", "ratio": 0.3}, None),
        ({"name": "x", "ratio": 0.35}, "Event: Parameter 'ratio' value is invalid (range)."),
        ({"name": "x", "temp": -2.5}, None),
        ({"name": "x", "temp": 0}, "Event: Parameter 'temp' value is invalid (range)."),
        ({"name": "x", "junk": "anything"}, None),
    ],
)
def test_validate_param_values(values: dict[str, Any], message: str | None) -> None:
    """Values are checked for required, regex and range (step epsilon 1e-7) in definition order."""
    if message is None:
        validate_param_values(DEFS, values, "Event")
    else:
        assert api_message(lambda: validate_param_values(DEFS, values, "Event")) == message


@pytest.mark.parametrize(
    ("defs", "values"),
    [(None, {}), ("x", {}), ([5, None, {"id": 7}, {"no": "id"}], {}), (DEFS[1:], "not a dict")],
)
def test_validate_param_values_tolerates_junk(defs: Any, values: Any) -> None:
    """Malformed definitions are skipped and non-object values count as empty."""
    validate_param_values(defs, values, "Event")


def test_validate_param_values_bad_regex() -> None:
    """A definition with an uncompilable regex is reported, not crashed on."""
    message = api_message(lambda: validate_param_values([{"id": "a", "regex": "(("}], {"a": "x"}, "Event"))
    assert message.startswith("Event: Parameter 'a': Invalid regular expression: ((")


# --- properties: arbitrary JSON in, only api errors out ------------------------------------------

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=10,
)
REGEX_TEXT = st.text(alphabet="ab()[]{}^$*+?|\\-.:<>=!kPdws0123,&~", max_size=14)
DEF_KEYS = ["id", "title", "type", "value", "required", "locked", "regex", "variant", "range", "caption", "data"]
DEF_VALUES = JSON | REGEX_TEXT | st.sampled_from(["text", "toolset", "number", "1-10/1", "-5--1/any", "p1", True])
DEFS_LIKE = st.lists(st.dictionaries(st.sampled_from(DEF_KEYS), DEF_VALUES, max_size=7) | JSON, max_size=4)


def _only_api_errors(call: Any) -> None:
    try:
        call()
    except CwError as exc:
        assert exc.code == "api"


@settings(max_examples=200, deadline=None)
@given(defs=DEFS_LIKE | JSON, values=st.dictionaries(st.sampled_from(["p1", "a", "b"]), JSON | REGEX_TEXT) | JSON)
def test_param_validators_never_crash(defs: Any, values: Any) -> None:
    """Definition and value validation on arbitrary JSON only ever raise api errors."""
    _only_api_errors(lambda: validate_param_definitions(defs))
    _only_api_errors(lambda: validate_param_definitions(defs, what="user field", require_title=False, locked_ids={"a"}))
    _only_api_errors(lambda: validate_param_values(defs, values, "Event"))


@settings(max_examples=200, deadline=None)
@given(params=st.dictionaries(st.sampled_from(["id", "title", "icon", "enabled", "constructor", "x"]), JSON) | JSON)
def test_require_params_never_crashes(params: Any) -> None:
    """require_params and validate_optional_params on arbitrary objects only ever raise api errors."""
    if isinstance(params, dict):
        _only_api_errors(lambda: require_params(params, {"id": ID_RE, "enabled": re.compile(r"^(\d+|true|false)$")}))
        _only_api_errors(lambda: validate_optional_params(params, OPTIONAL_RULES))
        strip_html_fields(params)
