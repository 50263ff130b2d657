"""The launch pipeline (jobs.md §3): from a launch request (a copy of the event with overrides) to
a new job document, or a ``LaunchError`` with the reason xyOps gives.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from cronwright.clock import Clock
from cronwright.config import Settings
from cronwright.engine.catalog import Catalog
from cronwright.engine.common import LAUNCH_CONTEXT_KEYS
from cronwright.engine.jobs.rules import EVENT_ONLY_KEYS, first_limit, is_enabled, limit_amount, truncate_tags
from cronwright.engine.permits import OVERRIDABLE, launch_principal, override_key, override_value
from cronwright.engine.validation import OVERRIDE_RESERVED_RE
from cronwright.expr import ExprError, expand_params
from cronwright.ids import generate_id
from cronwright.store.base import StoreWriter


class LaunchError(Exception):
    """A launch was refused; ``str(exc)`` is the reason ("Category is disabled: General")."""


class MinuteBrake:
    """The global jobs-per-minute brake (``max_jobs_per_min``; 0 turns it off), counted in the
    database so it holds across every conductor: ``take`` runs in the launch's transaction."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute

    def take(self, w: StoreWriter, now: float) -> None:
        if self.per_minute <= 0:
            return
        if not w.take_count(f"launches:{int(now // 60)}", self.per_minute, 120.0):
            raise LaunchError(f"Global jobs per minute limit has been reached ({self.per_minute}/min)")


class Launcher:
    def __init__(self, catalog: Catalog, settings: Settings, clock: Clock) -> None:
        self._catalog = catalog
        self._settings = settings
        self._clock = clock
        self.brake = MinuteBrake(settings.max_jobs_per_min)
        #: today's count of a condition for an event (set by the engine; 0 without stats)
        self.daily_count: Callable[[str, str], int] = lambda event_id, condition: 0

    def build(self, request: dict[str, Any]) -> dict[str, Any]:
        """Steps 1–10: the new job (not yet registered), or ``LaunchError``."""
        job = copy.deepcopy(request)
        job["event"] = job.pop("id", None) or job.get("event")
        for key in EVENT_ONLY_KEYS + LAUNCH_CONTEXT_KEYS:
            job.pop(key, None)
        for key in ("limits", "actions", "tags"):
            if not isinstance(job.get(key), list):
                job[key] = []
        if not isinstance(job.get("params"), dict):
            job["params"] = {}
        job["id"] = generate_id("j")
        job["principal"] = launch_principal(request)

        event, category, plugin = self._references(job)
        if not job.get("test"):
            for kind, doc in (("Event", event), ("Category", category), ("Plugin", plugin)):
                if doc is not None and not doc.get("enabled"):
                    raise LaunchError(f"{kind} is disabled: {doc.get('title') or doc['id']}")
        self._append_defaults(job, category)
        queue = first_limit(job, "queue")
        if limit_amount(queue) and not first_limit(job, "job"):
            raise LaunchError("The 'Max Queue Limit' requires a 'Max Concurrent Jobs' limit to also be present.")
        job["tags"], note = truncate_tags(job["tags"], first_limit(job, "tag"))
        if job.get("source") not in ("user", "key"):
            self._check_day_limits(job)
        now = self._clock.now()

        job["env"] = dict(self._settings.job_env)  # an event's own ``env`` is a launch-context key: never stored
        job["state"] = job.get("state") or "ready"
        job["started"] = now
        job["now"] = job.get("now") or now
        job["log_file_size"] = 0
        job["activity"] = []
        if plugin is not None:
            self._copy_plugin_fields(job, plugin)
        else:
            job.update(command="", script="", kill="all")
        if note:
            self.note(job, note)
        try:
            job["params"] = expand_params(job["params"], order=_field_ids(event), context=self._macro_context(job))
        except ExprError as exc:
            job["setup_error"] = f"Setup Error: {exc}"
        self._apply_overrides(job)
        self.note(
            job, f"Source: {job.get('source') or 'unknown'}" + (f" ({job['username']})" if job.get("username") else "")
        )
        self.note(job, f"Event ID: #{job['event']}")
        return job

    def _check_day_limits(self, job: dict[str, Any]) -> None:
        """Step 6: a ``day`` limit refuses the launch once today's count of its condition is reached."""
        for limit in job["limits"]:
            if not is_enabled(limit) or limit.get("type") != "day":
                continue
            amount = limit_amount(limit)
            condition = str(limit.get("condition"))
            if amount is not None and self.daily_count(job["event"], condition) >= amount:
                raise LaunchError(
                    f"Maximum daily '{condition}' count of {amount:g} has been reached for event: {job['event']}"
                )

    def _references(self, job: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
        event = self._catalog["events"].get(job.get("event"))
        if event is None:
            raise LaunchError(f"Event not found: {job.get('event')}")
        category = self._catalog["categories"].get(job.get("category"))
        if category is None:
            raise LaunchError(f"Category not found: {job.get('category')}")
        plugin_id = job.get("plugin")
        if isinstance(plugin_id, str) and plugin_id.startswith("_"):
            return event, category, None
        plugin = self._catalog["plugins"].get(plugin_id)
        if plugin is None:
            raise LaunchError(f"Plugin not found: {plugin_id}")
        return event, category, plugin

    def _append_defaults(self, job: dict[str, Any], category: dict[str, Any]) -> None:
        """Category entries, then universal ones (each copy marked with its ``source``)."""
        test = bool(job.get("test"))
        kind = "workflow" if job.get("type") == "workflow" else "default"
        settings = self._settings
        for key, flag, universal in (
            ("actions", "test_actions", settings.job_universal_actions),
            ("limits", "test_limits", settings.job_universal_limits),
        ):
            if test and not job.get(flag):
                continue
            for entry in category.get(key) or []:
                if is_enabled(entry):
                    job[key].append({**copy.deepcopy(entry), "source": "category"})
            entries = universal.get(kind) if isinstance(universal, dict) else None
            for entry in entries or []:
                if is_enabled(entry) and (entry.get("condition") if key == "actions" else entry.get("type")):
                    job[key].append({**copy.deepcopy(entry), "source": "universal"})

    def _copy_plugin_fields(self, job: dict[str, Any], plugin: dict[str, Any]) -> None:
        job["command"] = plugin.get("command") or ""
        job["script"] = "(File)" if plugin.get("script") else ""
        job["kill"] = plugin.get("kill") or "parent"
        for key in ("uid", "gid"):
            job[key] = plugin.get(key) or ""
            locked = any(d.get("id") == key and d.get("locked") for d in plugin.get("params") or [])
            if locked and job["params"].get(key) not in (None, ""):
                job[key] = job["params"][key]
        if plugin.get("runner"):
            job["runner"] = True

    def _macro_context(self, job: dict[str, Any]) -> dict[str, Any]:
        context = dict(job)
        inputs: dict[str, Any] = job["input"] if isinstance(job.get("input"), dict) else {}
        context["data"] = inputs.get("data") if isinstance(inputs.get("data"), dict) else {}
        context["files"] = inputs.get("files") or []
        return context

    def _apply_overrides(self, job: dict[str, Any]) -> None:
        """Non-empty string params ``_xy_override_<key>`` replace the job field ``<key>`` when it is one
        of ``OVERRIDABLE`` (``targets`` and ``tags`` as comma-separated lists); other keys are ignored
        with a note (docs/compatibility.md). Who may set which override is checked where the params
        come in (``Permits.check_overrides``)."""
        for name, value in list(job["params"].items()):
            key = override_key(name)
            if key is None or not isinstance(value, str) or not value or OVERRIDE_RESERVED_RE.match(name):
                continue
            if key in OVERRIDABLE:
                job[key] = override_value(key, value)
            else:
                self.note(job, f"Ignored job override {name}: only {', '.join(OVERRIDABLE)} may be overridden.")

    def note(self, job: dict[str, Any], message: str) -> None:
        """Append a row to the job's meta log (``activity``, at most 1,000 rows)."""
        rows = job.setdefault("activity", [])
        if len(rows) < 1000:
            rows.append(
                {"id": generate_id("m"), "epoch": self._clock.now(), "msg": message, "server": job.get("server", "")}
            )


def _field_ids(event: dict[str, Any]) -> list[str]:
    return [f["id"] for f in event.get("fields") or [] if isinstance(f, dict) and isinstance(f.get("id"), str)]
