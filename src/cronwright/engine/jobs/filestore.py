"""Uploaded input files and job output files on disk, under ``<data_dir>/files``.

Storage keys (the ``path`` field of file records) follow xyOps: ``files/jobs/<job id>/<random>/<name>``
for output files and ``files/<username>/<random>/<name>`` for uploads; the random directory makes
the download URL (``/files/…``) unguessable.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
from pathlib import Path
from typing import Any, BinaryIO

from cronwright.ids import generate_id

_UNSAFE = re.compile(r"[^\w\-+.,\s()\[\]{}'\"!&^%$#@*?~]")
_KEY = re.compile(r"^files/[\w\-./ ()\[\]{}'\"!&^%$#@*?~+,]+$")


def clean_filename(name: str) -> str:
    base = Path(name.replace("\\", "/")).name.strip() or "file"
    return _UNSAFE.sub("_", base)[:255]


class FileStore:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        (data_dir / "files").mkdir(parents=True, exist_ok=True)

    def _new_key(self, *parts: str, filename: str) -> str:
        return "/".join(("files", *parts, secrets.token_hex(8), clean_filename(filename)))

    def path_of(self, key: str) -> Path | None:
        """The local path of a storage key, or None when the key is not a safe ``files/…`` key."""
        if not _KEY.match(key) or ".." in key.split("/"):
            return None
        return self.data_dir / key

    def store(self, source: Path, *, parts: tuple[str, ...], filename: str, move: bool) -> tuple[str, int]:
        """Copy (or move) a local file into storage; returns (key, size)."""
        key = self._new_key(*parts, filename=filename)
        target = self.data_dir / key
        target.parent.mkdir(parents=True, exist_ok=True)
        if move:
            shutil.move(str(source), target)
        else:
            shutil.copyfile(source, target)
        return key, target.stat().st_size

    def store_stream(self, stream: BinaryIO, *, parts: tuple[str, ...], filename: str) -> tuple[str, int]:
        """Store an uploaded file from an open binary stream; returns (key, size)."""
        key = self._new_key(*parts, filename=filename)
        target = self.data_dir / key
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            shutil.copyfileobj(stream, out)
        return key, target.stat().st_size

    def record(self, key: str, size: int, filename: str, now: float, **extra: Any) -> dict[str, Any]:
        return {
            "id": generate_id("f"),
            "date": int(now),
            "filename": clean_filename(filename),
            "path": key,
            "size": size,
            **extra,
        }

    def delete_key(self, key: str) -> None:
        path = self.path_of(key)
        if path is None:
            return
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # the random directory, now empty

    def delete_job_outputs(self, job_id: str) -> None:
        shutil.rmtree(self.data_dir / "files" / "jobs" / job_id, ignore_errors=True)
