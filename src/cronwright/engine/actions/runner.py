"""Running a job's actions for the conditions that occurred (limits-actions.md §4).

Collect the enabled actions of every firing condition (in ``job.actions`` order: event, pushed,
category, universal), drop duplicates by type and target (first wins), skip entries that already
ran (they carry a ``code``: crash recovery), run the rest in parallel, and write each result onto
its entry (``date``, ``code``, ``description``, ``details``, ``elapsed_ms``), the job's meta log and
the activity log. A failing action never changes the job's own code and never raises.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from cronwright.engine.actions.hookdata import hook_data
from cronwright.engine.common import public_reason
from cronwright.engine.jobs.rules import is_enabled
from cronwright.logs import fields
from cronwright.metrics import Metrics
from cronwright.notify import Outcome
from cronwright.store.base import StoreError

if TYPE_CHECKING:
    from cronwright.engine.actions.handlers import Handlers

log = logging.getLogger("cronwright.actions")

#: the longest any single action may take (each handler has its own, shorter timeout)
ACTION_TIMEOUT_S = 600.0

Handler = Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], Awaitable[Outcome]]


def dedupe_key(action: dict[str, Any]) -> str:
    """``type-target`` (limits-actions.md §4 step 3): actions without a target collapse to one."""
    kind = str(action.get("type"))
    if kind == "email":
        users = action.get("users")
        target = "email" + (",".join(str(u) for u in users) if isinstance(users, list) else "")
        target += "|" + str(action.get("email") or "")
    else:
        field = {
            "web_hook": "web_hook",
            "run_event": "event_id",
            "channel": "channel_id",
            "plugin": "plugin_id",
            "store": "bucket_id",
            "fetch": "bucket_id",
        }.get(kind)
        target = str(action.get(field)) if field else ""
    return f"{kind}-{target}"


class ActionRunner:
    def __init__(self, handlers: Handlers, *, metrics: Metrics | None = None) -> None:
        self.handlers = handlers
        self._metrics = metrics or Metrics()

    def collect(self, job: dict[str, Any], conditions: list[str]) -> list[tuple[str, dict[str, Any]]]:
        """The (condition, action) pairs to run now, deduplicated, without those that already ran."""
        chosen: list[tuple[str, dict[str, Any]]] = []
        seen: set[str] = set()
        for condition in conditions:
            for action in job.get("actions") or []:
                if not is_enabled(action) or action.get("condition") != condition:
                    continue
                key = dedupe_key(action)
                if key in seen:
                    continue
                seen.add(key)
                if "code" not in action:
                    chosen.append((condition, action))
        return chosen

    async def run(self, job: dict[str, Any], conditions: list[str]) -> None:
        pending = self.collect(job, conditions)
        if pending:
            await asyncio.gather(*(self._run_one(job, condition, action) for condition, action in pending))

    async def _run_one(self, job: dict[str, Any], condition: str, action: dict[str, Any]) -> None:
        handlers = self.handlers
        handlers.note(job, f"Executing job {condition} action: {action.get('type')}")
        action["date"] = handlers.clock.now()
        started = time.perf_counter()
        try:
            data = hook_data(
                job, action, catalog=handlers.catalog, base_url=handlers.base_url, token=handlers.token(job["id"])
            )
            outcome = await asyncio.wait_for(handlers.run(job, action, data), ACTION_TIMEOUT_S)
        except TimeoutError:
            outcome = Outcome("timeout", f"Action did not finish within {ACTION_TIMEOUT_S:g} seconds.")
        except Exception as exc:  # a bug in one action must not break the job
            log.exception("action %s of job %s failed", action.get("type"), job["id"])
            outcome = Outcome("internal", f"Action failed: {public_reason(exc)}")
        action["code"] = outcome.code
        action["description"] = outcome.description
        if outcome.details:
            action["details"] = outcome.details
        action["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 1)
        handlers.note(job, f"Action {action.get('type')} ({condition}): {outcome.description}")
        self._report(job, action.get("type"), condition, outcome, action["elapsed_ms"])
        try:
            handlers.record_activity(job, condition, action)
        except StoreError as exc:  # the result is on the job; the audit row is best effort
            log.warning("activity row of action %s of job %s not stored: %s", action.get("type"), job["id"], exc)

    async def notify_limit(self, job: dict[str, Any], limit: dict[str, Any], msg: str) -> Outcome:
        """The email / web hook of a fired limit, through the ordinary handlers."""
        base = {**limit, "template": "job_limited", "condition": "limit", "msg": msg}
        subs = []
        if limit.get("users") or limit.get("email"):
            subs.append({**base, "type": "email"})
        if limit.get("web_hook"):
            subs.append({**base, "type": "web_hook"})
        if not subs:
            return Outcome(0, "Successfully applied limits.")
        handlers = self.handlers
        results = []
        for sub in subs:
            try:
                data = hook_data(
                    job, sub, catalog=handlers.catalog, base_url=handlers.base_url, token=handlers.token(job["id"])
                )
                results.append(handlers.run(job, sub, data))
            except Exception as exc:
                results.append(_failed(exc))
        outcomes = await asyncio.gather(*results, return_exceptions=True)
        for sub, outcome in zip(subs, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.error("limit notification of job %s failed", job["id"], exc_info=outcome)
                outcome = Outcome("internal", f"Limit notification failed: {public_reason(outcome)}")
            self._report(job, sub["type"], "limit", outcome, outcome.elapsed_ms)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                return Outcome("internal", f"Limit notification failed: {public_reason(outcome)}")
            if outcome.code:
                return outcome
        return Outcome(0, "Successfully applied limits.")

    def _report(self, job: dict[str, Any], kind: Any, condition: str, outcome: Outcome, elapsed_ms: Any) -> None:
        """Metrics and, for a failure, a log line (its description is the masked one of the report)."""
        ok = not outcome.code
        self._metrics.action(kind, ok)
        log.log(
            logging.DEBUG if ok else logging.WARNING,
            "action done" if ok else "action failed",
            extra=fields(
                job_id=job.get("id"),
                event=job.get("event"),
                type=kind,
                condition=condition,
                code=outcome.code,
                description=outcome.description,
                elapsed_ms=elapsed_ms,
            ),
        )


async def _failed(exc: Exception) -> Outcome:
    log.error("action failed", exc_info=exc)
    return Outcome("internal", f"Action failed: {public_reason(exc)}")
