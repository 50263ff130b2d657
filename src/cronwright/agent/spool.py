"""A job's reports on disk while they are not yet delivered: ``<data-dir>/spool/<job id>/``.

- ``log``: the job's log, append-only. The file holds the bytes ``[base, written)`` of the log; the
  bytes before ``base`` were dropped (see below). The log is stored as valid UTF-8 (invalid bytes
  become U+FFFD as they arrive), so an offset counts the same bytes on both ends of the wire: the
  conductor's log grows by exactly ``len(text.encode())`` for each ``job_log``.
- ``state.json``: the offsets and the latest job report (written on every report tick while the
  agent is disconnected, and when a connection ends), for the operator's eyes.

Three offsets move forward: ``written`` (bytes appended), ``sent`` (sent on the current socket) and
``acked`` (confirmed received by the conductor: a WebSocket pong answered a ping sent after them).
A new connection rewinds ``sent`` to ``acked``, so a replay starts at a point the conductor holds:
duplicates are possible (the conductor drops bytes it already has, by ``offset``), gaps are not.

Bound: a spool keeps at most ``max_bytes`` (default 64 MB, ``--spool-max-mb``) of log. Past it the
oldest half is dropped — only bytes not yet acknowledged are lost, and the next replay starts with
a ``job_meta`` notice saying how many bytes are missing.
"""

from __future__ import annotations

import codecs
import json
import os
import shutil
from pathlib import Path
from typing import Any

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
#: the most log text one ``job_log`` frame carries
MAX_FRAME_BYTES = 256 * 1024


def char_start(data: bytes, index: int) -> int:
    """``index`` moved back to the start of the UTF-8 character it falls in."""
    while 0 < index < len(data) and (data[index] & 0xC0) == 0x80:
        index -= 1
    return index


class JobSpool:
    """The on-disk log and report of one job."""

    def __init__(self, directory: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max(1024, max_bytes)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._path = directory / "log"
        self._file = open(self._path, "ab")  # noqa: SIM115 -- open for the job's lifetime, closed by remove()
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.base = 0
        self.written = 0
        self.sent = 0
        self.acked = 0

    def append(self, chunk: bytes) -> None:
        """Add log output (bytes of an incomplete character wait for the rest)."""
        data = self._decoder.decode(chunk).encode("utf-8")
        if not data:
            return
        self._file.write(data)
        self._file.flush()
        self.written += len(data)
        if self.written - self.base > self.max_bytes:
            self._trim()

    def close_input(self) -> None:
        """The job's output ended: an incomplete trailing character becomes U+FFFD."""
        tail = self._decoder.decode(b"", final=True).encode("utf-8")
        if tail:
            self._file.write(tail)
            self._file.flush()
            self.written += len(tail)

    def pending(self) -> tuple[int, bytes, int]:
        """``(offset, text bytes, dropped)``: the next unsent log bytes (at most one frame) and
        how many bytes before them were dropped by the bound (0 normally)."""
        start = self.sent
        dropped = 0
        if start < self.base:
            dropped, start = self.base - start, self.base
        if start >= self.written:
            return start, b"", dropped
        with open(self._path, "rb") as source:
            source.seek(start - self.base)
            data = source.read(min(MAX_FRAME_BYTES, self.written - start) + 4)
        end = min(MAX_FRAME_BYTES, self.written - start)
        if end < len(data):
            end = char_start(data, end) or end
        return start, data[:end], dropped

    def mark_sent(self, offset: int, size: int) -> None:
        self.sent = max(self.sent, offset + size)

    def mark_acked(self, offset: int) -> None:
        self.acked = max(self.acked, min(offset, self.written))

    def rewind(self) -> None:
        """A new connection: resend from the last acknowledged byte."""
        self.sent = self.acked

    def save_report(self, job: dict[str, Any]) -> None:
        state = {"base": self.base, "written": self.written, "acked": self.acked, "job": job}
        partial = self.directory / "state.json.partial"
        partial.write_text(json.dumps(state, default=str), "utf-8")
        os.replace(partial, self.directory / "state.json")

    def close(self) -> None:
        self._file.close()

    def remove(self) -> None:
        self._file.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _trim(self) -> None:
        """Keep the unacknowledged tail, at most half the bound."""
        keep_from = max(min(self.acked, self.written), self.written - self.max_bytes // 2)
        self._file.close()
        with open(self._path, "rb") as source:
            source.seek(keep_from - self.base)
            tail = source.read()
        skip = 0
        while skip < len(tail) and (tail[skip] & 0xC0) == 0x80:
            skip += 1
        partial = self.directory / "log.partial"
        partial.write_bytes(tail[skip:])
        os.replace(partial, self._path)
        self.base = keep_from + skip
        self._file = open(self._path, "ab")  # noqa: SIM115 -- see __init__
