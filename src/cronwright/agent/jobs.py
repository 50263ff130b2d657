"""Running the jobs a conductor sends (servers-agents.md §6): ``launch_job`` → work directory, input
files, the plugin from the cache, a ``JobRun`` built as the conductor's local worker builds it →
live reports (``reports.py``) → output uploads and ``finish_job`` (``transfer.py``) → clean-up.

A job's log always goes through its spool (``spool.py``), connected or not; the reporter sends
what the conductor does not hold yet. A job that ends waits for a connection, makes sure every log
byte reached the conductor, uploads its files once and posts ``finish_job`` every second until
the conductor answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import httpx

from cronwright.agent.plugins import PluginCache
from cronwright.agent.protocol import REPORT_DROPPED_KEYS, valid_id
from cronwright.agent.spool import DEFAULT_MAX_BYTES, JobSpool
from cronwright.agent.transfer import Credential, FinishAnswer, download_file, post_finish, upload_files
from cronwright.engine.jobs.worker import declared_params, host_environment, job_owner
from cronwright.runner import JobRun, KillPolicy, OutputFile, ParamNames, RunResult, RunSpec
from cronwright.runner.outputs import clean_filename

log = logging.getLogger(__name__)

SHUTDOWN_REASON = "Server is shutting down."
FINISH_RETRY_S = 1.0
#: how long a finishing job waits for the conductor to confirm the log before trying again
CONFIRM_TIMEOUT_S = 10.0
#: pending notices kept per job while disconnected (the oldest go first)
MAX_PENDING_NOTICES = 1000


class SessionLost(Exception):
    """The connection a step relied on ended."""


class Session(Protocol):
    """A joined connection to one conductor, as the job side sees it."""

    base_url: str
    host: str

    async def send(self, cmd: str, data: dict[str, Any]) -> None:
        """Send one frame; raises ``SessionLost`` when the socket is gone."""

    async def confirm(self) -> None:
        """Return once the conductor received every frame sent before (ping → pong);
        raises ``SessionLost``."""


class SetupFailure(Exception):
    """The job cannot start: it finishes with code 1 and this description."""


@dataclass
class AgentJob:
    job: dict[str, Any]
    spool: JobSpool
    work_dir: Path
    #: what the runner reported since launch (progress, status, cpu, mem, data, ...)
    live: dict[str, Any] = field(default_factory=dict)
    #: ``push`` changes not yet delivered in a report
    push: dict[str, list[Any]] = field(default_factory=dict)
    #: ``job_meta`` lines not yet sent
    notices: list[str] = field(default_factory=list)
    run: JobRun | None = None
    result: RunResult | None = None
    legacy_log: Path | None = None
    abort_reason: str | None = None

    @property
    def id(self) -> str:
        return str(self.job["id"])

    def notice(self, text: str) -> None:
        self.notices.append(text)
        del self.notices[:-MAX_PENDING_NOTICES]

    def report(self) -> dict[str, Any]:
        """The job as the ``jobs`` frame carries it."""
        doc = {k: v for k, v in self.job.items() if k not in REPORT_DROPPED_KEYS}
        doc.update(self.live)
        doc["state"] = "active"
        if self.result is not None:  # ended, waiting to finish: the heartbeat goes on
            doc["progress"] = 1
        if self.push:
            doc["push"] = {k: list(v) for k, v in self.push.items()}
        return doc


class _Sink:
    """``RunSink`` of one agent job: the log into the spool, the rest into the job's live state."""

    def __init__(self, job: AgentJob) -> None:
        self._job = job

    def on_start(self, pid: int) -> None:
        self._job.live["pid"] = pid
        self._job.notice(f"Spawned child process: PID {pid}")

    def on_log(self, chunk: bytes) -> None:
        self._job.spool.append(chunk)

    def on_update(self, changes: dict[str, Any]) -> None:
        self._job.live.update(changes)

    def on_push(self, push: dict[str, list[Any]]) -> None:
        for key, values in push.items():
            self._job.push.setdefault(key, []).extend(values)

    def on_notice(self, message: str) -> None:
        self._job.notice(message)


class JobManager:
    """The agent's running jobs and the session they report through."""

    def __init__(
        self,
        data_dir: Path,
        credential: Credential,
        plugins: PluginCache,
        client: httpx.AsyncClient,
        *,
        spool_max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.data_dir = data_dir
        self.credential = credential
        self.plugins = plugins
        self.client = client
        self.spool_max_bytes = spool_max_bytes
        self.jobs: dict[str, AgentJob] = {}
        #: fleet-wide settings from ``joined`` (``child_kill_timeout``, ``job_param_env``, ...)
        self.settings: dict[str, Any] = {}
        self.session: Session | None = None
        self.shutting_down = False
        self._session_ready = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        #: set to make the report loop send pending log at once (a finishing job), instead of on its next tick
        self.wake = asyncio.Event()
        #: set by the report loop after each round of sending log and notices
        self.sent = asyncio.Event()

    # -- the connection ------------------------------------------------------------------------

    def attach(self, session: Session) -> None:
        """A connection joined: replay every job's log from its last acknowledged byte."""
        for agent_job in self.jobs.values():
            agent_job.spool.rewind()
            agent_job.live["reconnected"] = time.time()
            agent_job.notice(f"Reconnected to conductor server: {session.host}")
        self.session = session
        self._session_ready.set()

    def detach(self, session: Session) -> None:
        if self.session is not session:
            return
        self.session = None
        self._session_ready.clear()
        for agent_job in self.jobs.values():
            self.save_report(agent_job)

    def save_report(self, agent_job: AgentJob) -> None:
        try:
            agent_job.spool.save_report(agent_job.report())
        except (OSError, TypeError, ValueError) as exc:
            log.warning("report of job %s not spooled: %s", agent_job.id, exc)

    async def wait_session(self) -> Session:
        while self.session is None:
            await self._session_ready.wait()
        return self.session

    # -- commands ------------------------------------------------------------------------------

    def launch(self, job: Any, details: Any) -> None:
        if not isinstance(job, dict) or not valid_id(job.get("id")):
            log.warning("launch_job ignored: the job has no valid id")
            return
        job_id = job["id"]
        if job_id in self.jobs:
            log.info("launch_job ignored: job %s already runs here", job_id)
            return
        details = details if isinstance(details, dict) else {}
        if not isinstance(job.get("input"), dict) and isinstance(details.get("input"), dict):
            job["input"] = details["input"]
        if isinstance(details.get("serverData"), dict):  # the server's ``userData`` (servers-agents.md §2)
            job["serverData"] = details["serverData"]
        spool = JobSpool(self.data_dir / "spool" / job_id, max_bytes=self.spool_max_bytes)
        agent_job = AgentJob(job=job, spool=spool, work_dir=self.data_dir / "work" / job_id)
        self.jobs[job_id] = agent_job
        self._idle.clear()
        log.info("job %s launched (plugin %s)", job_id, job.get("plugin"))
        task = asyncio.get_running_loop().create_task(self._run(agent_job), name=f"agent-job-{job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def abort(self, job_id: Any, reason: Any) -> None:
        agent_job = self.jobs.get(job_id) if isinstance(job_id, str) else None
        if agent_job is None or agent_job.result is not None:
            log.info("abort_job ignored: job %s is not running here", job_id)
            return
        reason_text = str(reason or "Aborted by user.")
        log.info("job %s aborted: %s", job_id, reason_text)
        agent_job.abort_reason = agent_job.abort_reason or reason_text
        if agent_job.run is not None:
            agent_job.run.abort(reason_text)

    def abort_all(self, reason: str) -> None:
        self.shutting_down = True
        for job_id in list(self.jobs):
            self.abort(job_id, reason)

    async def wait_idle(self, timeout_s: float) -> bool:
        """True once no job is left (all finished and reported), False after ``timeout_s``."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Stop every job task (their processes are killed by the runner) and close the spools."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for agent_job in self.jobs.values():
            agent_job.spool.close()

    # -- one job -------------------------------------------------------------------------------

    async def _run(self, agent_job: AgentJob) -> None:
        try:
            try:
                run = await self._prepare(agent_job)
            except SetupFailure as exc:
                agent_job.result = RunResult(code=1, description=str(exc))
            else:
                agent_job.run = run
                if agent_job.abort_reason is not None:
                    run.abort(agent_job.abort_reason)
                agent_job.result = await run.wait()
            agent_job.spool.close_input()
            for message in agent_job.result.notices:
                if message not in agent_job.notices:
                    agent_job.notice(message)
            result = agent_job.result
            log.info("job %s ended: code %r %s", agent_job.id, result.code, result.description[:200])
            await self._finish(agent_job)
        finally:
            self._cleanup(agent_job)

    async def _prepare(self, agent_job: AgentJob) -> JobRun:
        """The work directory, the input files and the (not started) run."""
        job = agent_job.job
        if self.shutting_down:
            raise SetupFailure("Setup Error: Server is shutting down. Job cannot launch.")
        plugin = self.plugins.get(job.get("plugin"))
        if plugin is None:
            raise SetupFailure(f"Plugin not found: {job.get('plugin')}")
        session = self.session
        cwd = agent_job.work_dir
        try:
            cwd.mkdir(mode=0o777, parents=True, exist_ok=True)
            owner = job_owner(job)
            if owner is not None:
                os.chown(cwd, *owner)
                os.chmod(cwd, 0o700)
        except OSError as exc:
            raise SetupFailure(f"Setup Error: {exc}") from None
        files = (job.get("input") or {}).get("files") or []
        for entry in files if isinstance(files, list) else []:
            if not isinstance(entry, dict):
                continue
            name = clean_filename(str(entry.get("filename") or Path(str(entry.get("path", ""))).name))
            try:
                if session is None:
                    raise OSError("not connected to a conductor")
                target = cwd / name
                target.unlink(missing_ok=True)
                await download_file(self.client, session.base_url, str(entry.get("path", "")), target)
                if owner is not None:
                    os.chown(target, *owner)
            except (OSError, httpx.HTTPError) as exc:
                raise SetupFailure(f"Setup Error: Error: Failed to download job file: {name}: {exc}") from None
        job["cwd"] = str(cwd)
        agent_job.legacy_log = self._legacy_path(agent_job.id, owner)
        script = job.get("script")
        if not isinstance(script, str) or script in ("", "(File)"):
            script = plugin.get("script")
        env = {**host_environment(), **{k: str(v) for k, v in (job.get("env") or {}).items()}}
        spec = RunSpec(
            job=job,
            command=str(job.get("command") or plugin.get("command") or ""),
            cwd=cwd,
            base_env=env,
            kill=cast(KillPolicy, job["kill"]) if job.get("kill") in ("none", "parent", "all") else "all",
            kill_timeout_s=float(self.settings.get("child_kill_timeout") or 10),
            script=script if isinstance(script, str) and script else None,
            uid=job.get("uid") or None,
            gid=job.get("gid") or None,
            base_url=session.base_url if session is not None else "",
            param_names=ParamNames(
                declared=declared_params(plugin), upper_case=self.settings.get("job_param_env") == "all"
            ),
            log_file=str(agent_job.legacy_log),
        )
        return JobRun(spec, _Sink(agent_job))

    def _legacy_path(self, job_id: str, owner: tuple[int, int] | None) -> Path:
        """Where the job's own log file (``$JOB_LOG``) goes: ``<data-dir>/logs/``, or a private
        temporary directory owned by the job's user when it runs as someone else."""
        if owner is None:
            directory = self.data_dir / "logs"
            directory.mkdir(parents=True, exist_ok=True)
        else:
            directory = Path(tempfile.mkdtemp(prefix=f"cronwright-{job_id}-"))
            os.chown(directory, *owner)
        path = directory / f"job-{job_id}.log"
        path.unlink(missing_ok=True)
        return path

    def _outputs(self, agent_job: AgentJob) -> list[OutputFile]:
        assert agent_job.result is not None
        outputs = list(agent_job.result.files)
        legacy = agent_job.legacy_log
        if legacy is not None and legacy.is_file() and not legacy.is_symlink() and legacy.stat().st_size > 0:
            outputs.append(OutputFile(path=legacy, filename=f"job-{agent_job.id}.log", delete=True))
        return outputs

    async def _finish(self, agent_job: AgentJob) -> None:
        """Deliver the whole log, upload the files once, then ``finish_job`` until answered."""
        records: list[dict[str, Any]] | None = None
        upload_error = ""
        while True:
            session = await self.wait_session()
            try:
                await self._deliver_log(agent_job, session)
                if records is None:
                    records, upload_error = await upload_files(
                        self.client, session.base_url, self.credential, agent_job.id, self._outputs(agent_job)
                    )
                final = self._final_report(agent_job, records, upload_error)
                answer = await post_finish(
                    self.client, session.base_url, self.credential, final, agent_job.spool.written
                )
            except SessionLost:
                answer = FinishAnswer.RETRY
            if answer is not FinishAnswer.RETRY:
                log.info("job %s finished on the conductor (%s)", agent_job.id, answer.value)
                return
            await asyncio.sleep(FINISH_RETRY_S)

    async def _deliver_log(self, agent_job: AgentJob, session: Session) -> None:
        """Wait until the reporter sent every log byte and notice on ``session``, then until the
        conductor confirmed them."""
        spool = agent_job.spool
        while spool.sent < spool.written or agent_job.notices:
            if self.session is not session:
                raise SessionLost
            self.sent.clear()
            self.wake.set()  # the report loop sends now, not on its next tick
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.sent.wait(), 1.0)
        written = spool.written
        try:
            await asyncio.wait_for(session.confirm(), CONFIRM_TIMEOUT_S)
        except TimeoutError:
            raise SessionLost from None
        spool.mark_acked(written)

    def _final_report(self, agent_job: AgentJob, records: list[dict[str, Any]], upload_error: str) -> dict[str, Any]:
        result = agent_job.result
        assert result is not None
        final: dict[str, Any] = {**agent_job.job, **agent_job.live, **result.fields}
        for key in ("procs", "conns", "reconnected"):
            final.pop(key, None)
        code: Any = result.code
        description = result.description
        if upload_error:
            code, description, records = "upload", upload_error, []
        final.update(
            state="complete",
            complete=True,
            code=code,
            description=description,
            data=result.data or agent_job.live.get("data") or {},
            files=records,
            progress=1,
        )
        if result.pid is not None:
            final["pid"] = result.pid
        if result.cpu.count:
            final["cpu"] = result.cpu.as_dict()
        if result.mem.count:
            final["mem"] = result.mem.as_dict()
        if agent_job.push:
            final["push"] = {k: list(v) for k, v in agent_job.push.items()}
        return final

    def _cleanup(self, agent_job: AgentJob) -> None:
        self.jobs.pop(agent_job.id, None)
        shutil.rmtree(agent_job.work_dir, ignore_errors=True)
        legacy = agent_job.legacy_log
        if legacy is not None:
            legacy.unlink(missing_ok=True)
            if legacy.parent != self.data_dir / "logs":
                shutil.rmtree(legacy.parent, ignore_errors=True)
        agent_job.spool.remove()
        if not self.jobs:
            self._idle.set()
