"""The live reports of one joined connection (servers-agents.md §5.3, §6.2): every 50 ms the new
log text of each job (``job_log {id, text, offset}``, in order) and its notices (``job_meta``); every
second a ``jobs`` frame with every job not yet finished on the conductor, followed by a ping whose
pong acknowledges the log sent so far (``spool.py``); right after the join and then every minute a
``monitor`` sample of the host (§2.1) for the conductor's ``least_cpu``/``least_mem``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Final

from cronwright.agent.jobs import JobManager, Session, SessionLost
from cronwright.agent.protocol import JOB_LOG, JOB_META, JOBS, JOBS_INTERVAL_S, MONITOR
from cronwright.agent.sysinfo import MinuteSampler

log = logging.getLogger(__name__)

#: how often new log text is sent
LOG_FLUSH_S = 0.05
#: how often a ``monitor`` sample is sent (the first goes right after each join)
MONITOR_INTERVAL_S: Final = 60.0
#: the version of the ``monitor`` message (xySat's)
MONITOR_VERSION: Final = "1.0"


async def send_logs(manager: JobManager, session: Session) -> None:
    """Send every job's pending notices and log text (the notice of a dropped spool range first)."""
    for agent_job in list(manager.jobs.values()):
        while agent_job.notices:
            await session.send(JOB_META, {"id": agent_job.id, "text": agent_job.notices[0]})
            agent_job.notices.pop(0)
        spool = agent_job.spool
        while True:
            offset, text, dropped = spool.pending()
            if dropped:
                await session.send(
                    JOB_META,
                    {"id": agent_job.id, "text": f"Log spool limit reached: {dropped} bytes of output were dropped."},
                )
                spool.mark_sent(offset, 0)
            if not text:
                break
            await session.send(JOB_LOG, {"id": agent_job.id, "text": text.decode("utf-8"), "offset": offset})
            spool.mark_sent(offset, len(text))


async def send_jobs(manager: JobManager, session: Session) -> None:
    reports = {}
    delivered = []
    for agent_job in list(manager.jobs.values()):
        reports[agent_job.id] = agent_job.report()
        if agent_job.push:
            delivered.append((agent_job, {k: len(v) for k, v in agent_job.push.items()}))
    if not reports:
        return
    await session.send(JOBS, reports)
    for agent_job, counts in delivered:  # each push goes out once
        for key, count in counts.items():
            del agent_job.push[key][:count]
            if not agent_job.push[key]:
                del agent_job.push[key]


async def _acknowledge(manager: JobManager, session: Session) -> None:
    marks = {agent_job.id: agent_job.spool.sent for agent_job in manager.jobs.values()}
    try:
        await session.confirm()
    except SessionLost:
        return
    for job_id, offset in marks.items():
        agent_job = manager.jobs.get(job_id)
        if agent_job is not None:
            agent_job.spool.mark_acked(offset)


async def report_loop(manager: JobManager, session: Session) -> None:
    """Run while ``session`` lives; returns when it is lost."""
    loop = asyncio.get_running_loop()
    next_tick = loop.time()
    acknowledging: asyncio.Task[None] | None = None
    try:
        while manager.session is session:
            await send_logs(manager, session)
            manager.sent.set()
            if loop.time() >= next_tick:
                next_tick = loop.time() + JOBS_INTERVAL_S
                await send_jobs(manager, session)
                if manager.jobs and (acknowledging is None or acknowledging.done()):
                    acknowledging = loop.create_task(_acknowledge(manager, session))
            with contextlib.suppress(TimeoutError):  # woken early by a finishing job (``JobManager.wake``)
                await asyncio.wait_for(manager.wake.wait(), LOG_FLUSH_S)
            manager.wake.clear()
    except SessionLost:
        return
    finally:
        if acknowledging is not None and not acknowledging.done():
            acknowledging.cancel()


async def monitor_loop(
    session: Session,
    sampler: MinuteSampler,
    *,
    server_id: str,
    hostname: str,
    interval_s: float = MONITOR_INTERVAL_S,
) -> None:
    """Send ``monitor {version, date, server, hostname, data}`` now and every ``interval_s`` until
    the session is lost (or the task cancelled)."""
    try:
        while True:
            sample = {
                "version": MONITOR_VERSION,
                "date": time.time(),
                "server": server_id,
                "hostname": hostname,
                "data": sampler.sample(),
            }
            await session.send(MONITOR, sample)
            await asyncio.sleep(interval_s)
    except SessionLost:
        return


async def spool_loop(manager: JobManager) -> None:
    """While disconnected, keep each job's latest report in its spool directory (every second)."""
    while True:
        if manager.session is None:
            for agent_job in list(manager.jobs.values()):
                manager.save_report(agent_job)
        await asyncio.sleep(JOBS_INTERVAL_S)
