"""Sample hook data for the notification tests."""

from __future__ import annotations

from typing import Any


def hook_data(*, code: Any = 0, complete: bool = True, condition: str = "success", **extra: Any) -> dict[str, Any]:
    """Hook data shaped like the engine's (limits-actions.md §4.2) for job ``jtest1`` of event ``etest1``."""
    data: dict[str, Any] = {
        "job": {
            "id": "jtest1",
            "event": "etest1",
            "code": code,
            "description": "Everything broke" if code else "",
            "complete": complete,
            "params": {"greeting": "hello"},
            "data": {"answer": 42},
            "tags": ["nightly"],
        },
        "event": {"id": "etest1", "title": "Nightly Backup"},
        "action": {"type": "web_hook", "condition": condition},
        "plugin": {"id": "shellplug", "title": "Shell Plugin"},
        "category": {"id": "general", "title": "General"},
        "server": {"id": "local1", "hostname": "box.local"},
        "nice_server": "box.local",
        "links": {
            "job_details": "http://cw.test/#Job?id=jtest1",
            "job_log": "http://cw.test/api/app/download_job_log/v1?id=jtest1&t=tok",
            "job_files": "http://cw.test/#Job?id=jtest1&sub=files",
        },
        "display": {"elapsed": "3 seconds", "log_size": "12 bytes", "perf": "", "mem": "1 MB", "cpu": "5%"},
        "client": {"name": "Cronwright"},
    }
    data.update(extra)
    return data
