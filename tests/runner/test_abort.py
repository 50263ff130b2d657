"""Aborting a run under each kill policy (plugins.md §5 "Abort"), with process trees that resist."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from cronwright.runner import JobRun, RunResult, RunSpec
from tests.runner.helpers import Harness, RecordingSink, alive, kill_quietly, survivors, wait_for

#: a script that ignores SIGTERM, as do its two grandchildren (one of them in a new session)
STUBBORN_TREE = """#!/bin/sh
trap '' TERM
sh -c 'echo "gc1 $$"; exec sleep 30' &
setsid sh -c 'echo "gc2 $$"; exec sleep 30' &
echo "main $$"
wait
"""


def abort_when(
    harness: Harness, spec: RunSpec, ready: str, reason: str = "stop"
) -> tuple[RunResult, RecordingSink, float]:
    """Run ``spec``, abort once the log contains ``ready``; return the result and the abort's duration."""
    sink = RecordingSink()

    async def main() -> tuple[RunResult, float]:
        run = JobRun(spec, sink)
        waiting = asyncio.ensure_future(run.wait())
        await wait_for(lambda: ready in sink.log or waiting.done())
        started = time.monotonic()
        run.abort(reason)
        run.abort("second reason is ignored")
        result = await waiting
        return result, time.monotonic() - started

    result, elapsed = harness.loop(main())
    return result, sink, elapsed


def pids_in(log: str) -> dict[str, int]:
    return {name: int(pid) for name, pid in re.findall(r"(\w+) (\d+)", log)}


def test_abort_all_kills_a_tree_that_ignores_sigterm(harness: Harness) -> None:
    """Policy "all": SIGTERM, then SIGKILL after kill_timeout_s, reaches the whole tree (setsid too)."""
    spec = harness.shell_spec(STUBBORN_TREE, kill="all", kill_timeout_s=0.5)
    result, sink, elapsed = abort_when(harness, spec, "gc2", reason="Aborted by user")
    pids = pids_in(sink.log)
    left = [name for name, pid in pids.items() if alive(pid)]  # the run waited for them to die
    kill_quietly(list(pids.values()))
    assert set(pids) == {"main", "gc1", "gc2"} and left == []
    assert (result.code, result.description) == ("abort", "Aborted by user")
    assert result.signal == "SIGKILL" and 0.45 < elapsed < 3


def test_abort_all_ends_quickly_when_sigterm_works(harness: Harness) -> None:
    """Policy "all": a tree that honours SIGTERM is gone without waiting for kill_timeout_s."""
    script = '#!/bin/sh\nsleep 30 &\necho "child $!"\nwait\n'
    result, sink, elapsed = abort_when(harness, harness.shell_spec(script, kill="all", kill_timeout_s=5), "child")
    pids = pids_in(sink.log)
    left = survivors(pids)
    kill_quietly(list(pids.values()))
    assert result.code == "abort" and result.signal == "SIGTERM" and elapsed < 1.5
    assert left == []


def test_abort_parent_signals_only_the_main_process(harness: Harness) -> None:
    """Policy "parent": only the main process gets SIGTERM; its children are left alone."""
    script = "#!/bin/sh\ntrap 'echo got-term; exit 0' TERM\nsleep 30 >/dev/null 2>&1 &\necho \"child $!\"\nwait $!\n"
    result, sink, _ = abort_when(harness, harness.shell_spec(script, kill="parent", kill_timeout_s=5), "child")
    child = pids_in(sink.log)["child"]
    try:
        assert result.code == "abort" and "got-term" in sink.log
        assert alive(child)
    finally:
        kill_quietly([child])


def test_abort_parent_escalates_to_sigkill(harness: Harness) -> None:
    """Policy "parent": a main process that ignores SIGTERM is killed after kill_timeout_s."""
    script = "#!/bin/sh\ntrap '' TERM\necho ready\nwhile :; do sleep 0.05; done\n"
    result, _, elapsed = abort_when(harness, harness.shell_spec(script, kill="parent", kill_timeout_s=0.3), "ready")
    assert result.code == "abort" and result.signal == "SIGKILL" and 0.25 < elapsed < 2.5
    assert result.pid is not None and not alive(result.pid)


def test_abort_none_sends_nothing_and_returns_at_once(harness: Harness) -> None:
    """Policy "none": the result is "abort" at once, the process is not signalled and runs to its end."""
    script = "#!/bin/sh\ntrap 'touch got-term' TERM\necho ready\nsleep 0.4\necho after\ntouch finished\n"
    spec = harness.shell_spec(script, kill="none", kill_timeout_s=0.1)
    sink = RecordingSink()

    async def main() -> tuple[RunResult, float, bool]:
        run = JobRun(spec, sink)
        waiting = asyncio.ensure_future(run.wait())
        await wait_for(lambda: "ready" in sink.log)
        started = time.monotonic()
        run.abort("leave it")
        result = await waiting
        elapsed = time.monotonic() - started
        running = result.pid is not None and alive(result.pid)
        await wait_for(lambda: (harness.cwd / "finished").exists())
        await wait_for(lambda: result.pid is not None and not alive(result.pid))
        await asyncio.sleep(0.05)  # let the run reap the process and close its pipes
        return result, elapsed, running

    result, elapsed, running = harness.loop(main())
    assert (result.code, result.description) == ("abort", "leave it")
    assert elapsed < 0.2 and running
    assert not (harness.cwd / "got-term").exists()
    assert "after" not in sink.log and result.exit_code is None


def test_records_after_abort_are_ignored(harness: Harness) -> None:
    """After an abort, completion records are ignored while plain output is still logged."""
    script = (
        '#!/bin/sh\ntrap \'echo "{\\"xy\\":1,\\"code\\":0}"; echo bye; exit 0\' TERM\necho ready\nsleep 30 &\nwait $!\n'
    )
    result, sink, _ = abort_when(harness, harness.shell_spec(script, kill="all", kill_timeout_s=2), "ready")
    assert result.code == "abort" and "bye" in sink.log and '"code"' not in sink.log


def test_abort_before_start_spawns_nothing(harness: Harness) -> None:
    """An abort before wait() ends the run as aborted without starting a process."""
    sink = RecordingSink()
    run = JobRun(harness.shell_spec("#!/bin/sh\ntouch started\n"), sink)
    run.abort("too early")

    async def main() -> RunResult:
        return await run.wait()

    result = harness.loop(main())
    assert (result.code, result.description, result.pid, run.pid) == ("abort", "too early", None, None)
    assert sink.started == [] and not (harness.cwd / "started").exists()


def test_abort_after_the_result_changes_nothing(harness: Harness) -> None:
    """An abort after the result was delivered is a no-op; wait() keeps returning the same result."""
    run = JobRun(harness.shell_spec("#!/bin/sh\nexit 0\n"), RecordingSink())

    async def main() -> tuple[Any, Any]:
        first = await run.wait()
        run.abort("late")
        return first, await run.wait()

    first, second = harness.loop(main())
    assert first is second and first.code == 0 and run.finished


def test_abort_with_empty_reason(harness: Harness) -> None:
    """An abort without a reason still has a description."""
    result, _, _ = abort_when(
        harness, harness.shell_spec("#!/bin/sh\necho ready\nsleep 5\n", kill_timeout_s=1), "ready", reason=""
    )
    assert (result.code, result.description) == ("abort", "Unknown Error (no description provided)")


def test_loop_shutdown_kills_the_tree(harness: Harness) -> None:
    """Cancelling the run (event loop shutdown) kills the process and leaves no resource behind."""
    sink = RecordingSink()

    async def main() -> int:
        run = JobRun(harness.shell_spec(STUBBORN_TREE), sink)
        waiting = asyncio.ensure_future(run.wait())
        await wait_for(lambda: "gc2" in sink.log)
        assert run.pid is not None and not waiting.done()
        return run.pid  # asyncio.run cancels the pending run

    main_pid = harness.loop(main())
    pids = pids_in(sink.log)
    left = survivors(pids)
    kill_quietly(list(pids.values()))
    assert pids["main"] == main_pid and left == []


def test_abort_after_exit_kills_a_process_holding_the_pipes(harness: Harness) -> None:
    """An abort while output is still drained after exit kills the group member holding the pipes."""
    sink = RecordingSink()
    spec = harness.shell_spec('#!/bin/sh\nsleep 30 &\necho "bg $!"\n', kill="all", kill_timeout_s=2)

    async def main() -> tuple[RunResult, float]:
        run = JobRun(spec, sink)
        waiting = asyncio.ensure_future(run.wait())
        await wait_for(lambda: "bg" in sink.log and run.pid is not None and not alive(run.pid))
        await asyncio.sleep(0.02)
        started = time.monotonic()
        run.abort("late abort")
        result = await waiting
        return result, time.monotonic() - started

    result, elapsed = harness.loop(main())
    pids = pids_in(sink.log)
    left = survivors(pids)
    kill_quietly(list(pids.values()))
    assert (result.code, result.description, result.exit_code) == ("abort", "late abort", 0)
    assert left == [] and elapsed < 0.5


class AbortingSink(RecordingSink):
    """A sink that aborts its run from inside a callback."""

    run: JobRun | None = None

    def on_log(self, chunk: bytes) -> None:
        super().on_log(chunk)
        if self.run is not None:
            self.run.abort("from on_log")

    def on_update(self, changes: dict[str, Any]) -> None:
        super().on_update(changes)
        if self.run is not None and "progress" in changes:
            self.run.abort("from on_update")


def test_abort_from_a_sink_callback(harness: Harness) -> None:
    """A sink may abort from a callback; during final delivery (the last log flush) it is too late."""

    def run_with(script: str, **options: Any) -> RunResult:
        sink = AbortingSink()

        async def main() -> RunResult:
            sink.run = JobRun(harness.shell_spec(script, **options), sink)
            return await sink.run.wait()

        return harness.loop(main())

    late = run_with("#!/bin/sh\necho hi\n", log_flush_s=30, kill="none")
    assert (late.code, late.description) == (0, "")
    live = run_with("#!/bin/sh\necho 10%\nsleep 5\n", log_flush_s=30, kill="all")
    assert (live.code, live.description) == ("abort", "from on_update")
