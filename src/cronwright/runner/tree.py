"""The job's process tree through psutil: CPU/memory samples and signals to every member.

The tree is the main process plus its descendants by parent pid. Processes seen once are
remembered, so a grandchild that was orphaned (its parent died) or that left the process group
with ``setsid`` is still sampled and still signalled. Processes vanish at any moment; every psutil
error just skips that process.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import defaultdict
from collections.abc import Callable

import psutil


def is_alive(process: psutil.Process) -> bool:
    """Running and not a zombie (a zombie has exited; it only waits to be reaped)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class ProcessTree:
    """The processes of one job, keyed by pid (``psutil.Process`` objects are kept between samples
    so ``cpu_percent`` measures the time since the previous sample)."""

    def __init__(self, pid: int, reaped: Callable[[], bool]) -> None:
        self.pid = pid
        #: whether the main process was reaped: its pid may then belong to another process
        self._reaped = reaped
        self._known: dict[int, psutil.Process] = {}
        self._primed: set[int] = set()

    def scan(self) -> list[psutil.Process]:
        """The live members: the main process, remembered processes still alive, and all their
        descendants."""
        children: defaultdict[int, list[int]] = defaultdict(list)
        for process in psutil.process_iter(["ppid"]):
            ppid = process.info.get("ppid")
            if ppid:
                children[ppid].append(process.pid)
        roots = [pid for pid, process in self._known.items() if is_alive(process)]
        if not self._reaped():
            roots.append(self.pid)
        members: dict[int, psutil.Process] = {}
        pending = list(roots)
        while pending:
            pid = pending.pop()
            if pid in members:
                continue
            process = self._process(pid)
            if process is not None:
                members[pid] = process
                pending.extend(children.get(pid, ()))
        self._known = members
        self._primed &= members.keys()
        return list(members.values())

    def _process(self, pid: int) -> psutil.Process | None:
        known = self._known.get(pid)
        if known is not None and known.is_running():
            return known
        self._primed.discard(pid)
        try:
            return psutil.Process(pid)
        except psutil.Error:
            return None

    def sample(self) -> tuple[float, int] | None:
        """``(cpu %, rss bytes)`` summed over the tree, None when no member is left. CPU is % of
        one core since the previous sample (for a process seen the first time: since it started)."""
        cpu = 0.0
        rss = 0
        counted = 0
        for process in self.scan():
            try:
                with process.oneshot():
                    memory = process.memory_info().rss
                    if memory == 0 or process.status() == psutil.STATUS_ZOMBIE:
                        continue  # exiting: its figures are gone already
                    if process.pid in self._primed:
                        cpu += process.cpu_percent(None)
                    else:
                        times = process.cpu_times()
                        age_s = max(time.time() - process.create_time(), 0.01)
                        cpu += (times.user + times.system) / age_s * 100.0
                        process.cpu_percent(None)
                        self._primed.add(process.pid)
                    rss += memory
                    counted += 1
            except psutil.Error:
                continue
        return (round(cpu, 2), rss) if counted else None

    def signal_all(self, sig: int) -> list[psutil.Process]:
        """Send ``sig`` to the process group and to every member (members that left the group
        included); return the members signalled."""
        members = self.scan()
        # the group outlives a reaped leader while members remain (and its id is not reused then)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)
        for process in members:
            with contextlib.suppress(psutil.Error):
                process.send_signal(sig)
        return members

    def any_alive(self) -> bool:
        return any(is_alive(process) for process in self._known.values())
