"""Recovery: what happens to unfinished jobs whose conductor stopped — this conductor's own at its
start, and (on the leader, every few seconds) those of a conductor whose lease on them ran out.
Jobs are claimed in the database first (``Store.adopt_orphans``: a conditional update), so each
orphan is adopted by exactly one conductor, and a live conductor's jobs are never touched.

- Waiting jobs (``start_delay``, ``retry_delay``, ``ready``, ``queued``) stay as they were and run.
- ``starting`` jobs never had a process: they go back to ``ready``.
- ``active`` jobs on an agent (``remote`` on the record) run on there: they are taken over and
  their run ends with the agent's final report (or by the dead-job rule).
- other ``active``/``finishing`` jobs had a process this conductor can no longer supervise (its pipes
  died with the old process). A leftover process tree is killed (it is identified by pid and
  process start time, so an unrelated process that reused the pid is left alone), and the job ends
  as aborted with a description that says so; a ``retry`` limit relaunches it. A graceful stop
  aborts running jobs itself (``JobEngine.stop``), so this path is for crashes (``kill -9``, power
  loss).
- Logs of completed jobs that a full disk left uncompressed are compressed now (when there is room).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import TYPE_CHECKING, Any

import psutil

from cronwright.engine.jobs.rules import WAITING_STATES

if TYPE_CHECKING:
    from cronwright.engine.jobs.engine import JobEngine

LOST_REASON = "Job process was lost: Cronwright stopped unexpectedly while the job was running (found at restart)."
PEER_LOST_REASON = "Job process was lost: its conductor stopped unexpectedly while the job was running."


def kill_leftover(job: dict[str, Any]) -> bool:
    """Kill what is left of the job's process tree; True when something was killed."""
    pid = job.get("pid")
    if not isinstance(pid, int) or pid <= 1:
        return False
    try:
        process = psutil.Process(pid)
        started = float(job.get("started") or 0)
        if not started - 5 <= process.create_time() <= started + 60:
            return False  # the pid now belongs to another process
        victims = [process, *process.children(recursive=True)]
    except psutil.Error:
        return False
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    for victim in victims:
        with contextlib.suppress(psutil.Error):
            victim.kill()
    return True


async def recover_jobs(engine: JobEngine) -> None:
    """At start: adopt this conductor's own unfinished jobs and every orphan."""
    jobs = await asyncio.to_thread(engine.store.adopt_orphans, engine.conductor_id, engine.job_lease_s, True)
    await adopt(engine, jobs, own=True)

    def finished(job_id: str) -> bool:
        record = engine.store.get_job(job_id)
        return record is not None and record.get("state") == "complete"

    if await asyncio.to_thread(engine.logs.adopt_kept, finished):  # logs a full disk left uncompressed
        await asyncio.to_thread(engine.logs.compress_pending)


async def adopt_orphans(engine: JobEngine) -> int:
    """On the leader: adopt jobs whose conductor's lease on them ran out; how many."""
    jobs = await engine.offload(engine.store.adopt_orphans, engine.conductor_id, engine.job_lease_s, False)
    jobs = [j for j in jobs if j["id"] not in engine.active]
    await adopt(engine, jobs, own=False)
    return len(jobs)


async def adopt(engine: JobEngine, jobs: list[dict[str, Any]], *, own: bool) -> None:
    from cronwright.engine.jobs.finish import Outcome

    lost = []
    for job in jobs:
        state = job.get("state")
        if state in (*WAITING_STATES, "suspended"):
            engine.active[job["id"]] = job
            if own:
                engine.launcher.note(job, "Still waiting after a restart of Cronwright.")
            engine.wake_at(job.get("until"))
        elif state == "starting":
            job["state"] = "ready"
            engine.active[job["id"]] = job
            engine.records.try_persist(job)  # else stored by the monitor's next flush
        elif "remote" in job and state == "active" and engine.remote_worker is not None:
            # it runs on an agent, which keeps it running: take it over (the dead-job clock restarts)
            # the log's true length (shared storage; the record's may be a second old): the agent's
            # replay appends only what follows it
            size = max(int(job.get("log_file_size") or 0), engine.logs.size(job["id"]))
            job.update(remote=False, updated=engine.clock.now(), log_file_size=size)
            engine.active[job["id"]] = job
            engine.launcher.note(job, "Resuming management of job (its agent runs it on).")
            engine.records.try_persist(job)
            engine.dispatcher.reattach(job)
        else:  # ``finishing`` at once: no monitor pass may judge it meanwhile (e.g. as dead)
            job["state"] = "finishing"
            engine.active[job["id"]] = job
            lost.append(job)
    for job in lost:
        killed = job.get("server") == engine.local_server_id and kill_leftover(job)
        reason = LOST_REASON if own else PEER_LOST_REASON
        reason += " Its leftover processes were killed." if killed else ""
        await engine.finisher.finish(job, Outcome(code="abort", description=reason, retry_ok=True))
    if jobs:
        engine.kick()
