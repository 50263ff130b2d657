"""Rendering a running job's reports off the event loop (sdk-wire.md §3.6, docs/job-html.md).

A plugin's ``markdown``/``text``/``html`` updates are rendered (engine/jobs/render.py) in one
spawned worker process, one update at a time per job: a hostile report costs that process, never
the loop. Updates waiting behind a render are coalesced (the latest wins, as it would replace
the job's ``html`` anyway). The job engine hands updates in (``queue``) and gets results back
through ``deliver(job_id, records, notes)``.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from cronwright.engine.jobs.render import macro_context, render_records

log = logging.getLogger("cronwright.jobs")


class ReportRenderer:
    def __init__(
        self,
        public_url: str,
        job: Callable[[str], dict[str, Any] | None],
        deliver: Callable[[dict[str, Any], dict[str, Any], list[str]], None],
        track: Callable[[asyncio.Task[Any]], None],
    ) -> None:
        self._public_url = public_url
        self._job = job  # the live job by id (None once it left the active set)
        self._deliver = deliver
        self._track = track  # the engine's task bookkeeping (shutdown waits, failures logged)
        #: output waiting to be rendered, per job, and the task rendering it
        self._pending: dict[str, dict[str, Any]] = {}
        self._rendering: dict[str, asyncio.Task[Any]] = {}
        self._pool: ProcessPoolExecutor | None = None

    def queue(self, job: dict[str, Any], records: dict[str, Any]) -> None:
        job_id = job["id"]
        self._pending[job_id] = records
        if job_id not in self._rendering:
            task = asyncio.get_running_loop().create_task(self._lane(job_id))
            self._rendering[job_id] = task
            self._track(task)

    async def wait(self, job_id: str) -> None:
        """Wait until the job's reports are rendered (before its final record)."""
        task = self._rendering.get(job_id)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    async def _lane(self, job_id: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            while (records := self._pending.pop(job_id, None)) is not None:
                job = self._job(job_id)
                if job is None:
                    return
                context = macro_context(job, self._public_url)["job"]
                rendered: dict[str, Any] = {}
                try:
                    rendered, notes = await loop.run_in_executor(
                        self._worker(), render_records, records, context, self._public_url
                    )
                except BrokenProcessPool:
                    log.error("the html renderer process died; starting a new one")
                    self._pool = None
                    notes = ["Job html output could not be rendered (the renderer stopped)."]
                except Exception:
                    log.exception("rendering the html of job %s failed", job_id)
                    notes = ["Job html output could not be rendered (see the server log)."]
                self._deliver(job, rendered, notes)
        finally:
            self._rendering.pop(job_id, None)

    def _worker(self) -> ProcessPoolExecutor:
        """One worker process renders reports (started on first use): markdown is rendered in pure
        Python, and a hostile report rendered in this process would hold the interpreter lock and
        stall every request (``spawn``: never a fork of this threaded process)."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return self._pool
