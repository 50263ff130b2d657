"""Shared fixture data for the validation unit tests: a small fresh-install world and a valid event."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from cronwright.engine.validation import DictLookup
from cronwright.errors import CwError

SHELL_DEFAULT = "#!/bin/sh\n\n# Enter your shell script code here"
DELETE = object()  # marker for event_with(): drop the key

PLUGINS: dict[str, dict[str, Any]] = {
    "shellplug": {
        "id": "shellplug",
        "title": "Shell Script",
        "type": "event",
        "params": [
            {
                "id": "script",
                "title": "Script",
                "type": "code",
                "value": SHELL_DEFAULT,
                "required": True,
                "locked": True,
            },
            {"id": "annotate", "title": "Annotate", "type": "checkbox", "value": False},
        ],
    },
    "numplug": {
        "id": "numplug",
        "title": "Numbers",
        "type": "event",
        "params": [
            {"id": "count", "title": "Count", "type": "text", "variant": "number", "range": "1-100/1"},
            {"id": "code", "title": "Code", "type": "text", "regex": "^[A-Z]{3}$"},
        ],
    },
    "schedplug": {
        "id": "schedplug",
        "title": "Gate",
        "type": "scheduler",
        "params": [{"id": "mode", "title": "Mode", "type": "text", "required": True}],
    },
    "actplug": {
        "id": "actplug",
        "title": "Notify",
        "type": "action",
        "params": [{"id": "target", "title": "Target", "type": "text", "required": True}],
    },
}

EVENTS: dict[str, dict[str, Any]] = {
    "target_ev": {
        "id": "target_ev",
        "params": {},
        "fields": [{"id": "region", "type": "text", "required": True, "value": ""}],
    },
    "stored_ev": {
        "id": "stored_ev",
        "params": {"region": "eu"},
        "fields": [{"id": "region", "type": "text", "required": True, "value": ""}],
    },
}


def world() -> DictLookup:
    """The fresh-install lookup (category general, tags important/flag) plus test plugins/events."""
    return DictLookup(
        categories={"general": {"id": "general", "title": "General", "enabled": True}},
        plugins=copy.deepcopy(PLUGINS),
        tags={"important": {"id": "important"}, "flag": {"id": "flag"}},
        events=copy.deepcopy(EVENTS),
    )


def valid_event() -> dict[str, Any]:
    """A create payload (after defaults) that passes every check."""
    return {
        "id": "ev1",
        "title": "Daily Backup",
        "enabled": True,
        "category": "general",
        "targets": ["main"],
        "algo": "random",
        "plugin": "shellplug",
        "params": {"script": "#!/bin/sh\necho hi\n", "annotate": False},
        "triggers": [
            {"type": "schedule", "enabled": True, "hours": [2], "minutes": [0]},
            {"type": "manual", "enabled": True},
        ],
        "limits": [],
        "actions": [],
        "fields": [],
    }


def event_with(**changes: Any) -> dict[str, Any]:
    """``valid_event()`` with top-level keys replaced (or removed when the value is ``DELETE``)."""
    event = valid_event()
    for key, value in changes.items():
        if value is DELETE:
            event.pop(key, None)
        else:
            event[key] = value
    return event


def api_message(call: Callable[[], object]) -> str:
    """Run ``call``, assert it raised an ``api`` error (HTTP 400) and return its description."""
    with pytest.raises(CwError) as caught:
        call()
    assert caught.value.code == "api"
    assert caught.value.status == 400
    return caught.value.description
