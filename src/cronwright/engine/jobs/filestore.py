"""Uploaded input files and job output files on disk, under ``<data_dir>/files``.

Storage keys (the ``path`` field of file records) follow xyOps: ``files/jobs/<job id>/<random>/<name>``
for output files and ``files/<username>/<random>/<name>`` for uploads; the random directory makes
the download URL (``/files/…``) unguessable. Names are cleaned by the runner's ``clean_filename``
(never empty, ``.``, ``..``, a path, an option or the runner's script directory).

An output file is read on behalf of a job that may run as another user: ``store`` opens it without
following a symbolic link anywhere on its path (the runner hands over canonical paths) and only if
it is a regular file, then copies from that open file (or, for a file the conductor's user owns,
renames it and checks it is the file that was opened).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
from pathlib import Path
from typing import Any, BinaryIO

from cronwright.ids import generate_id
from cronwright.runner.outputs import clean_filename

_KEY = re.compile(r"^files/[\w\-./ ()\[\]{}'\"!&^%$#@*?~+,]+$")
_O_PATH = getattr(os, "O_PATH", os.O_RDONLY)


def open_regular_file(path: Path) -> int:
    """Open an existing regular file for reading, following no symbolic link on the way (any
    component that is a link fails with ``ELOOP`` or ``ENOTDIR``) and never blocking on a FIFO;
    returns the descriptor (blocking mode) or raises ``OSError``."""
    parts = Path(os.path.abspath(path)).parts[1:]
    if not parts:
        raise IsADirectoryError(errno.EISDIR, "Not a regular file", str(path))
    dir_fd = os.open("/", _O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            next_fd = os.open(part, _O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd = next_fd
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(exc.errno, "A symbolic link on the path is not followed", str(path)) from None
        if exc.errno == errno.ENOTDIR:
            raise OSError(exc.errno, "Not a directory (symbolic links are not followed)", str(path)) from None
        raise
    finally:
        os.close(dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "Not a regular file", str(path))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


class FileStore:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        (data_dir / "files").mkdir(parents=True, exist_ok=True)

    def _new_key(self, *parts: str, filename: str) -> str:
        # every part is cleaned like a file name: a user named ".." must not climb out of files/
        return "/".join(("files", *(clean_filename(p) for p in parts), secrets.token_hex(8), clean_filename(filename)))

    def path_of(self, key: str) -> Path | None:
        """The local path of a storage key, or None when the key is not a safe ``files/…`` key."""
        if not _KEY.match(key) or ".." in key.split("/"):
            return None
        return self.data_dir / key

    def store(self, source: Path, *, parts: tuple[str, ...], filename: str, move: bool) -> tuple[str, int]:
        """Copy (or move) a local regular file into storage; returns (key, size). ``source`` is
        opened without following symbolic links (see ``open_regular_file``)."""
        key = self._new_key(*parts, filename=filename)
        target = self.data_dir / key
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = open_regular_file(source)
            try:
                opened = os.fstat(fd)
                if not (move and opened.st_uid == os.geteuid() and _adopt(source, target, opened)):
                    with os.fdopen(fd, "rb", closefd=False) as reader, open(target, "xb") as writer:
                        shutil.copyfileobj(reader, writer, 1024 * 1024)
                    if move:
                        source.unlink(missing_ok=True)
            finally:
                os.close(fd)
            return key, target.stat().st_size
        except OSError:  # e.g. a full disk: leave no partial file behind
            self.delete_key(key)
            raise

    def store_stream(self, stream: BinaryIO, *, parts: tuple[str, ...], filename: str) -> tuple[str, int]:
        """Store an uploaded file from an open binary stream; returns (key, size)."""
        key = self._new_key(*parts, filename=filename)
        target = self.data_dir / key
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(target, "wb") as out:
                shutil.copyfileobj(stream, out)
            return key, target.stat().st_size
        except OSError:  # e.g. a full disk: leave no partial file (the API answers 503)
            self.delete_key(key)
            raise

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


def _adopt(source: Path, target: Path, opened: os.stat_result) -> bool:
    """Rename ``source`` to ``target`` if that moves the very file that was opened (a file swapped
    in meanwhile is put back out of storage: removed); False when the caller must copy instead."""
    try:
        os.rename(source, target)
    except OSError:
        return False  # another file system, or gone: copy from the open file
    moved = os.lstat(target)
    if (moved.st_dev, moved.st_ino) == (opened.st_dev, opened.st_ino):
        return True
    target.unlink()
    return False
