"""The runner contract: what the conductor (or, later, a remote agent) hands to the runner and
what it gets back. The runner spawns and supervises ONE plugin process for one job; it knows
nothing of HTTP, SQL or the job engine, so a remote agent can reuse it unchanged.

Flow: build a ``RunSpec`` → ``run = JobRun(spec, sink)`` → ``result = await run.wait()``;
``run.abort(reason)`` may be called at any time from the event loop. While the process runs, the
runner reports through the ``RunSink`` callbacks (called on the event loop thread, never
concurrently); when it ends, ``wait()`` returns a ``RunResult`` (it never raises for anything the
plugin does: spawn failures, crashes and bad output all become a result with a code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from cronwright.runner.environment import ParamNames

KillPolicy = Literal["none", "parent", "all"]


@dataclass(frozen=True)
class RunSpec:
    #: the job document (all job fields: id, event, params (macro-expanded), input {data, files},
    #: now, started, source, username, server, ...). Written as ONE JSON line to the child's stdin,
    #: with ``type`` forced to "event" and ``xy: 1`` added, plus ``cwd`` and ``log_file`` (below).
    job: dict[str, Any]
    #: the plugin command: "[shell-plugin]", "[test-plugin]" (built-ins) or an executable with
    #: arguments, split shell-style (quotes respected, $VAR expanded from the child environment)
    command: str
    #: the per-job working directory; it exists and already holds the job's input files
    cwd: Path
    #: the environment the conductor provides (host environment without XYOPS_* / CRONWRIGHT_*
    #: variables, plus config ``job_env`` and the job's ``env``); the runner adds the documented
    #: job variables on top (see ``build_environment``)
    base_env: dict[str, str]
    #: abort policy: "none" (do not signal), "parent" (SIGTERM the main process), "all" (SIGTERM the
    #: whole process tree); SIGKILL whatever is still alive after ``kill_timeout_s``
    kill: KillPolicy = "all"
    kill_timeout_s: float = 10.0
    #: plugin ``script`` source (custom plugins): written to a file whose path is appended as the
    #: last command argument
    script: str | None = None
    #: run the process as this user / group (name or number); None = as the conductor
    uid: str | int | None = None
    gid: str | int | None = None
    #: base URL of the conductor (JOB_BASE_URL)
    base_url: str = ""
    #: how often the process tree's CPU and memory are sampled
    sample_interval_s: float = 1.0
    #: batching of log output: chunks are delivered to ``RunSink.on_log`` at most this often
    log_flush_s: float = 0.05
    #: the job's own log file (``log_file`` in the job JSON, ``$JOB_LOG``): an absolute path in a
    #: directory the job's user can create it in; "" only when the caller has none
    log_file: str = ""
    #: which params become environment variables besides the deny-list (plugin-declared names;
    #: upper-case names only with ``job_param_env = "all"``)
    param_names: ParamNames = field(default_factory=ParamNames)


@dataclass
class OutputFile:
    """An output file the plugin declared, resolved to a local path (not yet stored)."""

    path: Path  # absolute path of an existing regular file
    filename: str  # the name to store it under (cleaned: unsafe characters replaced by "_")
    delete: bool = False  # the plugin asked for the local copy to be removed after storing


@dataclass
class Stats:
    """min/max/total/count/current of a sampled figure (cpu in % of one core, mem in bytes)."""

    min: float = 0.0
    max: float = 0.0
    total: float = 0.0
    count: int = 0
    current: float = 0.0

    def add(self, value: float) -> None:
        self.min = value if self.count == 0 else min(self.min, value)
        self.max = max(self.max, value)
        self.total += value
        self.count += 1
        self.current = value

    def as_dict(self) -> dict[str, float]:
        return {"min": self.min, "max": self.max, "total": self.total, "count": self.count, "current": self.current}


@dataclass
class RunResult:
    #: 0 for success; a number or string otherwise (not yet normalized: the engine lower-cases
    #: strings etc.); "abort" when aborted
    code: int | float | str = 0
    description: str = ""
    #: every other key the plugin set with protocol records (progress, status, perf, table, html,
    #: markdown, text, label, update_event, delete_event, unknown keys ...), last value wins
    fields: dict[str, Any] = field(default_factory=dict)
    #: accumulated output data (merged key by key; arrays concatenated)
    data: dict[str, Any] = field(default_factory=dict)
    #: resolved output files (``files`` records plus ``push.files``)
    files: list[OutputFile] = field(default_factory=list)
    pid: int | None = None
    exit_code: int | None = None  # process exit status, None if it never ran or was killed
    signal: str | None = None  # e.g. "SIGKILL" when killed by a signal
    cpu: Stats = field(default_factory=Stats)
    mem: Stats = field(default_factory=Stats)
    #: meta-log lines (warnings about malformed records etc.), in order
    notices: list[str] = field(default_factory=list)
    #: output files already in storage (records): what a remote agent uploaded for the job
    stored: list[dict[str, Any]] = field(default_factory=list)


class RunSink(Protocol):
    """Where a running job reports to. Implementations must not block (they are called on the
    event loop); they may record, persist asynchronously or forward over a network."""

    def on_start(self, pid: int) -> None:
        """The process was spawned."""

    def on_log(self, chunk: bytes) -> None:
        """Output for the job log, in order (stdout text lines that are not protocol records,
        annotated if the Shell plugin's ``annotate`` is set; stderr raw)."""

    def on_update(self, changes: dict[str, Any]) -> None:
        """A protocol record changed the job: keys such as ``progress``, ``status``, ``perf``,
        ``label``, ``table``, ``html``, and ``data`` (the accumulated value itself, updated in place by
        later records: read it, copy it to keep a snapshot) — never ``code`` or
        ``complete`` (those arrive in the result). ``cpu``/``mem`` samples arrive here too as
        ``{"cpu": Stats.as_dict(), "mem": Stats.as_dict()}`` about every ``sample_interval_s``
        (this doubles as the heartbeat)."""

    def on_push(self, push: dict[str, list[Any]]) -> None:
        """A ``push`` record for the conductor: ``tags``, ``actions``, ``limits`` (``files`` are
        handled by the runner)."""

    def on_notice(self, message: str) -> None:
        """A meta-log line (e.g. "Malformed JSON record ignored: ...")."""
