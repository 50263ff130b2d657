"""``JobRun``: spawn one plugin process, supervise it, and turn what happens into a ``RunResult``
(plugins.md §3–§6).

Lifecycle: ``wait()`` prepares the launch, spawns, then waits for the process to exit and for its
stdout/stderr to reach EOF (on the happy path nothing else: no sleeps, no psutil before the first
sample). A process that exited while a background descendant still holds the pipes gets
``DRAIN_S`` more seconds of reading. ``abort()`` marks the result, stops record processing and
kills per policy on a side task (``_terminate``) that the run waits for. Cancelling the run's own
task (event loop shutdown) SIGKILLs the whole tree.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
from collections.abc import Callable

from cronwright.runner import shell
from cronwright.runner.base import RunResult, RunSink, RunSpec
from cronwright.runner.child import STDOUT, Child
from cronwright.runner.environment import LaunchError
from cronwright.runner.launch import Launch, prepare_launch
from cronwright.runner.logbatch import LogBatcher
from cronwright.runner.outputs import resolve_output_files
from cronwright.runner.protocol import OutputInterpreter, is_success_code
from cronwright.runner.tree import ProcessTree, is_alive

#: how long output is still read after the process exited (a descendant may hold the pipes)
DRAIN_S = 1.0
#: how often liveness is checked while aborting
_ABORT_POLL_S = 0.02


class JobRun:
    """One run of one plugin process; see ``cronwright.runner.base`` for the contract."""

    def __init__(self, spec: RunSpec, sink: RunSink) -> None:
        self._spec = spec
        self._sink = sink
        self._result = RunResult()
        self._outcome: asyncio.Future[RunResult] | None = None
        self._task: asyncio.Task[None] | None = None
        self._abort_reason: str | None = None
        self._launch: Launch | None = None
        self._log: LogBatcher | None = None
        self._output: OutputInterpreter | None = None
        self._child: Child | None = None
        self._tree: ProcessTree | None = None
        self._sampler: asyncio.TimerHandle | None = None
        self._terminator: asyncio.Task[None] | None = None
        self._delivering = False

    @property
    def pid(self) -> int | None:
        return self._result.pid

    @property
    def finished(self) -> bool:
        """The result is final (being or already delivered: ``wait()`` returns at once)."""
        return self._delivering

    async def wait(self) -> RunResult:
        """Start the run on the first call; return its result (every caller gets the same one).
        Cancelling a caller does not stop the run: use ``abort``."""
        if self._outcome is None:
            loop = asyncio.get_running_loop()
            self._outcome = loop.create_future()
            self._task = loop.create_task(self._supervise(), name=f"job-run-{self._spec.job.get('id', '')}")
        return await asyncio.shield(self._outcome)

    def abort(self, reason: str) -> None:
        """Abort: the result gets ``code="abort"``, ``description=reason`` and later records are
        ignored. Safe at any time; a no-op once the result is final or for a second call.

        Per ``spec.kill``: "none" signals nothing and delivers the result at once (as xyOps does;
        the process keeps running, its output is drained and dropped, it is reaped when it
        exits); "parent" sends SIGTERM to the main process and SIGKILL after ``kill_timeout_s``;
        "all" sends SIGTERM to the process group and every descendant (those in other sessions
        too), then SIGKILL to whatever is left after ``kill_timeout_s``. With "parent" and "all"
        the result comes once the killing is done."""
        if self._abort_reason is not None or self.finished:
            return
        self._abort_reason = str(reason)
        if self._output is not None:
            self._output.aborting = True
        if self._child is not None:
            self._start_termination()

    # -- the run -------------------------------------------------------------------------------

    async def _supervise(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            self._dispose()
            if self._outcome is not None and not self._outcome.done():
                self._outcome.cancel()
            raise
        except Exception as exc:  # a runner bug must not leave the caller waiting forever
            logging.getLogger(__name__).exception("job run failed: %s", self._spec.job.get("id"))
            self._dispose()
            self._result.code = 1
            self._result.description = f"Child process error: {type(exc).__name__} (see the server log)"
        self._deliver()

    async def _run(self) -> None:
        if self._abort_reason is not None:
            return
        try:
            launch = self._launch = prepare_launch(self._spec)
        except LaunchError as exc:
            self._result.code, self._result.description = exc.code, exc.description
            return
        self._log = LogBatcher(self._sink.on_log, self._spec.log_flush_s)
        output = self._output = OutputInterpreter(
            self._result, self._sink, self._log, shell=launch.shell, annotate=launch.annotate
        )
        for notice in launch.notices:
            output.notice(notice)
        try:
            child = Child.spawn(
                launch.argv,
                cwd=self._spec.cwd,
                env=launch.env,
                popen_kwargs=launch.credentials.popen_kwargs(),
                stdin=launch.stdin,
                on_output=self._on_output,
                on_closed=self._on_closed,
            )
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            self._result.code, self._result.description = 1, f"{launch.error_prefix}{exc}"
            return
        self._child = child
        self._tree = ProcessTree(child.pid, lambda: child.reaped)
        self._on_start(child.pid)
        if self._abort_reason is not None:
            self._start_termination()
        elif self._spec.sample_interval_s > 0:
            self._sampler = asyncio.get_running_loop().call_later(self._spec.sample_interval_s, self._sample)
        returncode = await child.exited
        self._stop_sampler()
        await self._wait_for_output_end(child)
        child.close()
        output.end_stdout()
        if not self.finished:
            self._classify_exit(returncode)

    async def _wait_for_output_end(self, child: Child) -> None:
        """Wait for EOF on both pipes, at most ``DRAIN_S`` after exit, longer while an abort is
        still killing the tree (its SIGKILL closes the pipes)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_S
        while not child.pipes_closed.done():
            terminator = self._terminator
            if terminator is not None and not terminator.done():
                await asyncio.wait([child.pipes_closed, terminator], return_when=asyncio.FIRST_COMPLETED)
                deadline = loop.time() + DRAIN_S
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                if self._output is not None:
                    self._output.notice("Stopped reading output: a background process still holds the output pipes.")
                break
            await asyncio.wait([child.pipes_closed], timeout=remaining)
        if self._terminator is not None:
            await self._terminator

    def _classify_exit(self, returncode: int) -> None:
        """plugins.md §5 and §6: the result of a process that exited, unless a record completed it."""
        result = self._result
        result.exit_code = returncode if returncode >= 0 else None
        result.signal = str(shell.exit_code(returncode)) if returncode < 0 else None
        output = self._output
        if self._abort_reason is not None or output is None or output.completed:
            return
        if self._launch is not None and self._launch.shell:
            sent_html = "html" in result.fields
            code, description, html = shell.exit_result(returncode, output.stderr_text(), sent_html=sent_html)
            result.code, result.description = code, description
            if html is not None:
                result.fields["html"] = html
                self._sink.on_update({"html": html})  # like any record: the conductor renders it live
        elif returncode > 0:
            result.code = returncode
            result.description = f"Child {result.pid} crashed with code: {returncode}"
        else:
            result.code = "warning"
            result.description = "Process exited without reporting job completion."
            result.fields["unknown"] = 1

    def _deliver(self) -> None:
        """Finish the result (abort, default description, output files), flush the log and hand
        the result to every ``wait()`` caller. Nothing changes the result afterwards."""
        if self._outcome is None or self._delivering:
            return
        self._delivering = True  # a sink callback below may call abort(): it must not re-enter
        self._stop_sampler()
        result = self._result
        if self._abort_reason is not None:
            result.code, result.description = "abort", self._abort_reason
        if not is_success_code(result.code) and not result.description:
            result.description = "Unknown Error (no description provided)"
        output = self._output
        if output is not None:
            run_as = self._launch.credentials if self._launch is not None else None
            files, notices = resolve_output_files(output.file_specs, self._spec.cwd, run_as=run_as)
            result.files = files
            for notice in notices:
                output.notice(notice)
            output.muted = True
        if self._log is not None:
            self._log.flush()
        self._outcome.set_result(result)

    # -- callbacks -----------------------------------------------------------------------------

    def _on_start(self, pid: int) -> None:
        """The process exists; none of its output was read yet."""
        self._result.pid = pid
        self._sink.on_start(pid)
        launch, output = self._launch, self._output
        if launch is not None and launch.pass_data is not None and output is not None and output.accepting:
            output.apply({"data": launch.pass_data})

    def _on_output(self, fd: int, data: bytes) -> None:
        if self._output is not None:
            (self._output.feed_stdout if fd == STDOUT else self._output.feed_stderr)(data)

    def _on_closed(self, fd: int) -> None:
        if fd == STDOUT and self._output is not None:
            self._output.end_stdout()

    def _sample(self) -> None:
        self._sampler = None
        if self._tree is None or self.finished:
            return
        figures = self._tree.sample()
        if figures is not None and not self.finished:
            self._result.cpu.add(figures[0])
            self._result.mem.add(figures[1])
            self._sink.on_update({"cpu": self._result.cpu.as_dict(), "mem": self._result.mem.as_dict()})
        self._sampler = asyncio.get_running_loop().call_later(self._spec.sample_interval_s, self._sample)

    def _stop_sampler(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            self._sampler = None

    # -- abort ---------------------------------------------------------------------------------

    def _start_termination(self) -> None:
        if self._spec.kill == "none":
            # xyOps: the job ends now and the process is left alone (still drained and reaped)
            self._deliver()
            if self._log is not None:
                self._log.discard()
            return
        if self._terminator is None:
            self._terminator = asyncio.get_running_loop().create_task(self._terminate())

    async def _terminate(self) -> None:
        """SIGTERM per policy, SIGKILL after ``kill_timeout_s`` what is still alive ("parent":
        the main process; "all": the group and every known member, re-scanned)."""
        child, tree = self._child, self._tree
        assert child is not None and tree is not None
        if self._spec.kill == "parent":
            child.send_signal(signal.SIGTERM)
            if not await _wait_until(lambda: child.reaped, self._spec.kill_timeout_s):
                child.send_signal(signal.SIGKILL)
            return
        targets = tree.signal_all(signal.SIGTERM)

        def tree_gone() -> bool:
            return child.reaped and not any(is_alive(process) for process in targets)

        if not await _wait_until(tree_gone, self._spec.kill_timeout_s):
            targets = tree.signal_all(signal.SIGKILL)
            await _wait_until(tree_gone, DRAIN_S)

    def _dispose(self) -> None:
        self._stop_sampler()
        if self._terminator is not None:
            self._terminator.cancel()
        if self._tree is not None:
            self._tree.signal_all(signal.SIGKILL)
        if self._child is not None:
            self._child.dispose()
        if self._log is not None:
            self._log.discard()


async def _wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout_s`` passed (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, timeout_s)
    while not condition():
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        await asyncio.sleep(min(_ABORT_POLL_S, remaining))
    return True
