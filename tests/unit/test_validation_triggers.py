"""Tables for trigger validation (triggers.md §1–§2), composition rules and save-time trigger edits."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest

from cronwright.engine.validation import (
    apply_field_defaults,
    hash_magic_keys,
    normalize_trigger_epochs,
    validate_triggers,
)
from tests.unit._validation_data import api_message, world

FIELDS = [
    {"id": "region", "type": "text", "required": True, "value": "us"},
    {"id": "size", "type": "text", "range": "1-10/1", "value": 5},
]
E = 1766111340


def _check(triggers: Any, fields: Any = FIELDS) -> None:
    validate_triggers(triggers, fields=fields, lookup=world())


VALID = [
    ("omitted", None),
    ("false counts as omitted", False),
    ("empty", []),
    ("manual", [{"type": "manual", "enabled": True}]),
    ("schedule", [{"type": "schedule", "enabled": True, "years": [2025], "months": [12], "days": [-7, -1, 1, 31],
                   "weekdays": [0, 6], "hours": [0, 23], "minutes": [0, 59], "timezone": "America/New_York"}]),
    ("schedule empty lists", [{"type": "schedule", "enabled": True, "minutes": []}]),
    ("schedule empty timezone", [{"type": "schedule", "enabled": True, "timezone": ""}]),
    ("schedule float minute", [{"type": "schedule", "enabled": True, "minutes": [29.0]}]),
    ("interval", [{"type": "interval", "enabled": True, "start": E, "duration": 90}]),
    ("interval float start", [{"type": "interval", "enabled": True, "start": float(E), "duration": 90.0}]),
    ("single", [{"type": "single", "enabled": True, "epoch": 2000000037}]),
    ("catchup", [{"type": "catchup", "enabled": True}]),
    ("range both", [{"type": "range", "enabled": True, "start": E, "end": E}]),
    ("range start only", [{"type": "range", "enabled": True, "start": E}]),
    ("range neither", [{"type": "range", "enabled": True}]),
    ("range zero start", [{"type": "range", "enabled": True, "start": 0, "end": E}]),
    ("blackout", [{"type": "blackout", "enabled": True, "start": E, "end": E + 60}]),
    ("delay", [{"type": "delay", "enabled": True, "duration": 30}]),
    ("precision", [{"type": "precision", "enabled": True, "seconds": [0, 15, 59]}]),
    ("nth", [{"type": "nth", "enabled": True, "every": 2}]),
    ("quiet invisible", [{"type": "quiet", "enabled": True, "invisible": True}]),
    ("quiet ephemeral", [{"type": "quiet", "enabled": True, "ephemeral": 1}]),
    ("startup", [{"type": "startup", "enabled": True}]),
    ("magic", [{"type": "magic", "enabled": True, "key": "k1-0123456789abcdef", "body": "hi"}]),
    ("plugin", [{"type": "plugin", "enabled": True, "plugin_id": "schedplug", "params": {"mode": "x"}, "timezone": "UTC"}]),
    ("keyboard", [{"type": "keyboard", "enabled": True, "keys": ["Control+KeyA"]}]),
    ("two ranges", [{"type": "range", "enabled": True, "start": E}, {"type": "range", "enabled": True, "end": E}]),
    ("two delays", [{"type": "delay", "enabled": True, "duration": 1}, {"type": "delay", "enabled": True, "duration": 2}]),
    ("two schedules", [{"type": "schedule", "enabled": True}, {"type": "schedule", "enabled": True}]),
    ("manual enabled + disabled", [{"type": "manual", "enabled": True}, {"type": "manual", "enabled": False}]),
    ("manual enabled + string true", [{"type": "manual", "enabled": True}, {"type": "manual", "enabled": "true"}]),
    ("manual enabled + 2", [{"type": "manual", "enabled": True}, {"type": "manual", "enabled": 2}]),
    ("interval + disabled precision", [{"type": "interval", "enabled": True, "start": E, "duration": 9},
                                       {"type": "precision", "enabled": False, "seconds": [1]}]),
    ("trigger params valid", [{"type": "schedule", "enabled": True, "params": {"region": "eu", "size": 3}}]),
]  # fmt: skip


@pytest.mark.parametrize(("triggers",), [(t,) for _, t in VALID], ids=[name for name, _ in VALID])
def test_valid_triggers(triggers: Any) -> None:
    """Each trigger list here satisfies triggers.md §2 and the composition rules."""
    _check(triggers)


P = "Malformed trigger entry #1"
INVALID = [
    ("not an array", {"type": "manual"}, "Malformed event parameter: triggers (must be array)"),
    ("entry not object", [5], "Malformed trigger entry #1 (not an object)"),
    ("second entry not object", [{"type": "manual"}, "x"], "Malformed trigger entry #2 (not an object)"),
    ("unknown type", [{"type": "bogus", "enabled": True}], f"{P}: Unknown type"),
    ("missing type", [{"enabled": True}], f"{P}: Unknown type"),
    ("list type", [{"type": ["manual"]}], f"{P}: Unknown type"),
    ("second unknown", [{"type": "manual"}, {"type": "cron"}], "Malformed trigger entry #2: Unknown type"),
    ("minutes 60", [{"type": "schedule", "minutes": [60]}], "Malformed trigger parameter: minutes (out of range: 60)"),
    ("hours string", [{"type": "schedule", "hours": "2"}], "Malformed trigger parameter: hours (must be array)"),
    ("hours of strings", [{"type": "schedule", "hours": ["2"]}], "Malformed trigger parameter: hours (must be array of numbers)"),
    ("hours of bools", [{"type": "schedule", "hours": [True]}], "Malformed trigger parameter: hours (must be array of numbers)"),
    ("days 0", [{"type": "schedule", "days": [0]}], "Malformed trigger parameter: days (out of range: 0)"),
    ("days -8", [{"type": "schedule", "days": [-8]}], "Malformed trigger parameter: days (out of range: -8)"),
    ("days 32", [{"type": "schedule", "days": [32]}], "Malformed trigger parameter: days (out of range: 32)"),
    ("years 0", [{"type": "schedule", "years": [0]}], "Malformed trigger parameter: years (out of range: 0)"),
    ("months 13", [{"type": "schedule", "months": [13]}], "Malformed trigger parameter: months (out of range: 13)"),
    ("weekdays 7", [{"type": "schedule", "weekdays": [7]}], "Malformed trigger parameter: weekdays (out of range: 7)"),
    ("hours -1", [{"type": "schedule", "hours": [-1]}], "Malformed trigger parameter: hours (out of range: -1)"),
    ("minutes huge float", [{"type": "schedule", "minutes": [1e308]}], "Malformed trigger parameter: minutes (out of range: 1e+308)"),
    ("bad timezone chars", [{"type": "schedule", "timezone": "Mars Base"}], f"{P}: Invalid timezone: Mars Base"),
    ("timezone number", [{"type": "schedule", "timezone": 5}], f"{P}: Invalid timezone: 5"),
    ("unknown timezone", [{"type": "schedule", "timezone": "Mars/Base"}], f"{P}: Unknown timezone: Mars/Base"),
    ("interval no start", [{"type": "interval", "duration": 60}], f"{P}: Invalid starting date/time specified for interval"),
    ("interval string start", [{"type": "interval", "start": "1", "duration": 60}], f"{P}: Invalid starting date/time specified for interval"),
    ("interval fractional start", [{"type": "interval", "start": 1.5, "duration": 60}], f"{P}: Invalid starting date/time specified for interval"),
    ("interval no duration", [{"type": "interval", "start": E}], f"{P}: Interval rule is missing duration."),
    ("interval string duration", [{"type": "interval", "start": E, "duration": "60"}], f"{P}: Invalid interval duration: 60 (must be a positive integer)"),
    ("interval negative duration", [{"type": "interval", "start": E, "duration": -60}], f"{P}: Invalid interval duration: -60 (must be a positive integer)"),
    ("single string epoch", [{"type": "single", "epoch": "2000000000"}], f"{P}: Invalid date/time specified for single shot"),
    ("single negative epoch", [{"type": "single", "epoch": -5}], f"{P}: Invalid date/time specified for single shot"),
    ("single zero epoch", [{"type": "single", "epoch": 0}], f"{P}: Invalid date/time specified for single shot"),
    ("single bool epoch", [{"type": "single", "epoch": True}], f"{P}: Invalid date/time specified for single shot"),
    ("single 1e21 epoch", [{"type": "single", "epoch": 1e21}], f"{P}: Invalid date/time specified for single shot"),
    ("range bad start", [{"type": "range", "start": "x"}], f"{P}: Invalid start date/time specified for range"),
    ("range bad end", [{"type": "range", "end": -1}], f"{P}: Invalid end date/time specified for range"),
    ("range reversed", [{"type": "range", "start": E + 60, "end": E}], f"{P}: Invalid date range.  The start date cannot come after the end date."),
    ("blackout missing end", [{"type": "blackout", "start": E}], f"{P}: Both a start and an end date are required for blackout."),
    ("blackout bad start", [{"type": "blackout", "start": "x", "end": E}], f"{P}: Invalid start date/time specified for blackout"),
    ("blackout bad end", [{"type": "blackout", "start": E, "end": 1.5}], f"{P}: Invalid end date/time specified for blackout"),
    ("blackout reversed", [{"type": "blackout", "start": E, "end": E - 60}], f"{P}: Invalid date range for blackout.  The start date cannot come after the end date."),
    ("delay missing", [{"type": "delay"}], f"{P}: Starting delay rule is missing duration."),
    ("delay string", [{"type": "delay", "duration": "30"}], f"{P}: Invalid starting delay duration: 30 (must be a positive number)"),
    ("precision missing", [{"type": "precision"}], f"{P}: Precision rule is missing seconds array."),
    ("precision empty", [{"type": "precision", "seconds": []}], f"{P}: Precision rule is missing seconds array."),
    ("precision not array", [{"type": "precision", "seconds": 5}], f"{P}: Malformed trigger parameter: seconds (must be array)"),
    ("precision fraction", [{"type": "precision", "seconds": [1.5]}], f"{P}: Malformed trigger parameter: seconds (must be array of integers)"),
    ("precision 60", [{"type": "precision", "seconds": [60]}], f"{P}: Malformed trigger parameter: seconds (out of range: 60)"),
    ("nth 1", [{"type": "nth", "every": 1}], f"{P}: Every Nth value is invalid (must be 2 or higher)."),
    ("nth missing", [{"type": "nth"}], f"{P}: Every Nth value is invalid (must be 2 or higher)."),
    ("nth string", [{"type": "nth", "every": "5"}], f"{P}: Every Nth value is invalid (must be 2 or higher)."),
    ("quiet no modes", [{"type": "quiet", "invisible": False}], f"{P}: Quiet rule must have one or more modes enabled."),
    ("keyboard no keys", [{"type": "keyboard"}], f"{P}: Keyboard trigger has no shortcuts."),
    ("keyboard empty keys", [{"type": "keyboard", "keys": []}], f"{P}: Keyboard trigger has no shortcuts."),
    ("keyboard bad key", [{"type": "keyboard", "keys": [5]}], f"{P}: Invalid keyboard shortcut: 5"),
    ("plugin missing", [{"type": "plugin", "plugin_id": "nope"}], f"{P}: Scheduler Plugin not found: nope"),
    ("plugin wrong type", [{"type": "plugin", "plugin_id": "shellplug"}], f"{P}: Scheduler Plugin not found: shellplug"),
    ("plugin id list", [{"type": "plugin", "plugin_id": ["schedplug"]}], f"{P}: Scheduler Plugin not found: schedplug"),
    ("plugin params missing", [{"type": "plugin", "plugin_id": "schedplug"}], "Scheduler Plugin: Parameter 'mode' is required."),
    ("plugin params not object", [{"type": "plugin", "plugin_id": "schedplug", "params": []}], f"{P}: Malformed trigger parameter: params (must be object)"),
    ("plugin bad timezone", [{"type": "plugin", "plugin_id": "schedplug", "params": {"mode": "x"}, "timezone": "Nope/Zone"}], f"{P}: Unknown timezone: Nope/Zone"),
    ("trigger params not object", [{"type": "schedule", "params": "x"}], f"{P}: Malformed trigger parameter: params (must be object)"),
    ("trigger params required", [{"type": "schedule", "params": {"size": 3}}], "Event: Parameter 'region' is required."),
    ("trigger params range", [{"type": "manual", "params": {"region": "us", "size": 11}}], "Event: Parameter 'size' value is invalid (range)."),
    ("magic key short", [{"type": "magic", "enabled": True, "key": "k" * 15}], f"{P}: Magic link key must be at least 16 characters of letters, digits, '_' and '-'."),
    ("magic key not url-safe", [{"type": "magic", "enabled": True, "key": "0123456789abcdef ghi"}], f"{P}: Magic link key must be at least 16 characters of letters, digits, '_' and '-'."),
    ("magic key not string", [{"type": "magic", "enabled": True, "key": 1234567890123456789}], f"{P}: Magic link key must be at least 16 characters of letters, digits, '_' and '-'."),
    ("two manual", [{"type": "manual", "enabled": True}, {"type": "manual", "enabled": True}], "Only one manual rule is allowed in trigger list."),
    ("manual enabled 1 and '1'", [{"type": "manual", "enabled": 1}, {"type": "manual", "enabled": "1"}], "Only one manual rule is allowed in trigger list."),
    ("two startup", [{"type": "startup", "enabled": True}] * 2, "Only one startup rule is allowed in trigger list."),
    ("two catchup", [{"type": "catchup", "enabled": True}] * 2, "Only one catch-up rule is allowed in trigger list."),
    ("two nth", [{"type": "nth", "enabled": True, "every": 2}] * 2, "Only one every-nth rule is allowed in trigger list."),
    ("two precision", [{"type": "precision", "enabled": True, "seconds": [1]}] * 2, "Only one precision rule is allowed in trigger list."),
    ("two quiet", [{"type": "quiet", "enabled": True, "invisible": True}] * 2, "Only one quiet rule is allowed in trigger list."),
    ("two plugin", [{"type": "plugin", "enabled": True, "plugin_id": "schedplug", "params": {"mode": "x"}}] * 2, "Only one plugin rule is allowed in trigger list."),
    ("interval + precision", [{"type": "interval", "enabled": True, "start": E, "duration": 9}, {"type": "precision", "enabled": True, "seconds": [1]}], "Interval and precision triggers are mutually exclusive."),
    ("interval + delay", [{"type": "interval", "enabled": True, "start": E, "duration": 9}, {"type": "delay", "enabled": True, "duration": 5}], "Interval and delay triggers are mutually exclusive."),
    ("precision + delay", [{"type": "precision", "enabled": True, "seconds": [1]}, {"type": "delay", "enabled": True, "duration": 5}], "Precision and delay triggers are mutually exclusive."),
    ("entry error beats composition", [{"type": "manual", "enabled": True}, {"type": "manual", "enabled": True}, {"type": "x"}], "Malformed trigger entry #3: Unknown type"),
]  # fmt: skip


@pytest.mark.parametrize(("triggers", "message"), [(t, m) for _, t, m in INVALID], ids=[n for n, _, _ in INVALID])
def test_invalid_triggers(triggers: Any, message: str) -> None:
    """Each trigger list here breaks one rule and is rejected with the quoted message."""
    assert api_message(lambda: _check(triggers)) == message


@pytest.mark.parametrize("fields", ["junk", 5, {"id": "region"}, [5, None, {"id": 3}, {"type": "text"}]])
def test_trigger_params_with_junk_fields_are_not_fatal(fields: Any) -> None:
    """Junk fields (not a list, or entries without a string id) constrain no trigger param: the list
    passes and is left unchanged, while the trigger's own checks still run."""
    triggers = [{"type": "schedule", "enabled": True, "params": {"a": 1}}]
    assert validate_triggers(triggers, fields=fields, lookup=world()) is None
    assert triggers == [{"type": "schedule", "enabled": True, "params": {"a": 1}}]
    bad = [{"type": "schedule", "params": "x"}]
    assert (
        api_message(lambda: _check(bad, fields=fields)) == f"{P}: Malformed trigger parameter: params (must be object)"
    )
    assert api_message(lambda: _check([{"type": "schedule", "minutes": [60]}], fields=fields)) == (
        "Malformed trigger parameter: minutes (out of range: 60)"
    )


def test_trigger_params_beside_junk_fields_are_still_checked() -> None:
    """A well-formed field next to junk entries is still enforced on trigger params."""
    fields = [5, {"id": 3}, {"id": "region", "type": "text", "required": True}]
    message = api_message(lambda: _check([{"type": "schedule", "params": {"a": 1}}], fields=fields))
    assert message == "Event: Parameter 'region' is required."
    _check([{"type": "schedule", "params": {"region": "eu"}}], fields=fields)


# --- save-time edits ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        ({"type": "single", "epoch": 2000000037}, {"type": "single", "epoch": 1999999980}),
        ({"type": "single", "epoch": 2000100037}, {"type": "single", "epoch": 2000100000}),
        (
            {"type": "range", "start": 2000000098, "end": 2000003729},
            {"type": "range", "start": 2000000040, "end": 2000003700},
        ),
        (
            {"type": "blackout", "start": 2000000159, "end": 2000007359},
            {"type": "blackout", "start": 2000000100, "end": 2000007300},
        ),
        ({"type": "single", "epoch": 2000000037.9}, {"type": "single", "epoch": 1999999980}),
        ({"type": "range", "start": "x", "end": True}, {"type": "range", "start": "x", "end": True}),
        ({"type": "interval", "start": 2000000037}, {"type": "interval", "start": 2000000037}),
        ({"type": "single", "epoch": float("inf")}, {"type": "single", "epoch": float("inf")}),
    ],
)
def test_normalize_trigger_epochs(trigger: dict[str, Any], expected: dict[str, Any]) -> None:
    """single.epoch, range and blackout start/end are floored to a whole minute; nothing else changes."""
    triggers = [trigger]
    normalize_trigger_epochs(triggers)
    assert triggers == [expected]


@pytest.mark.parametrize(
    "triggers",
    [
        None,
        "x",
        {"type": "single", "epoch": 2000000037},
        [5, None, "x", {"type": ["single"], "epoch": 2000000037}, {"epoch": 2000000037}, {"type": "manual"}],
    ],
)
def test_normalize_trigger_epochs_ignores_junk(triggers: Any) -> None:
    """Malformed trigger lists and entries are left exactly as they were, without raising."""
    before = copy.deepcopy(triggers)
    assert normalize_trigger_epochs(triggers) is None
    assert triggers == before


def test_normalize_trigger_epochs_beside_junk() -> None:
    """Junk entries do not stop the well-formed ones beside them from being floored."""
    triggers: list[Any] = [5, {"type": ["single"], "epoch": 2000000037}, {"type": "single", "epoch": 2000000037}]
    normalize_trigger_epochs(triggers)
    assert triggers == [5, {"type": ["single"], "epoch": 2000000037}, {"type": "single", "epoch": 1999999980}]


def test_hash_magic_keys() -> None:
    """A magic trigger's key becomes token = sha256_hex(key + event id) and the key is removed."""
    triggers: list[Any] = [
        {"type": "magic", "enabled": True, "key": "k1"},
        {"type": "magic", "enabled": True, "token": "kept"},
        {"type": "magic", "key": ""},
        {"type": "manual", "key": "k1"},
        "junk",
    ]
    hash_magic_keys(triggers, "ev1")
    assert triggers[0] == {"type": "magic", "enabled": True, "token": hashlib.sha256(b"k1ev1").hexdigest()}
    assert triggers[1] == {"type": "magic", "enabled": True, "token": "kept"}
    assert triggers[2] == {"type": "magic", "key": ""}
    assert triggers[3] == {"type": "manual", "key": "k1"}


def test_hash_magic_keys_lone_surrogate() -> None:
    """A key with a lone surrogate is hashed (as Node would, via U+FFFD) instead of raising."""
    triggers = [{"type": "magic", "key": "a\ud800"}]
    hash_magic_keys(triggers, "ev1")
    assert triggers[0]["token"] == hashlib.sha256("a\ufffdev1".encode()).hexdigest()


def test_apply_field_defaults() -> None:
    """Launching triggers get field defaults for missing keys; hidden fields always; json deep-copied."""
    fields = [
        {"id": "region", "type": "text", "value": "us"},
        {"id": "secret", "type": "hidden", "value": "h"},
        {"id": "cfg", "type": "json", "value": {"a": [1]}},
        {"id": "empty_json", "type": "json", "value": ""},
        {"id": "novalue", "type": "text"},
        "junk",
    ]
    triggers: list[Any] = [
        {"type": "schedule", "params": {"region": "eu", "secret": "mine"}},
        {"type": "startup"},
        {"type": "manual"},
        {"type": "single", "params": None},
        {"type": "keyboard", "params": "bad"},
    ]
    apply_field_defaults(triggers, fields)
    assert triggers[0]["params"] == {"region": "eu", "secret": "h", "cfg": {"a": [1]}, "empty_json": {}}
    assert triggers[1]["params"] == {"region": "us", "secret": "h", "cfg": {"a": [1]}, "empty_json": {}}
    assert "params" not in triggers[2]
    assert triggers[3]["params"]["region"] == "us"
    assert triggers[4]["params"] == "bad"
    triggers[0]["params"]["cfg"]["a"].append(2)
    assert fields[2]["value"] == {"a": [1]}


@pytest.mark.parametrize(
    ("triggers", "fields"),
    [
        (None, FIELDS),
        ("x", FIELDS),
        ({"type": "schedule"}, FIELDS),
        ([{"type": "schedule"}], None),
        ([{"type": "schedule"}], {"id": "region", "value": "us"}),
        ("x", "y"),
    ],
)
def test_apply_field_defaults_ignores_junk(triggers: Any, fields: Any) -> None:
    """Non-list triggers or fields are left exactly as they were (no ``params`` is even created), without raising."""
    triggers_before, fields_before = copy.deepcopy(triggers), copy.deepcopy(fields)
    assert apply_field_defaults(triggers, fields) is None
    assert (triggers, fields) == (triggers_before, fields_before)


@pytest.mark.parametrize(
    "key", ["<img src=x onerror=1>", "__proto__+", "+++", "Control+Alt+", 'Control+Alt+KeyM"><b>', "ctrl a"]
)
def test_keyboard_shortcuts_must_be_key_names(key: str) -> None:
    message = api_message(lambda: _check([{"type": "keyboard", "enabled": True, "keys": [key]}]))
    assert "Invalid keyboard shortcut" in message
