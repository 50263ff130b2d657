"""The remote worker: runs a job on an agent through the hub, behind the same interface as the
local worker (``prepare(job, plugin) → run``; ``await run.wait()`` gives the ``RunResult``;
``run.abort(reason)`` stops it), so the job engine dispatches to either alike.

The agent's final report (``finish_job``, or a ``jobs`` report with ``state: "complete"``) becomes the
run's result. Output files were uploaded before it (``upload_job_file``), into
``files/jobs/<job id>/``: the result lists what is stored there, never what the agent claims.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from cronwright.runner import RunResult
from cronwright.runner.base import Stats

if TYPE_CHECKING:
    from cronwright.engine.fleet.hub import AgentHub

#: the final report's keys that are not plugin output
_REPORT_KEYS = frozenset({"code", "description", "data", "files", "cpu", "mem", "state", "complete", "progress"})


class RemoteRun:
    def __init__(self, hub: AgentHub, job: dict[str, Any]) -> None:
        self._hub = hub
        self.job = job
        self._result: asyncio.Future[RunResult] = asyncio.get_running_loop().create_future()
        self.abort_reason: str | None = None
        #: a job the agent already runs (reattached after a restart): nothing to launch
        self.attached = False
        #: handed over to another conductor: the job is not finished here
        self.released = False

    async def wait(self) -> RunResult:
        if self.attached:
            self._hub.runs[self.job["id"]] = self
        elif not self._result.done() and not self._hub.launch(self):
            self.resolve(RunResult(code="abort", description="Chosen server is no longer connected."))
        return await self._result

    def abort(self, reason: str) -> None:
        """Ask the agent to kill the job; when it is offline, the job ends here at once."""
        self.abort_reason = reason
        if not self._hub.send_abort(self.job, reason):
            self.resolve(RunResult(code="abort", description=reason))

    def release(self) -> None:
        """The job went to another conductor (the one its agent is connected to): the run ends
        here without a result to finish the job with (``released``)."""
        self.released = True
        if self._hub.runs.get(self.job["id"]) is self:
            del self._hub.runs[self.job["id"]]
        self.resolve(RunResult(code="abort", description="Handed over to another conductor."))

    def resolve(self, result: RunResult) -> None:
        if not self._result.done():
            self._result.set_result(result)

    @property
    def done(self) -> bool:
        return self._result.done()


class RemoteWorker:
    def __init__(self, hub: AgentHub) -> None:
        self._hub = hub

    def prepare(self, job: dict[str, Any], plugin: dict[str, Any] | None) -> RemoteRun:
        return RemoteRun(self._hub, job)

    def let_go(self, server_id: str) -> None:
        """The server's agent joined another conductor: a socket this one still holds for it is
        stale (a half-open connection not noticed yet) and is closed; the newest connection wins."""
        self._hub.close_stale(server_id)

    def abort_here(self, job: dict[str, Any], reason: str) -> None:
        """Another conductor still owns a job whose agent reports here (e.g. its owner died and
        the lease has not run out): tell the agent at once (the owner, or whoever adopts the job,
        records the end)."""
        self._hub.send_abort_frame(job, reason)

    def attach(self, job: dict[str, Any]) -> RemoteRun:
        """The run of a job its agent already runs (reattached after a restart or an adoption)."""
        run = RemoteRun(self._hub, job)
        run.attached = True
        self._hub.runs[job["id"]] = run  # at once: its final report may be waiting already
        self._hub.replay_held(job["id"])  # log its agent sent here before the job was ours
        return run


def result_of(report: dict[str, Any], stored: list[dict[str, Any]]) -> RunResult:
    """The run's result from an agent's final job report and the files stored for the job."""
    code = report.get("code", 0)
    if not isinstance(code, (int, float, str)) or isinstance(code, bool):
        code = 1 if code else 0
    description = report.get("description")
    data = report.get("data")
    fields = {k: v for k, v in report.items() if k not in _REPORT_KEYS}
    return RunResult(
        code=code,
        description=description if isinstance(description, str) else "",
        fields=fields,
        data=data if isinstance(data, dict) else {},
        cpu=_stats(report.get("cpu")),
        mem=_stats(report.get("mem")),
        stored=stored,
    )


def _stats(value: Any) -> Stats:
    if not isinstance(value, dict):
        return Stats()
    figures: dict[str, Any] = {}
    for key in ("min", "max", "total", "current"):
        number = value.get(key)
        if isinstance(number, (int, float)) and not isinstance(number, bool):
            figures[key] = float(number)
    count = value.get("count")
    if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
        figures["count"] = count
    return Stats(**figures) if "count" in figures else Stats()
