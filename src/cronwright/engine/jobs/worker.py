"""The local worker: runs a dispatched job on this machine through ``cronwright.runner``.

It prepares the working directory (input files), builds the ``RunSpec``, and turns the runner's
callbacks into job updates through ``JobUpdates`` (implemented by the engine). A remote agent
will do the same on its machine and send the updates over the network.

Input files are placed under their cleaned names (never a path, ``..`` or the runner's script
directory). A job that runs as another user (plugin ``uid``, conductor running as root) owns its
working directory (mode 0700) and its input files. Every job gets copies, never links to the
stored files: a job that writes to its input must not change the upload. A second file of the same
name replaces the first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, cast

from cronwright.engine.jobs.filestore import FileStore, clean_filename
from cronwright.runner import JobRun, KillPolicy, ParamNames, RunResult, RunSpec
from cronwright.runner.environment import LaunchError, resolve_credentials

#: host variables never passed to jobs (credentials and settings of this server)
_PRIVATE_ENV_PREFIXES = ("XYOPS_", "CRONWRIGHT_")


class JobUpdates(Protocol):
    def job_started(self, job_id: str, pid: int) -> None: ...
    def job_log(self, job_id: str, chunk: bytes) -> None: ...
    def job_update(self, job_id: str, changes: dict[str, Any]) -> None: ...
    def job_push(self, job_id: str, push: dict[str, list[Any]]) -> None: ...
    def job_notice(self, job_id: str, message: str) -> None: ...


class _Sink:
    """``RunSink`` for one job."""

    def __init__(self, job_id: str, updates: JobUpdates) -> None:
        self._id = job_id
        self._updates = updates

    def on_start(self, pid: int) -> None:
        self._updates.job_started(self._id, pid)

    def on_log(self, chunk: bytes) -> None:
        self._updates.job_log(self._id, chunk)

    def on_update(self, changes: dict[str, Any]) -> None:
        self._updates.job_update(self._id, changes)

    def on_push(self, push: dict[str, list[Any]]) -> None:
        self._updates.job_push(self._id, push)

    def on_notice(self, message: str) -> None:
        self._updates.job_notice(self._id, message)


def declared_params(plugin: dict[str, Any] | None) -> frozenset[str]:
    """The param ids a plugin's definitions declare (exported to the environment whatever their case)."""
    defs = (plugin or {}).get("params")
    return frozenset(d["id"] for d in defs or [] if isinstance(d, dict) and isinstance(d.get("id"), str))


def host_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_ENV_PREFIXES)}


def job_owner(job: dict[str, Any]) -> tuple[int, int] | None:
    """``(uid, gid)`` to give the job's directory and input files to: the run-as user when the
    conductor runs as root and the job runs as someone else; otherwise None. An unknown user is
    None here (the runner fails the job with the xyOps message)."""
    if os.geteuid() != 0:
        return None
    try:
        credentials = resolve_credentials(job.get("uid") or None, job.get("gid") or None)
    except LaunchError:
        return None
    if credentials.user is None or credentials.user == os.geteuid():
        return None
    return credentials.user, credentials.group if credentials.group is not None else -1


class LocalWorker:
    def __init__(
        self,
        work_root: Path,
        files: FileStore,
        updates: JobUpdates,
        *,
        base_url: str,
        kill_timeout_s: float,
        sample_interval_s: float,
        upper_case_params: bool = False,
    ) -> None:
        self.work_root = work_root
        self._upper_case_params = upper_case_params
        self._files = files
        self._updates = updates
        self._base_url = base_url
        self._kill_timeout_s = kill_timeout_s
        self._sample_interval_s = sample_interval_s
        work_root.mkdir(parents=True, exist_ok=True)
        #: each job's own log file ($JOB_LOG) for jobs that run as the conductor's user
        self.log_root = work_root.parent / "logs"
        self.log_root.mkdir(parents=True, exist_ok=True)
        self._legacy: dict[str, Path] = {}
        #: the ``userData`` of a server (set by the engine): sent to its jobs as ``serverData``
        self.server_data: Callable[[str], Any] = lambda server_id: None

    def prepare(self, job: dict[str, Any], plugin: dict[str, Any] | None) -> JobRun:
        """Create the working directory with the input files and a ``JobRun`` (not started)."""
        cwd = self.work_root / job["id"]
        cwd.mkdir(mode=0o777, parents=True, exist_ok=True)
        owner = job_owner(job)
        if owner is not None:
            os.chown(cwd, *owner)
            os.chmod(cwd, 0o700)
        for entry in (job.get("input") or {}).get("files") or []:
            source = self._files.path_of(str(entry.get("path", "")))
            if source is None or not source.is_file():
                raise FileNotFoundError(f"Input file is missing from storage: {entry.get('filename')}")
            target = cwd / clean_filename(str(entry.get("filename") or source.name))
            target.unlink(missing_ok=True)
            shutil.copyfile(source, target)  # a copy: a job writing to its input never changes the stored upload
            if owner is not None:
                os.chown(target, *owner)
        job["cwd"] = str(cwd)
        log_file = self._legacy[job["id"]] = self._legacy_path(job["id"], owner)
        env = {**host_environment(), **{k: str(v) for k, v in (job.get("env") or {}).items()}}
        server_data = self.server_data(str(job.get("server") or ""))
        spec = RunSpec(
            # the server's ``userData`` reaches the plugin as ``serverData`` (servers-agents.md §2)
            job={**job, "serverData": server_data} if isinstance(server_data, dict) and server_data else job,
            command=str(job.get("command") or ""),
            cwd=cwd,
            base_env=env,
            kill=cast(KillPolicy, job["kill"]) if job.get("kill") in ("none", "parent", "all") else "all",
            kill_timeout_s=self._kill_timeout_s,
            script=(plugin or {}).get("script") or None,
            uid=job.get("uid") or None,
            gid=job.get("gid") or None,
            base_url=self._base_url,
            sample_interval_s=self._sample_interval_s,
            param_names=ParamNames(declared=declared_params(plugin), upper_case=self._upper_case_params),
            log_file=str(log_file),
        )
        return JobRun(spec, _Sink(job["id"], self._updates))

    def _legacy_path(self, job_id: str, owner: tuple[int, int] | None) -> Path:
        """Where the job's own log file goes (not created: the plugin creates it by writing).
        Jobs of the conductor's user: ``<data dir>/work/logs/job-<id>.log``. A job that runs as
        another user cannot reach into the private data directory, so it gets a fresh private
        directory of its own (``mkdtemp`` in the system temporary directory, owned by that user)."""
        if owner is None:
            path = self.log_root / f"job-{job_id}.log"
            path.unlink(missing_ok=True)
            return path
        directory = Path(tempfile.mkdtemp(prefix=f"cronwright-{job_id}-"))
        os.chown(directory, *owner)
        return directory / f"job-{job_id}.log"

    def legacy_log(self, job: dict[str, Any]) -> Path | None:
        """The job's own log file to attach when it finishes: a regular, non-empty file (not a
        link), owned by the job's user when it ran as another one; None otherwise (a zero-byte
        file is never attached, sdk-wire.md §2.4)."""
        path = self._legacy.get(job["id"])
        if path is None:
            return None
        try:
            info = path.lstat()
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
            return None
        owner = job_owner(job)
        if owner is not None and info.st_uid != owner[0]:
            return None
        return path

    def cleanup(self, job_id: str) -> None:
        shutil.rmtree(self.work_root / job_id, ignore_errors=True)
        path = self._legacy.pop(job_id, None)
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            if path.parent != self.log_root:
                if path.parent.is_symlink():  # the job swapped its directory for a link: remove the link only
                    path.parent.unlink(missing_ok=True)
                else:
                    shutil.rmtree(path.parent, ignore_errors=True)


__all__ = ["JobUpdates", "LocalWorker", "RunResult", "host_environment", "job_owner"]
