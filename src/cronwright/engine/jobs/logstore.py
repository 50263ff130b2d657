"""Job logs on disk: ``<data_dir>/logs/jobs/<job id>.log`` while the job runs (appended as output
arrives, so a crash loses nothing already received), gzip-compressed to ``<id>.log.gz`` when the
job completes. Files are created on first output: a job that prints nothing has no log file.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path
from typing import BinaryIO

#: logs up to this size are inlined as ``output`` in ``get_job`` answers
INLINE_LOG_BYTES = 1024 * 1024


class LogStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._open: dict[str, BinaryIO] = {}

    def live_path(self, job_id: str) -> Path:
        return self.root / f"{job_id}.log"

    def done_path(self, job_id: str) -> Path:
        return self.root / f"{job_id}.log.gz"

    def append(self, job_id: str, chunk: bytes) -> None:
        handle = self._open.get(job_id)
        if handle is None:
            handle = self._open[job_id] = open(self.live_path(job_id), "ab")  # noqa: SIM115 (kept open while the job runs)
        handle.write(chunk)
        handle.flush()

    def close(self, job_id: str) -> None:
        handle = self._open.pop(job_id, None)
        if handle is not None:
            handle.close()

    def size(self, job_id: str) -> int:
        for path in (self.live_path(job_id),):
            try:
                return path.stat().st_size
            except FileNotFoundError:
                pass
        return 0

    def finish(self, job_id: str) -> int:
        """Close and compress the live log; returns its uncompressed size (0: no log)."""
        self.close(job_id)
        live = self.live_path(job_id)
        try:
            size = live.stat().st_size
        except FileNotFoundError:
            return 0
        if size == 0:
            live.unlink()
            return 0
        tmp = self.done_path(job_id).with_suffix(".gz.tmp")
        with open(live, "rb") as src, gzip.open(tmp, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst)
        os.replace(tmp, self.done_path(job_id))
        live.unlink()
        return size

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

    def read_live(self, job_id: str) -> bytes | None:
        try:
            return self.live_path(job_id).read_bytes()
        except FileNotFoundError:
            return None

    def read_done(self, job_id: str, limit: int | None = None) -> bytes | None:
        """The decompressed log of a completed job (None when it has none)."""
        try:
            with gzip.open(self.done_path(job_id), "rb") as fh:
                return fh.read() if limit is None else fh.read(limit)
        except FileNotFoundError:
            return None

    def compressed(self, job_id: str) -> Path | None:
        path = self.done_path(job_id)
        return path if path.exists() else None

    def delete(self, job_id: str) -> None:
        self.close(job_id)
        for path in (self.live_path(job_id), self.done_path(job_id)):
            path.unlink(missing_ok=True)
