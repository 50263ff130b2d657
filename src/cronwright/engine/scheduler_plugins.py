"""Scheduler-plugin gates (triggers.md §8): fires of events with an enabled ``plugin`` trigger are
deferred, grouped by plugin, and each plugin process decides which of them launch.

Protocol: one JSON line on stdin ``{xy:1, type:"trigger", items:[…], secrets:{}, base_url,
active_jobs:[]}``; the LAST non-empty stdout line must be ``{xy:1, items:[…]}`` aligned with the
input items, each ``true``/``false`` or ``{launch, data, delay, invisible}``. Anything else
(a crash, a timeout, bad JSON) launches nothing and is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import shlex
import signal
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cronwright import __version__, jsonutil
from cronwright.config import Settings
from cronwright.engine.catalog import Catalog
from cronwright.engine.jobs.worker import host_environment
from cronwright.triggers import Fire

log = logging.getLogger("cronwright.scheduler")
DEFAULT_TIMEOUT_S = 30.0
MAX_OUTPUT_BYTES = 16 * 1024 * 1024


def wall_parts(epoch: int, zone: str) -> dict[str, int]:
    """``dargs`` of a minute: year, month, day, weekday (0 = Sunday), hour, minute, rday."""
    try:
        tz = ZoneInfo(zone)
    except (ValueError, KeyError):
        tz = ZoneInfo("UTC")
    local = datetime.fromtimestamp(epoch, tz)
    next_month = local.replace(day=28).toordinal() + 4
    last_day = datetime.fromordinal(next_month).replace(day=1).toordinal() - 1
    days_in_month = last_day - local.replace(day=1).toordinal() + 1
    return {
        "year": local.year,
        "month": local.month,
        "day": local.day,
        "weekday": (local.weekday() + 1) % 7,
        "hour": local.hour,
        "minute": local.minute,
        "rday": local.day - days_in_month - 1,
    }


class SchedulerPlugins:
    def __init__(self, catalog: Catalog, settings: Settings, launch: Callable[[dict[str, Any], Fire], None]) -> None:
        self._catalog = catalog
        self._settings = settings
        self._launch = launch
        self._pending: dict[str, list[tuple[dict[str, Any], Fire]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def defer(self, event: dict[str, Any], fire: Fire) -> None:
        plugin_id = str((fire.plugin_gate or {}).get("plugin_id") or "")
        self._pending.setdefault(plugin_id, []).append((event, fire))

    def run_pending(self) -> None:
        pending, self._pending = self._pending, {}
        for plugin_id, items in pending.items():
            task = asyncio.get_running_loop().create_task(self._run_group(plugin_id, items))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run_group(self, plugin_id: str, items: list[tuple[dict[str, Any], Fire]]) -> None:
        plugin = self._catalog["plugins"].get(plugin_id)
        if plugin is None or plugin.get("type") != "scheduler":
            log.warning("scheduler plugin not found: %s (%d launches dropped)", plugin_id, len(items))
            return
        if not plugin.get("enabled"):
            return
        payload = {
            "xy": 1,
            "type": "trigger",
            "secrets": {},
            "base_url": self._settings.public_url,
            "active_jobs": [],
            "items": [self._item(event, fire) for event, fire in items],
        }
        try:
            answer = await self._call(plugin, payload)
        except Exception as exc:
            log.warning("scheduler plugin %s failed: %s", plugin_id, exc)
            return
        results = answer.get("items") if isinstance(answer, dict) and answer.get("xy") else None
        if not isinstance(results, list) or not results:
            log.warning("scheduler plugin %s answered no items: nothing launches", plugin_id)
            return
        for (event, fire), result in zip(items, results, strict=False):
            decision: dict[str, Any] = result if isinstance(result, dict) else {"launch": bool(result)}
            if not decision.get("launch"):
                continue
            changed = dataclasses.replace(fire, invisible=bool(decision.get("invisible")), plugin_gate=None)
            if isinstance(decision.get("delay"), (int, float)) and decision["delay"] > 0:
                changed = dataclasses.replace(changed, until=int(fire.at + decision["delay"]))
            extra = decision.get("data")
            if isinstance(extra, dict):
                base = fire.data if isinstance(fire.data, dict) else {}
                changed = dataclasses.replace(changed, data={**base, **extra})
            self._launch(event, changed)

    def _item(self, event: dict[str, Any], fire: Fire) -> dict[str, Any]:
        gate = dict(fire.plugin_gate or {})
        zone = str(gate.get("timezone") or self._settings.tz or "UTC")
        return {
            **gate,
            "timezone": zone,
            "now": fire.at,
            "dargs": wall_parts(fire.minute, zone),
            "job": {"event": event["id"], "title": event.get("title"), "params": event.get("params") or {}},
        }

    async def _call(self, plugin: dict[str, Any], payload: dict[str, Any]) -> Any:
        workdir = Path(plugin.get("cwd") or tempfile.gettempdir())
        env = {**host_environment(), "XYOPS": __version__, "XYOPS_BASE_URL": self._settings.public_url}
        args = shlex.split(str(plugin.get("command") or ""))
        script_file = None
        if plugin.get("script"):
            with tempfile.NamedTemporaryFile("w", delete=False, prefix="cronwright-sched-", suffix=".script") as handle:
                handle.write(str(plugin["script"]).replace("\r\n", "\n"))
            os.chmod(handle.name, 0o755)
            script_file = handle.name
            args.append(script_file)
        if not args:
            raise ValueError("plugin has no command")
        timeout = float(plugin.get("timeout") or DEFAULT_TIMEOUT_S)
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=workdir,
            env=env,
            start_new_session=True,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(jsonutil.dumps(payload) + b"\n"), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise TimeoutError(f"no answer within {timeout:g} s") from None
        finally:
            if script_file:
                with contextlib.suppress(OSError):
                    os.unlink(script_file)
        if proc.returncode:
            raise RuntimeError(f"exited with code {proc.returncode}")
        lines = [line for line in out[:MAX_OUTPUT_BYTES].splitlines() if line.strip()]
        return jsonutil.loads_untrusted(lines[-1]) if lines else None
