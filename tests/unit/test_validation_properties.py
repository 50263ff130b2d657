"""Property tests: any JSON-like payload makes event validation return or raise an ``api`` error."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cronwright.engine.validation import (
    apply_field_defaults,
    hash_magic_keys,
    normalize_trigger_epochs,
    validate_create_request,
    validate_event_data,
)
from cronwright.errors import CwError
from tests.unit._validation_data import world

WORLD = world()

# --- property: any JSON in, only api errors out --------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["", "0", "1", "true", "general", "shellplug", "important", "\ud800", "((", "1-10/1"])
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=16,
)


def _records(keys: list[str], types: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts whose keys come from real field names, with a real type and arbitrary (or plausible) values."""
    values = JSON | st.integers(min_value=-5, max_value=2_000_000_000) | st.lists(st.integers(-10, 70), max_size=3)
    return st.builds(
        lambda body, kind: {**body, "type": kind},
        st.dictionaries(st.sampled_from(keys), values, max_size=6),
        st.sampled_from(types) | JSON,
    )


TRIGGER_KEYS = [
    "enabled",
    "years",
    "months",
    "days",
    "weekdays",
    "hours",
    "minutes",
    "timezone",
    "start",
    "end",
    "duration",
    "epoch",
    "seconds",
    "every",
    "invisible",
    "ephemeral",
    "key",
    "plugin_id",
    "params",
    "keys",
]
TRIGGER_NAMES = [
    "manual",
    "schedule",
    "interval",
    "single",
    "catchup",
    "range",
    "blackout",
    "delay",
    "precision",
    "nth",
    "quiet",
    "startup",
    "magic",
    "plugin",
    "keyboard",
]
LIMIT_KEYS = [
    "enabled",
    "amount",
    "duration",
    "size",
    "accept",
    "condition",
    "tags",
    "users",
    "email",
    "web_hook",
    "text",
]
LIMIT_NAMES = ["time", "job", "queue", "retry", "log", "mem", "cpu", "file", "day", "tag"]
ACTION_KEYS = [
    "enabled",
    "condition",
    "users",
    "email",
    "web_hook",
    "event_id",
    "params",
    "start_delay",
    "tags",
    "label",
    "plugin_id",
    "channel_id",
    "bucket_id",
    "bucket_sync",
    "ticket_type",
    "ticket_assignees",
    "ticket_tags",
    "ticket_due",
]
ACTION_NAMES = [
    "email",
    "web_hook",
    "run_event",
    "disable",
    "delete",
    "tag",
    "label",
    "plugin",
    "channel",
    "snapshot",
    "suspend",
    "store",
    "fetch",
    "ticket",
]
FIELD_KEYS = ["id", "title", "value", "required", "locked", "regex", "variant", "range", "caption", "data"]
FIELD_NAMES = [
    "text",
    "textarea",
    "code",
    "json",
    "checkbox",
    "select",
    "bucket",
    "system",
    "hidden",
    "toolset",
    "group",
]
EVENT_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "id": st.sampled_from(["ev1", "constructor", "A"]) | JSON,
    "title": st.sampled_from(["T", " ", "<b>"]) | JSON,
    "enabled": st.sampled_from([True, 1, "true", 2.5]) | JSON,
    "category": st.sampled_from(["general", "nope"]) | JSON,
    "plugin": st.sampled_from(["shellplug", "numplug", "schedplug", "nope", "_workflow"]) | JSON,
    "algo": st.sampled_from(["random", "monitor:x"]) | JSON,
    "type": st.sampled_from(["workflow", "event"]) | JSON,
    "targets": st.lists(st.sampled_from(["main"]) | JSON, max_size=3) | JSON,
    "tags": st.lists(st.sampled_from(["important", "flag", "nope"]) | JSON, max_size=3) | JSON,
    "params": st.dictionaries(st.sampled_from(["script", "count", "code", "_xy_override_uid"]), JSON, max_size=3) | JSON,
    "triggers": st.lists(_records(TRIGGER_KEYS, TRIGGER_NAMES), max_size=4) | JSON,
    "limits": st.lists(_records(LIMIT_KEYS, LIMIT_NAMES), max_size=3) | JSON,
    "actions": st.lists(_records(ACTION_KEYS, ACTION_NAMES), max_size=3) | JSON,
    "fields": st.lists(_records(FIELD_KEYS, FIELD_NAMES), max_size=3) | JSON,
    "notes": JSON,
    "icon": JSON,
    "expression": JSON,
}  # fmt: skip
EVENT_LIKE = st.fixed_dictionaries({}, optional=EVENT_VALUES)


def _only_api_errors(call: Any) -> None:
    try:
        call()
    except CwError as exc:
        assert exc.code == "api"
        assert exc.status == 400


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=JSON | EVENT_LIKE)
def test_event_validation_never_crashes(payload: Any) -> None:
    """validate_event_data on any JSON-like payload returns or raises an api CwError — nothing else."""
    _only_api_errors(lambda: validate_event_data(payload, WORLD))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=EVENT_LIKE)
def test_create_pipeline_never_crashes(payload: dict[str, Any]) -> None:
    """The create pipeline (request checks, defaults, validation, normalization, hashing) never crashes."""
    _only_api_errors(lambda: validate_create_request(payload))
    apply_field_defaults(payload.get("triggers"), payload.get("fields"))
    _only_api_errors(lambda: validate_event_data(payload, WORLD))
    normalize_trigger_epochs(payload.get("triggers"))
    hash_magic_keys(payload.get("triggers"), "ev1")
