"""What each action type does (limits-actions.md §4.1). ``Handlers.run`` dispatches on ``type``."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from cronwright import __version__
from cronwright.clock import Clock
from cronwright.config import Settings
from cronwright.engine import activity
from cronwright.engine.catalog import Catalog
from cronwright.engine.jobs.launch import LaunchError
from cronwright.engine.jobs.rules import event_request, no_manual_runs
from cronwright.engine.jobs.worker import host_environment
from cronwright.engine.permits import job_principal_tag
from cronwright.expr import ExprError, compile_template
from cronwright.notify import (
    STOCK_EMAILS,
    Outcome,
    SmtpSettings,
    fire_web_hook,
    render_email,
    run_action_plugin,
    send_email,
)
from cronwright.notify.netpolicy import policy_for, web_hook_client
from cronwright.store.base import Store

_HTML_TAG = re.compile(r"<[^>]*>")
#: stock email template per situation (limits-actions.md §4.1)
_EMAIL_FOR = {"start": "job_start", "limit": "job_limited"}


class Handlers:
    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        clock: Clock,
        settings: Settings,
        *,
        token: Callable[[str], str],
        launch: Callable[[dict[str, Any]], list[dict[str, Any]]],
        note: Callable[[dict[str, Any], str], None],
        zone: Any,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.clock = clock
        self.settings = settings
        self.token = token
        self.launch = launch
        self.note = note
        self.zone = zone
        self.base_url = settings.public_url
        self._http: httpx.AsyncClient | None = None
        self._types: dict[str, Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], Any]] = {
            "email": self._email,
            "web_hook": self._web_hook,
            "run_event": self._run_event,
            "disable": self._disable,
            "delete": self._delete,
            "tag": self._tag,
            "label": self._label,
            "plugin": self._plugin,
            "snapshot": self._snapshot,
            "suspend": self._suspend,
        }

    async def run(self, job: dict[str, Any], action: dict[str, Any], data: dict[str, Any]) -> Outcome:
        handler = self._types.get(str(action.get("type")))
        if handler is None:
            return Outcome("type", f"Unknown action type: {action.get('type')}")
        outcome: Outcome = await handler(job, action, data)
        return outcome

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    def record_activity(self, job: dict[str, Any], condition: str, action: dict[str, Any]) -> None:
        with self.store.write() as w:
            activity.record(
                w,
                "job_action",
                epoch=self.clock.now(),
                description=f"{action.get('type')} ({condition}): {action.get('description')}",
                keywords=[job["id"], job.get("event")],
                job=job["id"],
                event_id=job.get("event"),
                condition=condition,
                type=action.get("type"),
                code=action.get("code"),
            )

    # ---- email and web hooks

    def smtp(self) -> SmtpSettings:
        s = self.settings
        return SmtpSettings(
            host=s.smtp_host,
            port=s.smtp_port,
            security=s.smtp_security,
            username=s.smtp_username,
            password=s.smtp_password,
            sender=s.email_from,
            timeout_s=s.smtp_timeout_s,
        )

    def recipients(self, action: dict[str, Any]) -> list[str]:
        out: list[str] = []
        for username in action.get("users") or []:
            user = self.catalog["users"].get(username)
            if user and user.get("email"):
                out.append(str(user["email"]))
        out.extend(a.strip() for a in str(action.get("email") or "").split(",") if a.strip())
        return list(dict.fromkeys(out))

    async def _email(self, job: dict[str, Any], action: dict[str, Any], data: dict[str, Any]) -> Outcome:
        recipients = self.recipients(action)
        if not recipients:
            return Outcome(0, "No recipients for email (skipping)")
        template = action.get("body") if isinstance(action.get("body"), str) and action["body"].strip() else None
        if template is None:
            key = _EMAIL_FOR.get(str(action.get("condition")))
            if key is None:
                key = "job_progress" if not job.get("complete") else ("job_fail" if job.get("code") else "job_success")
            template = STOCK_EMAILS[key]
        return await send_email(self.smtp(), recipients, render_email(template, data))

    async def _web_hook(self, job: dict[str, Any], action: dict[str, Any], data: dict[str, Any]) -> Outcome:
        hook_id = action.get("web_hook")
        hook = self.catalog["web_hooks"].get(hook_id)
        if hook is None:
            return Outcome("webhook", f"Web Hook not found: {hook_id}")
        if not hook.get("enabled", True):
            return Outcome("webhook", f"Web Hook is disabled: {hook.get('title') or hook_id}")
        if not self._count_web_hook(hook):
            return Outcome("webhook", f"Web Hook has reached its daily limit ({hook.get('max_per_day')}): {hook_id}")
        settings = self.settings
        effective = {"timeout": settings.web_hook_timeout_s, "retries": settings.web_hook_retries, **hook}
        policy = policy_for(settings.web_hook_allow_networks, settings.web_hook_deny_networks)
        if self._http is None:
            self._http = web_hook_client(policy)  # checks every destination; never a proxy from the environment
        return await fire_web_hook(
            effective, data, client=self._http, policy=policy, user_agent=f"Cronwright/{__version__}"
        )

    def _count_web_hook(self, hook: dict[str, Any]) -> bool:
        """Enforce ``max_per_day`` with a per-hook daily counter (kept in the key/value store)."""
        limit = hook.get("max_per_day")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            return True
        day = datetime.fromtimestamp(self.clock.now(), self.zone).strftime("%Y-%m-%d")
        key = f"web_hook_count.{hook['id']}"
        state = self.store.get_kv(key) or {}
        count = state.get("count", 0) if state.get("day") == day else 0
        if count >= limit:
            return False
        with self.store.write() as w:
            w.set_kv(key, {"day": day, "count": count + 1})
        return True

    # ---- engine actions

    async def _run_event(self, job: dict[str, Any], action: dict[str, Any], data: dict[str, Any]) -> Outcome:
        target_id = action.get("event_id")
        target = self.catalog["events"].get(target_id)
        if target is None:
            return Outcome("event", f"Event not found: {target_id}")
        manual = any(
            isinstance(t, dict) and t.get("type") == "manual" and t.get("enabled") for t in target.get("triggers") or []
        )
        if not manual:
            return Outcome("event", no_manual_runs(str(target_id)))
        request = event_request(target)
        request["source"] = "action"
        # the chained job acts for whoever the parent acts for (docs/security.md, "Job authority")
        request.pop("username", None)
        request.pop("key", None)
        principal = request["principal"] = job_principal_tag(job)
        if principal.startswith(("user:", "key:")):
            request.update({k: job[k] for k in ("username", "key") if job.get(k)})
        request["parent"] = {
            "job": job["id"],
            "event": job.get("event"),
            "code": job.get("code"),
            "description": job.get("description"),
        }
        request["input"] = {
            "data": copy.deepcopy(job.get("data") or {}),
            "files": copy.deepcopy(job.get("files") or []),
        }
        field_ids = {f.get("id") for f in target.get("fields") or [] if isinstance(f, dict)}
        params = dict(target.get("params") or {})
        for key, value in (action.get("params") or {}).items():
            if key in field_ids:
                params[key] = value
        request["params"] = params
        delay = action.get("start_delay")
        if isinstance(delay, (int, float)) and not isinstance(delay, bool) and delay > 0:
            request["state"], request["until"] = "start_delay", self.clock.now() + delay
        try:
            child = self.launch(request)[0]
        except LaunchError as exc:
            return Outcome("event", f"Failed to launch event: {exc}")
        job.setdefault("jobs", []).append({"id": child["id"], "reason": "action"})
        return Outcome(0, f"Successfully launched job: {child['id']}")

    async def _disable(self, job: dict[str, Any], action: dict[str, Any], data: dict[str, Any]) -> Outcome:
        job["update_event"] = {**(job.get("update_event") or {}), "enabled": False}
        return Outcome(0, "Successfully disabled event.")

    async def _delete(self, job: dict[str, Any], action: dict[str, Any], data: dict[str, Any]) -> Outcome:
        job["delete_event"] = True
        return Outcome(0, "Successfully deleted event.")

    async def _tag(self, job: dict[str, Any], action: dict[str, Any], data: dict[str, Any]) -> Outcome:
        tags = [t for t in action.get("tags") or [] if isinstance(t, str)]
        job["tags"] = list(dict.fromkeys([*(job.get("tags") or []), *tags]))
        return Outcome(0, "Successfully added tags.")

    async def _label(self, job: dict[str, Any], action: dict[str, Any], data: dict[str, Any]) -> Outcome:
        try:
            label = compile_template(str(action.get("label") or "")).render(data)
        except ExprError as exc:
            return Outcome("label", f"Failed to expand label: {exc}")
        job["label"] = _HTML_TAG.sub("", label)
        return Outcome(0, "Successfully set label.")

    async def _plugin(self, job: dict[str, Any], action: dict[str, Any], data: dict[str, Any]) -> Outcome:
        plugin = self.catalog["plugins"].get(action.get("plugin_id"))
        if plugin is None or plugin.get("type") != "action":
            return Outcome("plugin", f"Action Plugin not found: {action.get('plugin_id')}")
        if not plugin.get("enabled", True):
            return Outcome("plugin", f"Action Plugin is disabled: {plugin.get('title') or plugin['id']}")
        params: dict[str, Any] = action["params"] if isinstance(action.get("params"), dict) else {}
        return await run_action_plugin(
            plugin,
            params=params,
            data=data,
            condition=str(action.get("condition")),
            base_url=self.base_url,
            env=host_environment(),
            upper_case_params=self.settings.job_param_env == "all",
        )

    async def _snapshot(self, job: dict[str, Any], action: dict[str, Any], data: dict[str, Any]) -> Outcome:
        return Outcome(0, "Server snapshots are not available in Cronwright; nothing was captured.")

    async def _suspend(self, job: dict[str, Any], action: dict[str, Any], data: dict[str, Any]) -> Outcome:
        if action.get("condition") != "start":
            return Outcome("suspend", "Only start actions can suspend a job (it has already run).")
        job["suspended"] = True
        notify = {**action, "template": "job_progress"}
        for kind in ("email", "web_hook"):
            if (kind == "email" and (action.get("users") or action.get("email"))) or (
                kind == "web_hook" and action.get("web_hook")
            ):
                outcome = await self.run(job, {**notify, "type": kind}, data)
                if outcome.code:
                    return Outcome(outcome.code, f"Job suspended, but the notification failed: {outcome.description}")
        return Outcome(0, "Job suspended: waiting for resume_job.")
