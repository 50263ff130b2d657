"""The engine's background tasks: counted (shutdown waits for them) and never failing silently."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("cronwright.jobs")


class Tasks:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        self.track(asyncio.get_running_loop().create_task(coro, name=name))

    def track(self, task: asyncio.Task[Any]) -> None:
        """Count a task created elsewhere (shutdown waits for it; a failure is logged)."""
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def wait(self, timeout: float) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("job task %s failed", task.get_name(), exc_info=task.exception())
