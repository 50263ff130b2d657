"""Requests for a job that another conductor may run: ``abort``, ``resume``, ``skip_delay``,
``flush`` (drop from its queue), sent through any conductor (multi-conductor.md), and ``handoff``
(an agent's job goes to the conductor the agent reports to now, docs/fleet.md), and ``launch``
(a starting job goes to the conductor that holds its chosen server, which runs it: ``send``).

A request is stored in global state as ``jobctl:<job id>:<action>`` and announced on the change
feed. The job's conductor carries it out within moments (the announcement) or on its next pass
(``ADOPT_INTERVAL_S``, when the announcement was lost); a conductor that adopts the job later
honours it too. A request whose job has ended is dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cronwright.engine.jobs.engine import JobEngine

#: global-state keys of requests passed between conductors
CONTROL_PREFIX = "jobctl:"
ACTIONS = ("abort", "resume", "skip_delay", "flush", "handoff", "launch")


class JobControl:
    def __init__(self, engine: JobEngine) -> None:
        self._engine = engine

    def request(self, job_id: str, action: str, reason: str = "") -> None:
        """Ask the job's conductor, wherever it runs, to carry out ``action``."""
        if action not in ACTIONS:
            raise ValueError(f"unknown job request: {action}")
        store = self._engine.store
        with store.write() as w:
            w.set_kv(f"{CONTROL_PREFIX}{job_id}:{action}", {"reason": reason})
        store.announce({"k": "control", "id": job_id})

    def send(self, job_id: str, holder: str, hops: int) -> bool:
        """Give this conductor's starting job to ``holder`` (it holds the job's chosen server), which
        launches it: the request is stored first, then the job changes owner, then ``holder`` is
        told. False (and no request left) when the job is no longer this conductor's."""
        engine = self._engine
        key = f"{CONTROL_PREFIX}{job_id}:launch"
        with engine.store.write() as w:
            w.set_kv(key, {"reason": holder, "hops": hops})
        if not engine.store.transfer_job(job_id, engine.conductor_id, holder, engine.job_lease_s):
            with engine.store.write() as w:
                w.delete_kv(key)
            return False
        engine.store.announce({"k": "control", "id": job_id, "to": holder})
        return True

    async def apply(self) -> None:
        """Carry out the requests for this conductor's jobs; drop those whose job has ended."""
        engine = self._engine
        requests = await engine.offload(engine.store.kv_with_prefix, CONTROL_PREFIX)
        for key, request in requests.items():
            job_id, _, action = key[len(CONTROL_PREFIX) :].partition(":")
            job = engine.active.get(job_id)
            if job is None and action == "launch":
                if not await self._receive(job_id, request):
                    continue  # not handed over yet (or it is another conductor's)
            elif job is not None:
                reason = request.get("reason") if isinstance(request, dict) else None
                self._carry_out(job, action, reason if isinstance(reason, str) else "")
            elif (await engine.offload(engine.store.get_job, job_id) or {}).get("state", "complete") != "complete":
                continue  # another conductor's job: it acts on the request
            with engine.store.write() as w:
                w.delete_kv(key)

    def _carry_out(self, job: dict[str, Any], action: str, reason: str) -> None:
        engine = self._engine
        if action == "abort":
            engine.abort(job["id"], reason or "Aborted.")
        elif action == "resume" and job["state"] == "suspended":
            if reason:
                engine.launcher.note(job, reason)
            engine.resume(job["id"])
        elif action == "skip_delay" and job["state"] in ("start_delay", "retry_delay"):
            engine.skip_delay(job)
        elif action == "flush" and job["state"] == "queued":
            engine.drop_queued([job])
        elif action == "handoff" and reason and reason != engine.conductor_id:
            # ``reason``: the conductor the job's agent reports to now (a request to this very
            # conductor is stale: it asked before it adopted the job itself)
            engine.hand_off(job, reason)

    async def _receive(self, job_id: str, request: Any) -> bool:
        """Take a job another conductor sent here (``send``) and run it. False while the job is
        not this conductor's (the request stays); True when the request is done with."""
        engine = self._engine
        owner, _ = await engine.offload(engine.store.job_owner, job_id)
        record = await engine.offload(engine.store.get_job, job_id)
        if record is None or record.get("state") == "complete":
            return True
        if owner != engine.conductor_id:
            return False
        hops = request.get("hops") if isinstance(request, dict) else 0
        engine.receive(record, hops if isinstance(hops, int) and not isinstance(hops, bool) else 0)
        return True
