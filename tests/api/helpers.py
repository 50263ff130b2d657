"""Payload builders and key helpers for the black-box API tests."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from tests.support.server import Api

SCRIPT = "#!/bin/sh\necho hello\n"
DEFAULT_SCRIPT = "#!/bin/sh\n\n# Enter your shell script code here"
_counter = itertools.count()


def uid(prefix: str = "t") -> str:
    """A unique lower-case id for one test's objects."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}_{next(_counter)}"


def event_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "title": "Test Event",
        "enabled": True,
        "category": "general",
        "targets": ["main"],
        "algo": "random",
        "plugin": "shellplug",
        "params": {"script": SCRIPT, "annotate": False},
        "triggers": [{"type": "manual", "enabled": True}],
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def create_event(api: Api, **overrides: Any) -> dict[str, Any]:
    overrides.setdefault("id", uid("ev"))
    return api.ok("create_event", event_payload(**overrides))["event"]


def make_key(api: Api, privileges: dict[str, Any] | None = None, **fields: Any) -> tuple[Api, dict[str, Any]]:
    """A new API key with the given privileges; returns (client using it, key record)."""
    body = api.ok("create_api_key", {"title": uid("key"), "privileges": privileges or {}, **fields})
    return api.with_key(body["plain_key"]), body["api_key"]
