"""One spawned plugin process: its pipes and its exit, on whatever event loop is running.

The process is started with ``subprocess.Popen`` (which uses vfork and supports ``user``/``group``/
``extra_groups``), not with ``asyncio.create_subprocess_exec``: uvloop's spawner forks the whole
interpreter (tens of milliseconds per spawn in a large conductor) and rejects ``user``/``group``.
The loop then only watches file descriptors with ``add_reader``/``add_writer``, which the default
loop and uvloop implement alike: stdout and stderr are read without blocking until EOF, the exit
is seen through a pidfd (``os.pidfd_open``; a short poll where pidfds are unavailable), and the
job line is written to stdin without blocking (a child that exited or closed stdin first is fine:
EPIPE just ends the writing). This class owns every descriptor and closes each exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

STDOUT = 1
STDERR = 2
_READ_BYTES = 64 * 1024


class Child:
    """A running process. ``exited`` resolves to the ``Popen.returncode`` (negative: a signal),
    ``pipes_closed`` when stdout and stderr both reached EOF (or were closed by ``close``)."""

    def __init__(
        self, popen: subprocess.Popen[bytes], on_output: Callable[[int, bytes], None], on_closed: Callable[[int], None]
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.popen = popen
        self.pid = popen.pid
        self._on_output = on_output
        self._on_closed = on_closed
        self.exited: asyncio.Future[int] = self._loop.create_future()
        self.pipes_closed: asyncio.Future[None] = self._loop.create_future()
        self._readers: dict[int, IO[bytes]] = {}
        self._pidfd: int | None = None
        self._poll_handle: asyncio.TimerHandle | None = None
        self._stdin_fd: int | None = None
        self._stdin_rest: memoryview | None = None

    @classmethod
    def spawn(
        cls,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: dict[str, str],
        popen_kwargs: dict[str, Any],
        stdin: bytes,
        on_output: Callable[[int, bytes], None],
        on_closed: Callable[[int], None],
    ) -> Child:
        """Start the process in its own session (process group) and start watching it; raises
        ``OSError``, ``ValueError`` or ``SubprocessError`` when it cannot be started. Output is
        delivered from the next loop iteration on."""
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,
            bufsize=0,
            **popen_kwargs,
        )
        child = cls(popen, on_output, on_closed)
        try:
            child._watch_exit()
            child._write_stdin(stdin)
            for kind, pipe in ((STDOUT, popen.stdout), (STDERR, popen.stderr)):
                assert pipe is not None
                os.set_blocking(pipe.fileno(), False)
                child._readers[kind] = pipe
                child._loop.add_reader(pipe.fileno(), child._read, kind)
        except BaseException:
            child.dispose()
            raise
        return child

    @property
    def reaped(self) -> bool:
        """The process exited and was reaped (its pid may now belong to another process)."""
        return self.popen.returncode is not None

    # -- exit ----------------------------------------------------------------------------------

    def _watch_exit(self) -> None:
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):  # no pidfds (old kernel, other OS): poll
            self._poll(0.002)
            return
        self._loop.add_reader(self._pidfd, self._check_exit)

    def _poll(self, delay_s: float) -> None:
        if not self._check_exit():
            self._poll_handle = self._loop.call_later(delay_s, self._poll, min(delay_s * 2, 0.05))

    def _check_exit(self) -> bool:
        returncode = self.popen.poll()
        if returncode is None:
            return False
        self._stop_exit_watch()
        if not self.exited.done():
            self.exited.set_result(returncode)
        return True

    def _stop_exit_watch(self) -> None:
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if self._poll_handle is not None:
            self._poll_handle.cancel()
            self._poll_handle = None

    # -- pipes ---------------------------------------------------------------------------------

    def _read(self, kind: int) -> None:
        pipe = self._readers.get(kind)
        if pipe is None:
            return
        try:
            data = os.read(pipe.fileno(), _READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            self._on_output(kind, data)
        else:
            self._close_reader(kind)

    def _close_reader(self, kind: int) -> None:
        pipe = self._readers.pop(kind, None)
        if pipe is None:
            return
        self._loop.remove_reader(pipe.fileno())
        pipe.close()
        self._on_closed(kind)
        if not self._readers and not self.pipes_closed.done():
            self.pipes_closed.set_result(None)

    def _write_stdin(self, data: bytes) -> None:
        assert self.popen.stdin is not None
        self._stdin_fd = self.popen.stdin.fileno()
        os.set_blocking(self._stdin_fd, False)
        self._stdin_rest = memoryview(data)
        if self._write_some():
            self._loop.add_writer(self._stdin_fd, self._write_more)
        else:
            self._stdin_fd = None

    def _write_some(self) -> bool:
        """Write what the pipe takes; True while something is left to write."""
        assert self._stdin_fd is not None and self._stdin_rest is not None
        try:
            while self._stdin_rest:
                self._stdin_rest = self._stdin_rest[os.write(self._stdin_fd, self._stdin_rest) :]
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:  # EPIPE and friends: the child exited or closed stdin, nothing more to say
            pass
        self._close_stdin()
        return False

    def _write_more(self) -> None:
        fd = self._stdin_fd
        if fd is not None and not self._write_some():
            self._loop.remove_writer(fd)
            self._stdin_fd = None

    def _close_stdin(self) -> None:
        self._stdin_rest = None
        if self.popen.stdin is not None and not self.popen.stdin.closed:
            self.popen.stdin.close()

    # -- control -------------------------------------------------------------------------------

    def send_signal(self, sig: int) -> None:
        """Signal the main process (never a reaped, possibly reused pid)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            self.popen.send_signal(sig)

    def close(self) -> None:
        """Stop watching: close stdin, both read pipes and the exit watch (idempotent)."""
        if self._stdin_fd is not None:
            self._loop.remove_writer(self._stdin_fd)
            self._stdin_fd = None
        self._close_stdin()
        self._stop_exit_watch()
        for kind in (STDOUT, STDERR):
            self._close_reader(kind)
        for pipe in (self.popen.stdout, self.popen.stderr):
            if pipe is not None and not pipe.closed:  # never registered (spawn failed half-way)
                pipe.close()

    def dispose(self) -> None:
        """Emergency stop (cancellation, runner failure): SIGKILL the process group, close
        everything, reap the process (blocking for at most a second)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.send_signal(signal.SIGKILL)
        self.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=1.0)
