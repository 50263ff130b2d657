"""Job logs on disk: ``<data_dir>/logs/jobs/<job id>.log`` while the job runs (appended as output
arrives, so a crash loses nothing already received), gzip-compressed to ``<id>.log.gz`` when the
job completes. Files are created on first output: a job that prints nothing has no log file.

Disk faults: ``append`` raises ``OSError`` (the engine ends the job with a clear error) and leaves
nothing buffered; ``finish`` that cannot compress (disk full) keeps the live log, raises, and a
later ``finish`` compresses it once there is room again.

Reads never load a whole log: ``open_log`` / ``open_compressed`` return a ``LogReader`` that
yields ``READ_CHUNK_BYTES`` at a time (the API streams it from a worker thread).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import threading
import zlib
from collections.abc import Callable
from io import FileIO
from pathlib import Path
from typing import Any, Protocol

#: logs up to this size are inlined as ``output`` in ``get_job`` answers
INLINE_LOG_BYTES = 1024 * 1024
#: the most bytes a streamed log read takes from disk (and, for a stored log, decompresses) per step
READ_CHUNK_BYTES = 256 * 1024


class LogStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._open: dict[str, FileIO] = {}
        #: completed jobs whose log could not be compressed yet (kept as ``<id>.log``)
        self._uncompressed: set[str] = set()
        self._pending_lock = threading.Lock()  # finishes run on threads: one retry pass at a time

    def live_path(self, job_id: str) -> Path:
        return self.root / f"{job_id}.log"

    def done_path(self, job_id: str) -> Path:
        return self.root / f"{job_id}.log.gz"

    def append(self, job_id: str, chunk: bytes) -> None:
        """Write ``chunk`` to the live log (unbuffered: on ``OSError`` nothing stays pending)."""
        handle = self._open.get(job_id)
        if handle is None:
            handle = self._open[job_id] = FileIO(self.live_path(job_id), "a")
        view = memoryview(chunk)
        while view:
            written = handle.write(view)
            if not written:  # a regular file never does this, but never loop forever
                raise OSError(f"Log write made no progress: {self.live_path(job_id).name}")
            view = view[written:]

    def close(self, job_id: str) -> None:
        handle = self._open.pop(job_id, None)
        if handle is not None:
            with contextlib.suppress(OSError):  # nothing is buffered: closing cannot lose output
                handle.close()

    def size(self, job_id: str) -> int:
        for path in (self.live_path(job_id),):
            try:
                return path.stat().st_size
            except FileNotFoundError:
                pass
        return 0

    def finish(self, job_id: str) -> int:
        """Close and compress the live log; returns its uncompressed size (0: no log). When it
        cannot be compressed (``OSError``, e.g. a full disk), the live log is kept, the error is
        raised, and a later ``finish`` of any job tries again."""
        self.close(job_id)
        size = self._compress(job_id)
        self.compress_pending()
        return size

    def compress_pending(self) -> None:
        """Compress the kept logs of completed jobs (best effort: what still fails stays kept)."""
        if not self._uncompressed or not self._pending_lock.acquire(blocking=False):
            return
        try:
            for job_id in list(self._uncompressed):
                with contextlib.suppress(OSError):
                    self._compress(job_id)
        finally:
            self._pending_lock.release()

    def adopt_kept(self, finished: Callable[[str], bool]) -> int:
        """At start: a live log of a finished job was kept when compressing it failed before the
        restart; queue it for ``compress_pending``. Only logs whose job ``finished`` (its stored
        record is complete) are touched: other conductors sharing the directory write theirs.
        Returns how many were found."""
        for path in self.root.glob("*.log"):
            job_id = path.name[: -len(".log")]
            if finished(job_id):
                self._uncompressed.add(job_id)
        return len(self._uncompressed)

    def _compress(self, job_id: str) -> int:
        live = self.live_path(job_id)
        try:
            size = live.stat().st_size
        except FileNotFoundError:
            self._uncompressed.discard(job_id)
            return 0
        if size == 0:
            live.unlink()
            self._uncompressed.discard(job_id)
            return 0
        tmp = self.done_path(job_id).with_suffix(".gz.tmp")
        try:
            with open(live, "rb") as src, gzip.open(tmp, "wb", compresslevel=6) as dst:
                shutil.copyfileobj(src, dst)
            os.replace(tmp, self.done_path(job_id))
        except OSError:
            tmp.unlink(missing_ok=True)
            self._uncompressed.add(job_id)
            raise
        self._uncompressed.discard(job_id)
        live.unlink()
        return size

    def read_live(self, job_id: str, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes of a live log from ``offset`` (``b""`` when none, or it is gone)."""
        try:
            with open(self.live_path(job_id), "rb") as fh:
                fh.seek(offset)
                return fh.read(size)
        except FileNotFoundError:
            return b""

    def tail(self, job_id: str, max_bytes: int) -> str:
        """The last ``max_bytes`` of a live log; the first partial line is dropped when cut."""
        path = self.live_path(job_id)
        try:
            with open(path, "rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                start = max(0, size - max_bytes)
                fh.seek(start)
                data = fh.read(max_bytes)
        except FileNotFoundError:
            return ""
        if start > 0:
            newline = data.find(b"\n")
            data = data[newline + 1 :] if newline >= 0 else b""
        return data.decode("utf-8", errors="replace")

    def read_done(self, job_id: str, limit: int) -> bytes | None:
        """At most the first ``limit`` bytes of a completed job's log (None when it has none)."""
        reader = self.open_log(job_id, active=False)
        if reader is None:
            return None
        with reader:
            return reader.read_at_most(limit)

    def open_log(self, job_id: str, active: bool, expected_size: int | None = None) -> LogReader | None:
        """The text of a job's log, to be read in chunks (None when it has none or it is empty).

        While the job runs: the live log as it is now (a snapshot of its current size). Once it is
        complete: the stored log, decompressed — or the live file kept when compressing failed.
        ``expected_size`` (the job's ``log_file_size``) becomes the reader's ``size`` when the gzip
        trailer agrees with it, so a stored log can be answered with a Content-Length."""
        order = (self._open_live, self._open_done) if active else (self._open_done, self._open_live)
        for open_one in order:
            reader = open_one(job_id, expected_size)
            if reader is not None:
                return reader
        return None

    def open_compressed(self, job_id: str) -> LogReader | None:
        """The gzip-compressed log of a completed job: the stored file as it is, or (when it
        could not be compressed) the kept live log, compressed while it is read."""
        try:
            fh = open(self.done_path(job_id), "rb")  # noqa: SIM115 (closed by the reader)
        except FileNotFoundError:
            plain = self._open_live(job_id, None)
            return None if plain is None else LogReader(_Compressing(plain), None)
        return LogReader(fh, os.fstat(fh.fileno()).st_size)

    def _open_live(self, job_id: str, expected_size: int | None) -> LogReader | None:
        try:
            fh = open(self.live_path(job_id), "rb")  # noqa: SIM115 (closed by the reader)
        except FileNotFoundError:
            return None
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            fh.close()
            return None
        return LogReader(fh, size, limit=size)

    def _open_done(self, job_id: str, expected_size: int | None) -> LogReader | None:
        try:
            raw = open(self.done_path(job_id), "rb")  # noqa: SIM115 (closed by the reader)
        except FileNotFoundError:
            return None
        size = None
        try:
            if isinstance(expected_size, int) and raw.seek(0, os.SEEK_END) >= 18:  # header + trailer
                raw.seek(-4, os.SEEK_END)
                if int.from_bytes(raw.read(4), "little") == expected_size % 2**32:
                    size = expected_size
            raw.seek(0)
        except OSError:
            raw.close()
            raise
        return LogReader(gzip.GzipFile(fileobj=raw, mode="rb"), size, closes=raw)

    def delete(self, job_id: str) -> None:
        self.close(job_id)
        self._uncompressed.discard(job_id)
        for path in (self.live_path(job_id), self.done_path(job_id)):
            path.unlink(missing_ok=True)


class _Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...

    def close(self) -> None: ...


class LogReader:
    """One open log, read a chunk at a time: ``read()`` returns the next chunk (``b""`` at the
    end) with blocking file I/O — call it on a worker thread — and never holds more than one
    chunk. ``size`` is how many bytes it yields in all, None when unknown."""

    def __init__(
        self, fh: _Readable, size: int | None, *, limit: int | None = None, closes: _Readable | None = None
    ) -> None:
        self.size = size
        self._fh = fh
        self._left = limit
        self._closes = closes

    def read(self, max_bytes: int = READ_CHUNK_BYTES) -> bytes:
        want = max_bytes if self._left is None else min(max_bytes, self._left)
        if want <= 0:
            return b""
        chunk = self._fh.read(want)
        if self._left is not None:
            self._left -= len(chunk)
        return chunk

    def read_at_most(self, limit: int) -> bytes:
        parts = []
        while limit > 0 and (chunk := self.read(min(limit, READ_CHUNK_BYTES))):
            parts.append(chunk)
            limit -= len(chunk)
        return b"".join(parts)

    def close(self) -> None:
        self._fh.close()
        if self._closes is not None:
            self._closes.close()

    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Compressing:
    """A plain log, gzip-compressed as it is read (for a log kept uncompressed)."""

    def __init__(self, plain: LogReader) -> None:
        self._plain = plain
        self._zip: Any = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: gzip header and trailer

    def read(self, max_bytes: int) -> bytes:
        out = b""
        while not out and self._zip is not None:
            data = self._plain.read(max_bytes)
            if data:
                out = self._zip.compress(data)
            else:
                out, self._zip = self._zip.flush(), None
        return out

    def close(self) -> None:
        self._plain.close()
