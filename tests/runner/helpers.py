"""Helpers for the runner tests: a recording sink and a harness that runs real plugin processes on
the default asyncio loop or on uvloop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil
import uvloop

from cronwright.runner import JobRun, RunResult, RunSpec

T = TypeVar("T")


@dataclass
class RecordingSink:
    """A ``RunSink`` that records every call."""

    started: list[int] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    pushes: list[dict[str, list[Any]]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def on_start(self, pid: int) -> None:
        self.started.append(pid)

    def on_log(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    def on_update(self, changes: dict[str, Any]) -> None:
        self.updates.append(changes)

    def on_push(self, push: dict[str, list[Any]]) -> None:
        self.pushes.append(push)

    def on_notice(self, message: str) -> None:
        self.notices.append(message)

    @property
    def log(self) -> str:
        return b"".join(self.chunks).decode(errors="replace")


class Harness:
    """Builds specs for a job in ``cwd`` and runs them on the selected event loop."""

    def __init__(self, loop_kind: str, cwd: Path) -> None:
        self.loop_kind = loop_kind
        self.cwd = cwd

    def loop(self, main: Coroutine[Any, Any, T]) -> T:
        if self.loop_kind == "uvloop":
            return uvloop.run(main)
        return asyncio.run(main)

    def spec(
        self,
        command: str,
        *,
        params: dict[str, Any] | None = None,
        job: dict[str, Any] | None = None,
        **options: Any,
    ) -> RunSpec:
        """A spec for job "jtest1" in ``cwd``; ``options`` are ``RunSpec`` fields."""
        document: dict[str, Any] = {"id": "jtest1", "now": 1766111340.5, "params": dict(params or {})}
        document.update(job or {})
        options.setdefault("base_env", {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        options.setdefault("log_flush_s", 0.0)
        return RunSpec(job=document, command=command, cwd=self.cwd, **options)

    def shell_spec(self, script: str, *, params: dict[str, Any] | None = None, **options: Any) -> RunSpec:
        """A spec running ``script`` with the Shell plugin."""
        return self.spec("[shell-plugin]", params={"script": script, **(params or {})}, **options)

    def run(self, spec: RunSpec) -> tuple[RunResult, RecordingSink]:
        sink = RecordingSink()

        async def main() -> RunResult:
            return await JobRun(spec, sink).wait()

        return self.loop(main()), sink

    def shell(self, script: str, **options: Any) -> tuple[RunResult, RecordingSink]:
        """Run ``script`` with the Shell plugin."""
        return self.run(self.shell_spec(script, **options))

    def with_cwd(self, cwd: Path) -> Harness:
        return Harness(self.loop_kind, cwd)


async def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Poll ``condition`` on the running loop until it holds; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def survivors(pids: dict[str, int], grace_s: float = 2.0) -> list[str]:
    """The names of processes still alive after up to ``grace_s`` (a killed process has closed
    its pipes slightly before it turns into a zombie)."""
    deadline = time.monotonic() + grace_s
    while any(alive(pid) for pid in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return [name for name, pid in pids.items() if alive(pid)]


def kill_quietly(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
