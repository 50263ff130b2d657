"""Tables for limits (limits-actions.md §2.1), actions (§3.1) and user fields (events.md §7)."""

from __future__ import annotations

from typing import Any

import pytest

from cronwright.engine.validation import validate_actions, validate_fields, validate_limits
from tests.unit._validation_data import api_message, world

# --- limits -------------------------------------------------------------------------------------

VALID_LIMITS = [
    ("omitted", None),
    ("empty", []),
    ("time", [{"type": "time", "enabled": True, "duration": 60}]),
    ("time with sub-actions", [{"type": "time", "enabled": True, "duration": 60, "tags": ["flag"], "users": ["admin"],
                                "email": "a@b.c", "web_hook": "example_hook", "text": "T", "abort": "yes", "snapshot": True}]),
    ("time with blank sub-actions", [{"type": "time", "enabled": True, "duration": 1, "web_hook": "", "email": "", "users": []}]),
    ("job", [{"type": "job", "enabled": True, "amount": 1, "weight": "anything"}]),
    ("queue with job", [{"type": "queue", "enabled": True, "amount": 5}, {"type": "job", "enabled": True, "amount": 1}]),
    ("queue zero without job", [{"type": "queue", "enabled": True, "amount": 0}]),
    ("queue disabled without job", [{"type": "queue", "enabled": False, "amount": 5}]),
    ("retry", [{"type": "retry", "enabled": True, "amount": 2, "duration": 30}]),
    ("retry empty", [{"type": "retry", "enabled": True}]),
    ("log", [{"type": "log", "enabled": True, "amount": 1024}]),
    ("mem", [{"type": "mem", "enabled": True, "amount": 1e9, "duration": 10}]),
    ("cpu", [{"type": "cpu", "enabled": True, "amount": 150}]),
    ("file", [{"type": "file", "enabled": True, "amount": 1, "size": 1024, "accept": ".csv, .json"}]),
    ("day", [{"type": "day", "enabled": True, "condition": "complete", "amount": 1}]),
    ("tag", [{"type": "tag", "enabled": True, "amount": 1}]),
    ("enabled key with any value", [{"type": "tag", "enabled": None}]),
]  # fmt: skip


@pytest.mark.parametrize(("limits",), [(v,) for _, v in VALID_LIMITS], ids=[n for n, _ in VALID_LIMITS])
def test_valid_limits(limits: Any) -> None:
    """Each limit list here satisfies requireValidLimits."""
    validate_limits(limits)


L = "Malformed limit entry #1"
INVALID_LIMITS = [
    ("not an array", {"type": "time"}, "Malformed event parameter: limits (must be array)"),
    ("entry not object", ["x"], f"{L} (not an object)"),
    ("missing enabled", [{"type": "time", "duration": 60}], f"{L}: Missing enabled flag"),
    ("unknown type", [{"enabled": True, "type": "bogus"}], f"{L}: Unknown type"),
    ("type not string", [{"enabled": True, "type": None}], f"{L}: Unknown type"),
    ("time string", [{"enabled": True, "type": "time", "duration": "nope"}], f"{L}: Invalid time timit (not a number)"),
    ("time zero", [{"enabled": True, "type": "time", "duration": 0}], f"{L}: Invalid time timit (not a number)"),
    ("time bool", [{"enabled": True, "type": "time", "duration": True}], f"{L}: Invalid time timit (not a number)"),
    ("job missing", [{"enabled": True, "type": "job"}], f"{L}: Invalid max jobs (must be a positive number)"),
    ("queue string", [{"enabled": True, "type": "queue", "amount": "5"}], f"{L}: Invalid max queue (not a number)"),
    ("retry amount", [{"enabled": True, "type": "retry", "amount": "2"}], f"{L}: Invalid max retries (not a number)"),
    ("retry delay", [{"enabled": True, "type": "retry", "duration": [1]}], f"{L}: Invalid retry delay (not a number)"),
    ("log missing", [{"enabled": True, "type": "log"}], f"{L}: Invalid max log size (not a number)"),
    ("mem amount", [{"enabled": True, "type": "mem", "amount": "1G"}], f"{L}: Invalid memory amount (not a number)"),
    ("mem duration", [{"enabled": True, "type": "mem", "amount": 1, "duration": "5"}], f"{L}: Invalid memory duration (not a number)"),
    ("cpu amount", [{"enabled": True, "type": "cpu"}], f"{L}: Invalid CPU amount (not a number)"),
    ("cpu duration", [{"enabled": True, "type": "cpu", "amount": 1, "duration": {}}], f"{L}: Invalid CPU duration (not a number)"),
    ("file amount", [{"enabled": True, "type": "file", "amount": "nope"}], f"{L}: Invalid max files (not a number)"),
    ("file size", [{"enabled": True, "type": "file", "size": "1K"}], f"{L}: Invalid max file size (not a number)"),
    ("file accept type", [{"enabled": True, "type": "file", "accept": [".csv"]}], f"{L}: Invalid file type list (not a string)"),
    ("file accept chars", [{"enabled": True, "type": "file", "accept": "*.csv"}], f"{L}: Invalid file type list (contains illegal characters)"),
    ("day condition", [{"enabled": True, "type": "day", "condition": "nope"}], f"{L}: Invalid condition (unknown)"),
    ("day condition list", [{"enabled": True, "type": "day", "condition": ["start"]}], f"{L}: Invalid condition (unknown)"),
    ("day amount", [{"enabled": True, "type": "day", "condition": "start", "amount": "1"}], f"{L}: Invalid max condition count (not a number)"),
    ("tag amount", [{"enabled": True, "type": "tag", "amount": "1"}], f"{L}: Invalid max tags (not a number)"),
    ("sub tags", [{"enabled": True, "type": "time", "duration": 1, "tags": "flag"}], f"{L}: Invalid tag list (must be an array of strings)."),
    ("sub tags ints", [{"enabled": True, "type": "log", "amount": 1, "tags": [1]}], f"{L}: Invalid tag list (must be an array of strings)."),
    ("sub users", [{"enabled": True, "type": "mem", "amount": 1, "users": "admin"}], f"{L}: Invalid user list."),
    ("sub email", [{"enabled": True, "type": "cpu", "amount": 1, "email": ["a@b"]}], f"{L}: Invalid email address."),
    ("sub web_hook", [{"enabled": True, "type": "time", "duration": 1, "web_hook": "bad hook"}], f"{L}: Invalid Web Hook ID."),
    ("sub text", [{"enabled": True, "type": "time", "duration": 1, "text": 5}], f"{L}: Invalid web hook text (must be a string)."),
    ("second entry", [{"enabled": True, "type": "tag"}, {"enabled": True}], "Malformed limit entry #2: Unknown type"),
    # CRONWRIGHT DECISION: stricter than xyOps (docs/compatibility.md)
    ("time negative", [{"enabled": True, "type": "time", "duration": -3}], f"{L}: Invalid duration (must be greater than 0)"),
    ("job fraction", [{"enabled": True, "type": "job", "amount": 1.5}], f"{L}: Invalid amount (must be a whole number)"),
    ("job huge", [{"enabled": True, "type": "job", "amount": 1e23}], f"{L}: Invalid amount (too large)"),
    ("mem negative", [{"enabled": True, "type": "mem", "amount": -1}], f"{L}: Invalid amount (must be greater than 0)"),
    ("queue needs job", [{"enabled": True, "type": "queue", "amount": 5}],
     "Limit Configuration: The 'Max Queue Limit' requires a 'Max Concurrent Jobs' limit to be present."),
    ("queue needs enabled job", [{"enabled": 1, "type": "queue", "amount": 5}, {"enabled": False, "type": "job", "amount": 1}],
     "Limit Configuration: The 'Max Queue Limit' requires a 'Max Concurrent Jobs' limit to be present."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("limits", "message"), [(v, m) for _, v, m in INVALID_LIMITS], ids=[n for n, _, _ in INVALID_LIMITS]
)
def test_invalid_limits(limits: Any, message: str) -> None:
    """Each limit list here breaks one rule and is rejected with the quoted message."""
    assert api_message(lambda: validate_limits(limits)) == message


# --- actions ------------------------------------------------------------------------------------


def _action(kind: str, condition: str = "error", **extra: Any) -> dict[str, Any]:
    return {"enabled": True, "condition": condition, "type": kind, **extra}


VALID_ACTIONS = [
    ("omitted", None),
    ("email users", [_action("email", users=["admin"])]),
    ("email address only", [_action("email", email="a@example.com")]),
    ("email both", [_action("email", "success", users=[], email="a@example.com")]),
    ("web hook on tag", [_action("web_hook", "tag:important", web_hook="example_hook")]),
    ("web hook unknown id", [_action("web_hook", web_hook="not_yet_created", text="T")]),
    ("run_event", [_action("run_event", event_id="target_ev", params={"region": "us"}, start_delay=5)]),
    ("run_event stored value", [_action("run_event", event_id="stored_ev", params={})]),
    ("run_event no params", [_action("run_event", event_id="target_ev")]),
    ("disable", [_action("disable", "start")]),
    ("delete", [_action("delete", "success")]),
    ("tag", [_action("tag", "complete", tags=["flag"])]),
    ("label", [_action("label", "warning", label="Nightly {{job.id}}")]),
    ("plugin", [_action("plugin", "critical", plugin_id="actplug", params={"target": "x"})]),
    ("channel", [_action("channel", "user", channel_id="sev1")]),
    ("snapshot", [_action("snapshot", "abort")]),
    ("suspend", [_action("suspend", "alert_new", users=["x"])]),
    ("store", [_action("store", "success", bucket_id="b1", bucket_sync="data_and_files", bucket_glob="*.csv")]),
    ("fetch", [_action("fetch", "start", bucket_id="b1", bucket_sync="files")]),
    (
        "ticket",
        [_action("ticket", "alert_cleared", ticket_type="issue", ticket_assignees=[], ticket_tags=[], ticket_due=1)],
    ),
]


@pytest.mark.parametrize(("actions",), [(v,) for _, v in VALID_ACTIONS], ids=[n for n, _ in VALID_ACTIONS])
def test_valid_actions(actions: Any) -> None:
    """Each action list here satisfies requireValidActions (with the email CRONWRIGHT DECISION)."""
    validate_actions(actions, lookup=world())


A = "Malformed action entry #1"
INVALID_ACTIONS = [
    ("not an array", "x", "Malformed event parameter: actions (must be array)"),
    ("entry not object", [[]], f"{A} (not an object)"),
    ("missing enabled", [{"condition": "error", "type": "email", "users": ["a"]}], f"{A}: Missing enabled flag"),
    ("bad condition", [_action("email", "nope", users=["admin"])], f"{A}: Invalid condition"),
    ("instant condition", [_action("disable", "instant")], f"{A}: Invalid condition"),
    ("continue condition", [_action("disable", "continue")], f"{A}: Invalid condition"),
    ("missing condition", [{"enabled": True, "type": "disable"}], f"{A}: Invalid condition"),
    ("condition list", [_action("disable", ["error"])], f"{A}: Invalid condition"),  # type: ignore[arg-type]
    ("bad tag condition", [_action("disable", "tag:")], f"{A}: Invalid condition"),
    ("unknown type", [_action("bogus")], f"{A}: Unknown type"),
    ("email nobody", [_action("email")], f"{A}: No email addresses provided."),
    ("email empty", [_action("email", users=[], email="")], f"{A}: No email addresses provided."),
    ("email users not list", [_action("email", users="admin")], f"{A}: Invalid user list."),
    ("email users ints", [_action("email", users=[1])], f"{A}: Invalid user list."),
    ("email not string", [_action("email", email=5)], f"{A}: Invalid email address."),
    ("web hook missing", [_action("web_hook")], f"{A}: Invalid Web Hook ID."),
    ("web hook none", [_action("web_hook", web_hook=None)], f"{A}: Invalid Web Hook ID."),
    ("web hook number", [_action("web_hook", web_hook=5)], f"{A}: Invalid Web Hook ID."),
    ("web hook chars", [_action("web_hook", web_hook="a-b")], f"{A}: Invalid Web Hook ID."),
    ("run_event bad id", [_action("run_event", event_id="a b")], f"{A}: Invalid Event ID."),
    ("run_event unknown", [_action("run_event", event_id="nope")], f"{A}: Event not found: nope"),
    ("run_event params type", [_action("run_event", event_id="target_ev", params=[])], f"{A}: Malformed action parameter: params (must be object)"),
    ("run_event reserved", [_action("run_event", event_id="target_ev", params={"region": "x", "_xy_override_uid": "0"})],
     f"{A}: Invalid parameter ID: _xy_override_uid (reserved)"),
    ("run_event required field", [_action("run_event", event_id="target_ev", params={})], f"{A}: Event: Parameter 'region' is required."),
    ("run_event start_delay", [_action("run_event", event_id="target_ev", start_delay="5")], f"{A}: Invalid start delay (must be a number of seconds)."),
    ("tag not list", [_action("tag", tags="flag")], f"{A}: Invalid tag list."),
    ("tag empty", [_action("tag", tags=[])], f"{A}: No tags selected."),
    ("tag ints", [_action("tag", tags=[1])], f"{A}: Invalid tag list."),
    ("label missing", [_action("label")], f"{A}: Invalid label (must be a string)."),
    ("label html", [_action("label", label="<b>x</b>")], f"{A}: Label contains illegal characters."),
    ("label blank", [_action("label", label="  ")], f"{A}: Label is empty."),
    ("plugin bad id", [_action("plugin", plugin_id="")], f"{A}: Invalid Plugin ID."),
    ("plugin unknown", [_action("plugin", plugin_id="nope")], f"{A}: Action Plugin not found: nope"),
    ("plugin wrong type", [_action("plugin", plugin_id="shellplug")], f"{A}: Action Plugin not found: shellplug"),
    ("plugin params missing", [_action("plugin", plugin_id="actplug")], f"{A}: Action Plugin: Parameter 'target' is required."),
    ("plugin params type", [_action("plugin", plugin_id="actplug", params="x")], f"{A}: Malformed action parameter: params (must be object)"),
    ("channel", [_action("channel", channel_id=None)], f"{A}: Invalid Channel ID."),
    ("bucket id", [_action("store", bucket_sync="data")], f"{A}: Invalid Bucket ID."),
    ("bucket sync", [_action("fetch", bucket_id="b", bucket_sync="all")], f"{A}: Invalid Bucket sync type."),
    ("bucket glob", [_action("fetch", bucket_id="b", bucket_sync="data", bucket_glob=1)], f"{A}: Invalid Bucket glob (must be a string)."),
    ("ticket type", [_action("ticket", ticket_type="a b")], f"{A}: Invalid Ticket type."),
    ("ticket assignees", [_action("ticket", ticket_type="t", ticket_tags=[])], f"{A}: Invalid Ticket assignees."),
    ("ticket tags", [_action("ticket", ticket_type="t", ticket_assignees=[])], f"{A}: Invalid Ticket tag list."),
    ("ticket due", [_action("ticket", ticket_type="t", ticket_assignees=[], ticket_tags=[], ticket_due=[])], f"{A}: Invalid Ticket due date."),
    ("second entry", [_action("disable"), _action("nope")], "Malformed action entry #2: Unknown type"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("actions", "message"), [(v, m) for _, v, m in INVALID_ACTIONS], ids=[n for n, _, _ in INVALID_ACTIONS]
)
def test_invalid_actions(actions: Any, message: str) -> None:
    """Each action list here breaks one rule and is rejected with the quoted message."""
    assert api_message(lambda: validate_actions(actions, lookup=world())) == message


# --- user fields --------------------------------------------------------------------------------


def _field(**overrides: Any) -> dict[str, Any]:
    return {"id": "region", "type": "text", **overrides}


VALID_FIELDS = [
    ("omitted", None),
    ("empty", []),
    ("no title", [_field()]),
    ("full", [_field(title="Region", value="us", required=True, variant="email", regex="^\\w+$", caption="c"),
              _field(id="count", type="text", variant="number", range="1-10/1"),
              _field(id="cfg", type="json", value={}), _field(id="tools", type="toolset", data={"tools": [{"id": "t"}]})]),
]  # fmt: skip


@pytest.mark.parametrize(("fields",), [(v,) for _, v in VALID_FIELDS], ids=[n for n, _ in VALID_FIELDS])
def test_valid_fields(fields: Any) -> None:
    """Each fields list here satisfies events.md §7.1."""
    validate_fields(fields, locked_ids={"script"})


F = "Malformed user field 'region'"
INVALID_FIELDS = [
    ("not an array", {"id": "x"}, "Malformed event parameter: fields (must be array)"),
    ("entry not object", ["x"], "Malformed user field #1 (not an object)"),
    ("id not string", [_field(id=5)], "Malformed user field '5': ID must be a string"),
    ("id missing", [{"type": "text"}], "Malformed user field 'n/a': ID must be a string"),
    ("reserved word", [_field(id="toString")], "Malformed user field 'toString': Invalid parameter ID: toString (reserved word)"),
    ("reserved override", [_field(id="_xy_override_env")], "Malformed user field '_xy_override_env': Invalid parameter ID: _xy_override_env (reserved)"),
    ("bad chars", [_field(id="a/b")], "Malformed user field 'a/b': Invalid parameter ID: a/b (must contain only alphanumerics, underscore, dash and period)"),
    ("locked plugin param", [_field(id="script")], "Malformed user field 'script': ID is already in use (as locked plugin parameter)."),
    ("type not string", [_field(type=None)], f"{F}: Type must be a string"),
    ("invalid type", [_field(type="slider")], f"{F}: Invalid type"),
    ("title html", [_field(title="<b>")], f"{F}: Title contains illegal characters"),
    ("title not string", [_field(title=["x"])], f"{F}: Title must be a string"),
    ("duplicate", [_field(), _field()], f"{F}: Duplicate field ID: region"),
    ("variant", [_field(variant="slider")], f"{F}: Invalid text field variant"),
    ("regex", [_field(regex="[a-")], f"{F}: Invalid regular expression: [a-: "),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "message"), [(v, m) for _, v, m in INVALID_FIELDS], ids=[n for n, _, _ in INVALID_FIELDS]
)
def test_invalid_fields(fields: Any, message: str) -> None:
    """Each fields list here breaks one rule of events.md §7.2 and is rejected with that message."""
    assert api_message(lambda: validate_fields(fields, locked_ids={"script"})).startswith(message)
