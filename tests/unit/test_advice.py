"""Warnings about saved events (``validation.advice``): table-driven, no server."""

from __future__ import annotations

from typing import Any

import pytest

from cronwright.engine.jobs.selection import ALGORITHMS
from cronwright.engine.validation.advice import event_warnings, fix_timezone_case

TARGETS = {"main", "web01", "db_servers"}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"title": "x", "targets": ["main"], "algo": "random", "triggers": []}, []),
        ({"trigers": []}, ["Unknown key 'trigers': did you mean 'triggers'?"]),
        ({"parms": {}}, ["Unknown key 'parms': did you mean 'params'?"]),
        ({"my_meta": 1, "x_custom": 2}, []),  # free-form keys far from any known one round-trip quietly
        ({"timezone": "UTC"}, ["Key 'timezone' has no effect here: a time zone belongs to a trigger"]),
        ({"targets": ["web1"]}, ["Unknown target 'web1': no server or group has this id"]),
        ({"targets": ["web01", "db_servers", 5]}, []),  # non-strings are validation's business
        ({"algo": "round-robin"}, ["Unknown algo 'round-robin' (no such algorithm)"]),
        ({"algo": "monitor:cpu"}, ["Unknown algo 'monitor:cpu' (monitor-based selection is not supported yet)"]),
        ({"algo": ""}, []),
    ],
)
def test_event_warnings(changes: dict[str, Any], expected: list[str]) -> None:
    """Each warning names the key or value, and how to fix it where that is clear."""
    warnings = event_warnings(changes, target_ids=TARGETS, algorithms=ALGORITHMS)
    assert len(warnings) == len(expected) and all(w.startswith(e) for w, e in zip(warnings, expected, strict=True))


def test_workflow_has_no_target_or_algo_advice() -> None:
    """A workflow has no targets or algorithm of its own."""
    assert (
        event_warnings({"targets": ["nope"], "algo": "x"}, target_ids=TARGETS, algorithms=ALGORITHMS, workflow=True)
        == []
    )


@pytest.mark.parametrize(
    ("zone", "fixed", "warned"),
    [
        ("america/new_york", "America/New_York", True),
        ("UTC", "UTC", False),
        ("utc", "UTC", True),
        ("Mars/Base", "Mars/Base", False),  # not a zone in any case: left for validation to refuse
        (5, 5, False),
    ],
)
def test_fix_timezone_case(zone: Any, fixed: Any, warned: bool) -> None:
    """A zone that differs from an IANA name only in case gets the IANA spelling, with a warning."""
    triggers = [{"type": "manual"}, {"type": "schedule", "timezone": zone}]
    warnings = fix_timezone_case(triggers)
    assert triggers[1]["timezone"] == fixed and bool(warnings) == warned
    if warned:
        assert warnings[0].startswith("Trigger #2:")
    assert fix_timezone_case(None) == [] and fix_timezone_case(["x"]) == []


def test_trigger_key_typos_and_every_minute_schedules_are_warned() -> None:
    """`hour`/`minute` on a schedule trigger are ignored by the scheduler (it then fires every
    minute): both the typo and the resulting every-minute schedule are named."""
    from cronwright.engine.validation.advice import trigger_warnings

    warnings = trigger_warnings([{"type": "schedule", "enabled": True, "hour": [3], "minute": [0]}])
    assert "Trigger #1: unknown key 'hour': did you mean 'hours'?" in warnings
    assert "Trigger #1: unknown key 'minute': did you mean 'minutes'?" in warnings
    assert any("fires every minute" in w for w in warnings)
    assert trigger_warnings([{"type": "schedule", "enabled": True, "hours": [3], "minutes": [0]}]) == []
    assert trigger_warnings([{"type": "manual", "enabled": True}, "junk"]) == []
