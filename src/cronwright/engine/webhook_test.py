"""``test_web_hook``: validate a web hook definition and send one request with sample data."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from cronwright import __version__
from cronwright.clock import Clock
from cronwright.config import Settings
from cronwright.engine.identity import Identity
from cronwright.engine.validation import ID_RE, require_params, strip_html_fields
from cronwright.notify import WEB_HOOK_DEFAULTS, fire_web_hook, validate_web_hook
from cronwright.notify.netpolicy import policy_for, quiet_http_loggers


def sample_data(hook: dict[str, Any], base_url: str, now: float) -> dict[str, Any]:
    """Hook data shaped like a real job's, for trying a hook out."""
    job = {
        "id": "jtest0000000000",
        "event": "test_event",
        "code": 0,
        "description": "",
        "params": {},
        "data": {},
        "tags": [],
        "started": now - 1,
        "completed": now,
        "elapsed": 1.0,
        "source": "user",
    }
    event = {"id": "test_event", "title": "Test Event"}
    text = f"Cronwright test message from web hook: {hook.get('title') or hook.get('id') or ''}"
    return {
        "job": job,
        "event": event,
        "action": {"type": "web_hook", "condition": "test"},
        "plugin": {},
        "category": {},
        "server": {},
        "nice_server": "",
        "client": {"name": "Cronwright"},
        "text": text,
        "links": {"job_details": f"{base_url}/#Job?id={job['id']}", "job_log": "", "job_files": ""},
        "display": {"elapsed": "1 second", "log_size": "0 bytes", "mem": "", "cpu": "", "perf": ""},
    }


class WebHookTester:
    """Sends trial requests under the same destination policy as web hook actions."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._policy = policy_for(settings.web_hook_allow_networks, settings.web_hook_deny_networks)
        quiet_http_loggers()  # at start-up, before any request could log its URL

    async def test(self, params: dict[str, Any], authenticate: Callable[[], Identity]) -> dict[str, Any]:
        hook = {**copy.deepcopy(WEB_HOOK_DEFAULTS), "timeout": self._settings.web_hook_timeout_s, **params}
        rules = {"title": r"\S", "method": r"^\w+$", "url": r"\S"}
        if "id" in hook:
            rules["id"] = ID_RE.pattern
        require_params(hook, rules)
        strip_html_fields(hook)
        validate_web_hook(hook)
        who = authenticate()
        who.require("edit_web_hooks")
        started = time.perf_counter()
        outcome = await fire_web_hook(
            hook,
            sample_data(hook, self._settings.public_url, self._clock.now()),
            policy=self._policy,
            user_agent=f"Cronwright/{__version__}",
        )
        return {
            "code": outcome.code,
            "description": outcome.description,
            "details": outcome.details,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
        }
