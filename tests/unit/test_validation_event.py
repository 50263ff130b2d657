"""Whole-event validation (events.md §5) and the pure-validation conformance cases of sections C, D, F."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest

from cronwright.engine.validation import (
    ID_RE,
    apply_field_defaults,
    hash_magic_keys,
    normalize_trigger_epochs,
    require_params,
    validate_create_request,
    validate_event_data,
    validate_param_values,
)
from tests.unit._validation_data import DELETE, api_message, event_with, valid_event, world

WORLD = world()
MANUAL = {"type": "manual", "enabled": True}


def _validate(event: Any) -> None:
    validate_event_data(event, WORLD)


def _create(event: Any) -> None:
    """The pure part of create_event: request checks, field defaults, then requireValidEventData."""
    validate_create_request(event)
    apply_field_defaults(event.get("triggers"), event.get("fields"))
    validate_event_data(event, WORLD)


# --- accepted events ----------------------------------------------------------------------------

VALID = [
    ("baseline", {}),
    ("C43 targets are not checked for existence", {"targets": ["no_such_group"]}),
    ("C44 known tag", {"tags": ["important"]}),
    ("C47 non-reserved override param", {"params": {"script": "x", "_xy_override_label": "hi"}}),
    ("C55 web hook action on a tag condition",
     {"actions": [{"enabled": True, "condition": "tag:important", "type": "web_hook", "web_hook": "example_hook"}]}),
    ("C58 days -7", {"triggers": [{"type": "schedule", "enabled": True, "days": [-7]}]}),
    ("C60 one enabled and one disabled manual", {"triggers": [MANUAL, {"type": "manual", "enabled": False}]}),
    ("C62 two enabled ranges", {"triggers": [{"type": "range", "enabled": True, "start": 1}, {"type": "range", "enabled": True, "end": 9}]}),
    ("C66 nth every 2", {"triggers": [{"type": "nth", "enabled": True, "every": 2}]}),
    ("enabled as number", {"enabled": 0}),
    ("algo monitor", {"algo": "monitor:m1"}),
    ("workflow without targets", {"type": "workflow", "targets": [], "plugin": "_workflow"}),
    ("workflow with targets key absent", {"type": "workflow", "targets": DELETE, "plugin": "_workflow"}),
    ("underscore plugin need not exist", {"plugin": "_custom"}),
    ("falsy arrays count as omitted", {"tags": None, "triggers": False, "limits": 0, "actions": "", "fields": None}),
    ("expression string", {"expression": "server.cpu < 50"}),
    ("empty expression", {"expression": ""}),
    ("params absent", {"plugin": "numplug", "params": DELETE}),
    ("numplug values", {"plugin": "numplug", "params": {"count": 100, "code": "ABC"}}),
    ("field with unlocked plugin param id", {"fields": [{"id": "annotate", "type": "checkbox"}]}),
    ("trigger params satisfy fields",
     {"fields": [{"id": "region", "type": "text", "required": True}],
      "triggers": [{"type": "schedule", "enabled": True, "params": {"region": "us"}}]}),
    ("extra keys are kept", {"priority": True, "custom": {"a": [1]}}),
]  # fmt: skip


@pytest.mark.parametrize(("changes",), [(c,) for _, c in VALID], ids=[n for n, _ in VALID])
def test_valid_events(changes: dict[str, Any]) -> None:
    """Each event here passes requireValidEventData."""
    _validate(event_with(**changes))


# --- rejected events (one rule each) ------------------------------------------------------------

INVALID = [
    ("C38 enabled string", {"enabled": "true"}, "Malformed parameter type: enabled (string)"),
    ("enabled fraction", {"enabled": 1.5}, "Malformed parameter value: enabled"),
    ("enabled null", {"enabled": None}, "Malformed parameter type: enabled (object)"),
    ("algo chars", {"algo": "a b"}, "Malformed parameter value: algo"),
    ("algo number", {"algo": 5}, "Malformed parameter type: algo (number)"),
    ("category number", {"category": 5}, "Malformed parameter type: category (number)"),
    ("id chars", {"id": "a-b"}, "Malformed parameter value: id"),
    ("notes number", {"notes": 5}, "Malformed parameter type: notes (number)"),
    ("plugin chars", {"plugin": "a.b"}, "Malformed parameter value: plugin"),
    ("C35 blank title", {"title": "  "}, "Malformed parameter value: title"),
    ("title list", {"title": ["x"]}, "Malformed parameter type: title (object)"),
    ("C45 params string", {"params": "x"}, "Malformed event parameter: params (must be object)"),
    ("params list", {"params": []}, "Malformed event parameter: params (must be object)"),
    ("params null", {"params": None}, "Malformed event parameter: params (must be object)"),
    ("C46 reserved override param", {"params": {"script": "x", "_xy_override_uid": "0"}},
     "Event params: Invalid parameter ID: _xy_override_uid (reserved)"),
    ("C39 unknown category", {"category": "nope"}, "Category not found: nope"),
    ("C40 unknown plugin", {"plugin": "nope"}, "Plugin not found: nope"),
    ("C41 shell script missing", {"params": {}}, "Event Plugin: Parameter 'script' is required."),
    ("shell script empty", {"params": {"script": ""}}, "Event Plugin: Parameter 'script' is required."),
    ("plugin range", {"plugin": "numplug", "params": {"count": 500}}, "Event Plugin: Parameter 'count' value is invalid (range)."),
    ("plugin regex", {"plugin": "numplug", "params": {"code": "abcd"}}, "Event Plugin: Parameter 'code' value is invalid."),
    ("C33 targets empty", {"targets": []}, "Event has no targets specified."),
    ("targets missing", {"targets": DELETE}, "Event has no targets specified."),
    ("targets string", {"targets": "main"}, "Malformed event parameter: targets (must be array)"),
    ("C42 target number", {"targets": ["main", 5]}, "Malformed target: 5"),
    ("target null", {"targets": [None]}, "Malformed target: null"),
    ("workflow target number", {"type": "workflow", "plugin": "_workflow", "targets": [1]}, "Malformed target: 1"),
    ("expression number", {"expression": 5}, "Malformed event parameter: expression (must be string)"),
    ("tags string", {"tags": "important"}, "Malformed event parameter: tags (must be array)"),
    ("tags object", {"tags": {}}, "Malformed event parameter: tags (must be array)"),
    ("tag chars", {"tags": ["a b"]}, "Malformed tag: a b"),
    ("tag number", {"tags": [5]}, "Malformed tag: 5"),
    ("C44 unknown tag", {"tags": ["important", "nope"]}, "Unknown tag: nope"),
    ("triggers object", {"triggers": {}}, "Malformed event parameter: triggers (must be array)"),
    ("C57 unknown trigger type", {"triggers": [{"type": "bogus", "enabled": True}]}, "Malformed trigger entry #1: Unknown type"),
    ("C58 minutes 60", {"triggers": [{"type": "schedule", "minutes": [60]}]}, "Malformed trigger parameter: minutes (out of range: 60)"),
    ("C58 hours string", {"triggers": [{"type": "schedule", "hours": "2"}]}, "Malformed trigger parameter: hours (must be array)"),
    ("C58 days 0", {"triggers": [{"type": "schedule", "days": [0]}]}, "Malformed trigger parameter: days (out of range: 0)"),
    ("C58 days -8", {"triggers": [{"type": "schedule", "days": [-8]}]}, "Malformed trigger parameter: days (out of range: -8)"),
    ("C59 unknown timezone", {"triggers": [{"type": "schedule", "timezone": "Mars/Base"}]},
     "Malformed trigger entry #1: Unknown timezone: Mars/Base"),
    ("C60 two enabled manual", {"triggers": [MANUAL, MANUAL]}, "Only one manual rule is allowed in trigger list."),
    ("C61 interval + precision", {"triggers": [{"type": "interval", "enabled": True, "start": 1, "duration": 60},
                                               {"type": "precision", "enabled": True, "seconds": [0]}]},
     "Interval and precision triggers are mutually exclusive."),
    ("C61 interval + delay", {"triggers": [{"type": "interval", "enabled": True, "start": 1, "duration": 60},
                                           {"type": "delay", "enabled": True, "duration": 5}]},
     "Interval and delay triggers are mutually exclusive."),
    ("C61 precision + delay", {"triggers": [{"type": "precision", "enabled": True, "seconds": [0]},
                                            {"type": "delay", "enabled": True, "duration": 5}]},
     "Precision and delay triggers are mutually exclusive."),
    ("C64 range reversed", {"triggers": [{"type": "range", "start": 2000000060, "end": 2000000000}]},
     "Malformed trigger entry #1: Invalid date range.  The start date cannot come after the end date."),
    ("C64 blackout without end", {"triggers": [{"type": "blackout", "start": 2000000000}]},
     "Malformed trigger entry #1: Both a start and an end date are required for blackout."),
    ("C65 single epoch string", {"triggers": [{"type": "single", "epoch": "2000000000"}]},
     "Malformed trigger entry #1: Invalid date/time specified for single shot"),
    ("C65 single epoch negative", {"triggers": [{"type": "single", "epoch": -5}]},
     "Malformed trigger entry #1: Invalid date/time specified for single shot"),
    ("C66 nth every 1", {"triggers": [{"type": "nth", "every": 1}]}, "Malformed trigger entry #1: Every Nth value is invalid (must be 2 or higher)."),
    ("C67 quiet without modes", {"triggers": [{"type": "quiet", "enabled": True}]},
     "Malformed trigger entry #1: Quiet rule must have one or more modes enabled."),
    ("trigger params vs fields", {"fields": [{"id": "region", "type": "text", "required": True}],
                                  "triggers": [{"type": "manual", "enabled": True, "params": {}}]},
     "Event: Parameter 'region' is required."),
    ("C49 time limit string", {"limits": [{"enabled": True, "type": "time", "duration": "nope"}]},
     "Malformed limit entry #1: Invalid time timit (not a number)"),
    ("C50 limit without enabled", {"limits": [{"type": "time", "duration": 60}]}, "Malformed limit entry #1: Missing enabled flag"),
    ("C51 unknown limit type", {"limits": [{"enabled": True, "type": "bogus"}]}, "Malformed limit entry #1: Unknown type"),
    ("C52 queue without job", {"limits": [{"enabled": True, "type": "queue", "amount": 5}]},
     "Limit Configuration: The 'Max Queue Limit' requires a 'Max Concurrent Jobs' limit to be present."),
    ("D84 file amount string", {"limits": [{"enabled": True, "type": "file", "amount": "nope"}]},
     "Malformed limit entry #1: Invalid max files (not a number)"),
    ("C53 email without recipients", {"actions": [{"enabled": True, "condition": "error", "type": "email"}]},
     "Malformed action entry #1: No email addresses provided."),
    ("C54 invalid condition", {"actions": [{"enabled": True, "condition": "nope", "type": "email", "users": ["admin"]}]},
     "Malformed action entry #1: Invalid condition"),
    ("C56 run_event unknown event", {"actions": [{"enabled": True, "condition": "success", "type": "run_event", "event_id": "nope"}]},
     "Malformed action entry #1: Event not found: nope"),
    ("fields object", {"fields": {"id": "x"}}, "Malformed event parameter: fields (must be array)"),
    ("field reuses locked plugin param", {"fields": [{"id": "script", "type": "text"}]},
     "Malformed user field 'script': ID is already in use (as locked plugin parameter)."),
    ("field bad type", {"fields": [{"id": "f", "type": "slider"}]}, "Malformed user field 'f': Invalid type"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "message"), [(c, m) for _, c, m in INVALID], ids=[n for n, _, _ in INVALID])
def test_invalid_events(changes: dict[str, Any], message: str) -> None:
    """Each event here breaks exactly one rule and gets that rule's message."""
    assert api_message(lambda: _validate(event_with(**changes))) == message


def test_non_object_event() -> None:
    """A payload that is not an object is rejected, not crashed on."""
    assert api_message(lambda: _validate(["x"])) == "Malformed event data (must be object)"


def test_steps_run_in_spec_order() -> None:
    """With a failure planted in every step, fixing them one by one reveals them in events.md §5 order."""
    event = event_with(
        enabled="true", params="x", category="nope", plugin="nope", targets=["main", 5], expression=5,
        tags=["nope"], triggers=[{"type": "bogus"}], limits=[{"enabled": True, "type": "bogus"}],
        actions=[{"enabled": True, "condition": "nope", "type": "disable"}], fields=[{"id": "script", "type": "text"}],
    )  # fmt: skip
    steps: list[tuple[dict[str, Any], str | None]] = [
        ({}, "Malformed parameter type: enabled (string)"),
        ({"enabled": True}, "Malformed event parameter: params (must be object)"),
        ({"params": {"_xy_override_uid": "0"}}, "Event params: Invalid parameter ID: _xy_override_uid (reserved)"),
        ({"params": {}}, "Category not found: nope"),
        ({"category": "general"}, "Plugin not found: nope"),
        ({"plugin": "shellplug"}, "Event Plugin: Parameter 'script' is required."),
        ({"params": {"script": "x"}}, "Malformed target: 5"),
        ({"targets": ["main"]}, "Malformed event parameter: expression (must be string)"),
        ({"expression": "true"}, "Unknown tag: nope"),
        ({"tags": ["flag"]}, "Malformed trigger entry #1: Unknown type"),
        ({"triggers": [MANUAL, MANUAL]}, "Only one manual rule is allowed in trigger list."),
        ({"triggers": [MANUAL]}, "Malformed limit entry #1: Unknown type"),
        ({"limits": []}, "Malformed action entry #1: Invalid condition"),
        ({"actions": []}, "Malformed user field 'script': ID is already in use (as locked plugin parameter)."),
        ({"fields": []}, None),
    ]
    for changes, message in steps:
        event.update(changes)
        if message is None:
            _validate(event)
        else:
            assert api_message(lambda: _validate(event)) == message


# --- create_event request checks (events.md §3.4 steps 1–2) -------------------------------------

CREATE_INVALID = [
    ("A13 malformed id", {"id": "Bad-ID"}, "Malformed parameter: id"),
    ("A14 reserved id", {"id": "constructor"}, "Invalid ID parameter: constructor (reserved word)"),
    ("A15 __proto__ key", {"__proto__": {"x": 1}}, "Invalid parameter: __proto__ (illegal key)"),
    ("C32 no plugin", {"plugin": DELETE}, "Event has no plugin specified."),
    ("C33 no targets", {"targets": DELETE}, "Event has no targets specified."),
    ("C33 empty targets", {"targets": []}, "Event has no targets specified."),
    ("C34 no algo", {"algo": DELETE}, "Event has no algo specified."),
    ("C35 no title", {"title": DELETE}, "Missing parameter: title"),
    ("C35 blank title", {"title": "  "}, "Malformed parameter: title"),
    ("C36 html title", {"title": "<b>x</b>"}, "Malformed title parameter: Cannot contain HTML metacharacters"),
    ("C37 no enabled", {"enabled": DELETE}, "Missing parameter: enabled"),
    ("C37 enabled yes", {"enabled": "yes"}, "Malformed parameter: enabled"),
    ("C38 enabled string true", {"enabled": "true"}, "Malformed parameter type: enabled (string)"),
    ("no category", {"category": DELETE}, "Missing parameter: category"),
    ("C39 unknown category", {"category": "nope"}, "Category not found: nope"),
    ("C40 unknown plugin", {"plugin": "nope"}, "Plugin not found: nope"),
    ("C41 missing script", {"params": {}}, "Event Plugin: Parameter 'script' is required."),
    ("bad icon", {"icon": "a b"}, "Malformed icon parameter: Contains illegal characters"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "message"), [(c, m) for _, c, m in CREATE_INVALID], ids=[n for n, _, _ in CREATE_INVALID]
)
def test_create_rejections(changes: dict[str, Any], message: str) -> None:
    """create_event's pure checks reject these payloads with the quoted message."""
    assert api_message(lambda: _create(event_with(**changes))) == message


def test_create_workflow_needs_no_targets_algo_or_plugin() -> None:
    """A workflow create request skips the targets/algo/plugin presence checks."""
    _create(event_with(type="workflow", targets=DELETE, algo=DELETE, plugin="_workflow"))


def test_create_pipeline_normalizes_and_hashes() -> None:
    """C63/C68: after validation, epochs are floored to the minute and magic keys become tokens."""
    event = event_with(
        id="ev1",
        triggers=[
            {"type": "single", "enabled": True, "epoch": 2000000037},
            {"type": "range", "enabled": True, "start": 2000000098, "end": 2000003729},
            {"type": "blackout", "enabled": True, "start": 2000000159, "end": 2000007359},
            {"type": "magic", "enabled": True, "key": "k1-0123456789abcdef"},
        ],
    )
    _create(event)
    normalize_trigger_epochs(event["triggers"])
    hash_magic_keys(event["triggers"], event["id"])
    single, rng, blackout, magic = event["triggers"]
    assert single["epoch"] == 1999999980
    assert (rng["start"], rng["end"]) == (2000000040, 2000003700)
    assert (blackout["start"], blackout["end"]) == (2000000100, 2000007300)
    assert magic == {"type": "magic", "enabled": True, "token": hashlib.sha256(b"k1-0123456789abcdefev1").hexdigest()}


def test_create_applies_field_defaults_before_validation() -> None:
    """A required field with a default satisfies schedule trigger params through field defaults."""
    event = event_with(
        fields=[{"id": "region", "type": "text", "required": True, "value": "us"}],
        triggers=[{"type": "schedule", "enabled": True, "minutes": [0]}],
    )
    _create(event)
    assert event["triggers"][0]["params"] == {"region": "us"}


# --- update / run shapes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({"id": "ev1", "title": "T2"}, None),
        ({"id": "ev1", "params": {"script": "S2"}}, None),
        ({"id": "ev1", "params": {"annotate": True}}, "Event Plugin: Parameter 'script' is required."),
        ({"id": "ev1", "limits": [{"enabled": True, "type": "file", "amount": "nope"}]},
         "Malformed limit entry #1: Invalid max files (not a number)"),
        ({"id": "ev1", "actions": [{"enabled": True, "condition": "bad", "type": "disable"}]}, "Malformed action entry #1: Invalid condition"),
    ],
)  # fmt: skip
def test_update_validates_the_shallow_merge(request_body: dict[str, Any], message: str | None) -> None:
    """D78/D79/D84: update validates merge(event, request), so a partial params object loses the script."""
    merged = {**valid_event(), **request_body}
    if message is None:
        _validate(merged)
    else:
        assert api_message(lambda: _validate(merged)) == message


def test_update_requires_id() -> None:
    """D76: update_event without an id fails requireParams."""
    assert api_message(lambda: require_params({"title": "x"}, {"id": ID_RE})) == "Missing parameter: id"


def test_run_with_unknown_tag() -> None:
    """F103: a run request overriding tags with an unknown tag is rejected."""
    assert api_message(lambda: _validate({**valid_event(), "tags": ["nope"]})) == "Unknown tag: nope"


def test_run_field_values() -> None:
    """F109: a run's params are checked against the event fields with the "Event" prefix."""
    fields = [{"id": "region", "type": "text", "required": True, "value": ""}]
    assert api_message(lambda: validate_param_values(fields, {}, "Event")) == "Event: Parameter 'region' is required."
    validate_param_values(fields, {"region": "us"}, "Event")


def test_validation_does_not_mutate() -> None:
    """validate_event_data only reads its input."""
    event = event_with(
        fields=[{"id": "f", "type": "json", "value": {}}], triggers=[{"type": "schedule", "enabled": True}]
    )
    before = copy.deepcopy(event)
    _validate(event)
    assert event == before
