"""First start: the fresh-install records, created exactly once (plugins.md §9, supporting-apis.md).

Everything is written in one transaction together with the ``install`` marker; the marker's
insert fails when another process (or an earlier start) already installed, and then nothing else
is written either, so repeated or concurrent first starts are harmless.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from cronwright import __version__
from cronwright.engine.auth import hash_api_key, hash_password, mask_key, new_plain_key
from cronwright.ids import generate_id
from cronwright.store.base import Store

SHELL_SCRIPT_DEFAULT = "#!/bin/sh\n\n# Enter your shell script code here"


@dataclass(frozen=True)
class FirstStart:
    """What the console must show once after installing (``None`` = chosen by the operator)."""

    admin_key: str | None
    admin_password: str | None


def _stamp(doc: dict[str, Any], now: int) -> dict[str, Any]:
    return {**doc, "username": "admin", "created": now, "modified": now, "revision": 1}


def default_records(now: int) -> dict[str, list[dict[str, Any]]]:
    return {
        "categories": [
            _stamp(
                {
                    "id": "general",
                    "title": "General",
                    "enabled": True,
                    "color": "plain",
                    "icon": "",
                    "notes": "",
                    "sort_order": 0,
                    "limits": [],
                    "actions": [],
                },
                now,
            )
        ],
        "groups": [
            _stamp(
                {
                    "id": "main",
                    "title": "Main Group",
                    "hostname_match": ".+",
                    "icon": "",
                    "notes": "",
                    "sort_order": 0,
                    "max_jobs_per_server": 0,
                },
                now,
            )
        ],
        "plugins": [
            _stamp(
                {
                    "id": "shellplug",
                    "title": "Shell Script",
                    "type": "event",
                    "enabled": True,
                    "command": "[shell-plugin]",
                    "kill": "all",
                    "icon": "console",
                    "stock": True,
                    "notes": "Runs a shell script (the shebang line selects the interpreter).",
                    "params": [
                        {
                            "id": "script",
                            "title": "Script Source",
                            "type": "code",
                            "value": SHELL_SCRIPT_DEFAULT,
                            "required": True,
                            "locked": True,
                        },
                        {"id": "annotate", "title": "Add Date/Time Stamps to Log", "type": "checkbox", "value": False},
                    ],
                },
                now,
            ),
            _stamp(
                {
                    "id": "testplug",
                    "title": "Test Plugin",
                    "type": "event",
                    "enabled": True,
                    "command": "[test-plugin]",
                    "kill": "all",
                    "icon": "test-tube",
                    "stock": True,
                    "notes": "Reports progress for a while, then ends with the chosen result.",
                    "params": [
                        {
                            "id": "duration",
                            "title": "Duration (seconds)",
                            "type": "text",
                            "variant": "number",
                            "value": "60",
                            "required": True,
                        },
                        {
                            "id": "action",
                            "title": "Result",
                            "type": "select",
                            "value": "Success, Error, Warning, Critical, Crash",
                        },
                        {"id": "custom", "title": "Custom Data", "type": "text", "value": ""},
                        {"id": "burn", "title": "Burn CPU", "type": "checkbox", "value": False},
                        {"id": "upload", "title": "Upload Sample File", "type": "checkbox", "value": False},
                    ],
                },
                now,
            ),
        ],
        "tags": [
            _stamp({"id": "important", "title": "Important", "icon": "alert-rhombus"}, now),
            _stamp({"id": "flag", "title": "Flag", "icon": "flag-checkered"}, now),
        ],
        "roles": [
            _stamp(
                {
                    "id": "all",
                    "title": "All Users",
                    "enabled": True,
                    "categories": [],
                    "groups": [],
                    "privileges": {"create_events": True, "edit_events": True, "run_jobs": True, "tag_jobs": True},
                },
                now,
            )
        ],
    }


def ensure_installed(store: Store, now: float, environ: dict[str, str]) -> FirstStart | None:
    """Create the fresh-install records unless already present; ``None`` when nothing was done."""
    if store.get_kv("install") is not None:
        return None
    stamp = int(now)
    password = environ.get("CRONWRIGHT_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    plain_key = environ.get("CRONWRIGHT_ADMIN_KEY") or new_plain_key()
    key_id = generate_id("k")
    admin_key = {
        "id": key_id,
        "title": "Admin Key",
        "description": "Created at first start.",
        "active": 1,
        "privileges": {"admin": True},
        "key": hash_api_key(plain_key, key_id),
        "mask": mask_key(plain_key),
        "username": "admin",
        "created": stamp,
        "modified": stamp,
        "revision": 1,
    }
    admin_user = {
        "id": "admin",
        "username": "admin",
        "full_name": "Administrator",
        "email": "admin@localhost",
        "active": 1,
        "privileges": {"admin": True},
        "roles": [],
        "password": hash_password(password),
        "created": stamp,
        "modified": stamp,
        "revision": 1,
    }
    with store.write() as w:
        if not w.insert_kv_once("install", {"version": __version__, "date": stamp}):
            return None
        for kind, docs in default_records(stamp).items():
            for doc in docs:
                w.insert_doc(kind, doc)
        w.insert_doc("users", admin_user)
        w.insert_doc("api_keys", admin_key)
        w.set_kv("state", {"scheduler": {"enabled": True}})
        w.set_kv("secret_key", secrets.token_hex(32))
    return FirstStart(
        admin_key=None if environ.get("CRONWRIGHT_ADMIN_KEY") else plain_key,
        admin_password=None if environ.get("CRONWRIGHT_ADMIN_PASSWORD") else password,
    )
