"""The output protocol (plugins.md §4): a plugin's stdout lines and stderr chunks become log output,
result changes and ``RunSink`` calls.

``OutputInterpreter`` is fed raw pipe data and knows nothing about processes, so every rule here is
tested by feeding bytes. The Shell plugin's extras (§6: ``NN%`` progress lines, ``annotate``
time stamps, the first 32 KB of stderr kept for the result) are switched on with ``shell=True``.
"""

from __future__ import annotations

import re
import time
from typing import Any, Protocol

import orjson

from cronwright import jsonutil
from cronwright.runner.base import RunResult, RunSink
from cronwright.runner.environment import encode_value

MAX_LINE_BYTES = 32 * 1024 * 1024
STDERR_KEEP_BYTES = 32 * 1024
_PROGRESS = re.compile(rb"\s*(\d+(?:\.\d+)?)%\s*")
_PUSH_KEY = re.compile(r"\w+", re.ASCII)
_MERGED_KEYS = ("data", "serverData", "workflowData")


class LogWriter(Protocol):
    """Where log output goes (``logbatch.LogBatcher`` in a run)."""

    def append(self, chunk: bytes) -> None: ...


def normalize_code(value: Any) -> int | float | str:
    """A reported ``code`` as a number or string (``false``/``null`` → 0, ``true`` → 1)."""
    if value is None or value is False:
        return 0
    if value is True:
        return 1
    if isinstance(value, int | float | str):
        return value
    return encode_value(value)


def is_success_code(code: Any) -> bool:
    """Whether a code means success, with JavaScript's ``code == 0`` looseness ("0", "", false)."""
    if isinstance(code, str):
        return code.strip() in ("", "0")
    return code is None or code == 0


def merge_values(target: dict[str, Any], changes: dict[str, Any]) -> None:
    """Merge key by key: the later value wins, but two arrays are concatenated (in place, so many
    small records cost time linear in their total size)."""
    for key, value in changes.items():
        old = target.get(key)
        if isinstance(old, list) and isinstance(value, list):
            old.extend(value)
        else:
            target[key] = list(value) if isinstance(value, list) else value


class OutputInterpreter:
    """Interprets one run's output. ``aborting``/``completed`` stop records (text is still logged);
    ``muted`` (the result was delivered) stops everything."""

    def __init__(
        self, result: RunResult, sink: RunSink, log: LogWriter, *, shell: bool = False, annotate: bool = False
    ) -> None:
        self.result = result
        self.sink = sink
        self.log = log
        self.shell = shell
        self.annotate = annotate
        self.completed = False
        self.aborting = False
        self.muted = False
        #: the raw ``files`` entries (``files`` replaces, ``push.files`` appends)
        self.file_specs: list[Any] = []
        self.stderr_head = bytearray()
        self.stderr_truncated = False
        self._partial = bytearray()
        self._overflowing = False
        self._stamp_second = -1
        self._stamp = b""

    @property
    def accepting(self) -> bool:
        return not (self.completed or self.aborting or self.muted)

    # -- raw pipe data -------------------------------------------------------------------------

    def feed_stdout(self, data: bytes) -> None:
        if self.muted:
            return
        newline = data.find(b"\n")
        if newline < 0:
            self._partial += data
            if len(self._partial) > MAX_LINE_BYTES:
                self._overflow()
            return
        if self._partial or self._overflowing:
            self._partial += data[:newline]
            first = bytes(self._partial)
            self._partial.clear()
            self._finish_partial_line(first)
        else:
            self.feed_line(data[:newline])
        lines = data[newline + 1 :].split(b"\n")
        tail = lines.pop()
        for line in lines:
            self.feed_line(line)
        if tail:
            self._partial += tail

    def end_stdout(self) -> None:
        """The stdout pipe is closed: a last line without a newline is still a line."""
        if self._partial or self._overflowing:
            last = bytes(self._partial)
            self._partial.clear()
            if not self.muted:
                self._finish_partial_line(last)

    def feed_stderr(self, data: bytes) -> None:
        if self.muted:
            return
        self.log.append(data)
        if self.shell and not self.stderr_truncated:
            room = STDERR_KEEP_BYTES - len(self.stderr_head)
            self.stderr_head += data[:room]
            self.stderr_truncated = len(data) > room

    def _overflow(self) -> None:
        self.log.append(bytes(self._partial))
        self._partial.clear()
        if not self._overflowing:
            self.notice(f"Output line longer than {MAX_LINE_BYTES} bytes was logged without interpretation.")
        self._overflowing = True

    def _finish_partial_line(self, line: bytes) -> None:
        if self._overflowing:
            self._overflowing = False
            self.log.append(line + b"\n")
        else:
            self.feed_line(line)

    # -- lines and records ---------------------------------------------------------------------

    def feed_line(self, line: bytes) -> None:
        """One stdout line (without its newline)."""
        if line.endswith(b"\r"):
            line = line[:-1]
        stripped = line.strip()
        if len(stripped) > 2 and stripped[0] == 0x7B and stripped[-1] == 0x7D:  # ^\s*\{.+\}\s*$
            self._feed_candidate(line)
        elif self.shell and (match := _PROGRESS.fullmatch(line)):
            if self.accepting:
                self.apply({"progress": min(1.0, max(0.0, float(match[1]) / 100))})
        elif self.annotate:
            self.log.append(self._timestamp() + line + b"\n")
        else:
            self.log.append(line + b"\n")

    def _feed_candidate(self, line: bytes) -> None:
        try:
            record = jsonutil.loads_untrusted(line)
        except jsonutil.JSONDecodeError as exc:  # also too deep to be stored again (JSONTooDeep)
            self.log.append(line + b"\n")
            self.notice(f"Malformed JSON record ignored: {exc}")
            return
        if not isinstance(record, dict) or "type" in record or "state" in record or not self.accepting:
            return
        if record.get("xy"):
            self.apply(record)
        else:
            self.log.append(orjson.dumps(record) + b"\n")

    def apply(self, record: dict[str, Any]) -> None:
        """Apply one protocol message (``xy`` is ignored): result changes plus one ``on_update``."""
        record = {key: value for key, value in record.items() if key != "xy"}
        if record.get("complete") and "code" not in record:
            record["code"] = 0
        if "code" in record and "complete" not in record:
            record["complete"] = True
        changes: dict[str, Any] = {}
        complete = False
        for key, value in record.items():
            if key in _MERGED_KEYS:
                if not isinstance(value, dict):
                    self.notice(f"Malformed '{key}' ignored: it must be an object.")
                    continue
                target = self.result.data if key == "data" else self.result.fields.setdefault(key, {})
                merge_values(target, value)
                changes[key] = target  # the accumulated value itself: copying it per record is quadratic
            elif key == "push":
                self._push(value)
            elif key == "files":
                self.file_specs = [] if value is None else list(value) if isinstance(value, list) else [value]
            elif key == "code":
                self.result.code = normalize_code(value)
            elif key == "complete":
                complete = bool(value)
            elif key == "description":
                self.result.description = encode_value(value)
            else:
                self.result.fields[key] = value
                changes[key] = value
        if changes:
            self.sink.on_update(changes)
        if complete:
            self.completed = True

    def _push(self, push: Any) -> None:
        valid = isinstance(push, dict) and all(
            isinstance(key, str) and _PUSH_KEY.fullmatch(key) and isinstance(value, list) for key, value in push.items()
        )
        if not valid:
            self.notice("Malformed 'push' ignored: it must map word keys to arrays.")
            return
        self.file_specs.extend(push.get("files", ()))
        forward = {key: value for key, value in push.items() if key != "files"}
        if forward:
            self.sink.on_push(forward)

    def notice(self, message: str) -> None:
        if self.muted:
            return
        self.result.notices.append(message)
        self.sink.on_notice(message)

    def stderr_text(self) -> str:
        text = self.stderr_head.decode(errors="replace")
        return text + "..." if self.stderr_truncated else text

    def _timestamp(self) -> bytes:
        now = int(time.time())
        if now != self._stamp_second:
            self._stamp_second = now
            self._stamp = time.strftime("[%Y-%m-%d %H:%M:%S] ", time.localtime(now)).encode()
        return self._stamp
