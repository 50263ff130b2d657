"""Uploaded files and job output files on disk, under ``<data_dir>/files``.

Storage keys (the ``path`` field of file records and the ``/files/<key>`` download URL) follow
xyOps (sdk-wire.md §2.3 and §4):

- ``files/jobs/<job id>/<R>/<name>``: the output files of a job (``store``); ``name`` is cleaned by
  the runner's ``clean_filename`` (never empty, ``.``, ``..``, a path, an option or the runner's
  script directory).
- ``files/<owner>/<R>/<url name>``: files uploaded with a run request (``run_event``,
  ``upload_job_input_files``), ``files/magic/<R>/<url name>`` through a magic link (``UploadBatch``).
- ``files/<owner>/<name>``: ``upload_files``, one namespace per owner where a new upload of the same
  name replaces the old one (``store_user_file``).

``R`` is 32 random bytes as URL-safe base64 (43 characters), one per request or output file: it
makes the URL unguessable. ``owner`` is the uploader (``engine.runs.upload_owner``) as a path
segment (``owner_segment``): a name that could leave ``files/``, take the ``jobs``/``magic``
namespaces or collide with another owner's segment is replaced by ``~`` and a digest of it.

xyOps' storage lower-cases keys, so ``upload_files`` names that differ only in case are one file:
owner-level keys (three segments) are kept on disk lower-cased and resolve whatever the case of
the URL. Every other key is stored as written (its random segment makes it unique).

Files are written to ``files/.partial/`` first and renamed into place, so a failed upload never
leaves a partial file and an overwrite replaces the old file whole.

An output file is read on behalf of a job that may run as another user: ``store`` opens it without
following a symbolic link anywhere on its path (the runner hands over canonical paths) and only if
it is a regular file, then copies from that open file (or, for a file the conductor's user owns,
renames it and checks it is the file that was opened).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import shutil
import stat
import time
from pathlib import Path
from typing import Any, BinaryIO

from cronwright.errors import CwError
from cronwright.ids import generate_id
from cronwright.runner.outputs import clean_filename

_KEY = re.compile(r"^files/[\w\-./ ()\[\]{}'\"!&^%$#@*?~+,]+$")
_O_PATH = getattr(os, "O_PATH", os.O_RDONLY)
#: the longest stored file name (most file systems allow 255 bytes; these names are ASCII)
MAX_NAME = 255
#: owner names that would land in the job-output or magic-link namespaces
RESERVED_OWNERS = frozenset({"jobs", "magic"})
MAGIC_FOLDER = "magic"
#: where uploads are written before they are renamed into place (never served: see ``path_of``)
PARTIAL_FOLDER = ".partial"
_OWNER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}\Z")
_USER_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
_URL_NAME_UNSAFE = re.compile(r"[^a-z0-9_.\-]+")
#: what xyOps' storage calls a binary key: one ending in ``.ext``
_EXTENSION = re.compile(r"\.[A-Za-z0-9_]+\Z")
_RANDOM = re.compile(r"[A-Za-z0-9_\-]{43}\Z")
#: errors of the host's storage: re-raised as they are (the API answers ``db`` 503)
DISK_FAULTS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})
_STALE_PARTIAL_S = 3600.0


def random_segment() -> str:
    """32 random bytes as URL-safe base64 without padding: 43 characters."""
    return secrets.token_urlsafe(32)


def base_name(name: str) -> str:
    """Node's ``path.basename``: the part after the last ``/`` (trailing slashes ignored)."""
    return name.rstrip("/").rsplit("/", 1)[-1]


def usable_name(name: str) -> bool:
    """Whether an uploaded file's client name has a base name that is neither empty nor only dots."""
    return bool(base_name(name).strip("."))


def user_file_name(name: str) -> str:
    """The name of an ``upload_files`` file: the base name with every run of characters outside
    ``[A-Za-z0-9_.-]`` replaced by ``_`` (case kept)."""
    return _fit(_USER_NAME_UNSAFE.sub("_", base_name(name)), MAX_NAME)


def url_file_name(name: str) -> str:
    """The last key segment of an uploaded input file: the base name lower-cased, every run of
    characters outside ``[a-z0-9_.-]`` replaced by ``_``, plus ``.bin`` without an ``.ext``."""
    text = _URL_NAME_UNSAFE.sub("_", base_name(name).lower())
    if _EXTENSION.search(text):
        return _fit(text, MAX_NAME)
    return _fit(text, MAX_NAME - 4) + ".bin"


def _fit(text: str, limit: int) -> str:
    """At most ``limit`` characters, keeping the end (the extension); never empty or only dots."""
    text = text[-limit:]
    return text if text.strip(".") else "_" + text[1:]


def owner_segment(owner: str) -> str:
    """The path segment of an uploader: the name itself when it is a plain name (letters, digits,
    ``_``, ``.``, ``-``, not starting with ``.`` or ``-``, at most 128 characters) other than
    ``jobs`` or ``magic`` in any case; else ``~`` and 32 hex digits of its SHA-256, a segment no
    plain name can take and no other owner gets."""
    if _OWNER.match(owner) and owner.lower() not in RESERVED_OWNERS:
        return owner
    return "~" + hashlib.sha256(owner.encode("utf-8", "surrogatepass")).hexdigest()[:32]


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
        self._partial = data_dir / "files" / PARTIAL_FOLDER
        self._partial.mkdir(exist_ok=True)
        _remove_stale(self._partial, time.time() - _STALE_PARTIAL_S)

    def _new_key(self, *parts: str, filename: str) -> str:
        # every part is cleaned like a file name: a user named ".." must not climb out of files/
        return "/".join(("files", *(clean_filename(p) for p in parts), random_segment(), clean_filename(filename)))

    def path_of(self, key: str) -> Path | None:
        """The local path of a storage key, or None when the key is not a safe ``files/…`` key of
        at least three segments (owner-level keys, exactly three, resolve lower-cased)."""
        if not _KEY.match(key):
            return None
        parts = key.split("/")
        if len(parts) < 3 or parts[1].lower() == PARTIAL_FOLDER or any(p in ("", ".", "..") for p in parts):
            return None
        return self.data_dir / (key.lower() if len(parts) == 3 else key)

    def store(
        self, source: Path, *, parts: tuple[str, ...], filename: str, move: bool, max_bytes: int | None = None
    ) -> tuple[str, int]:
        """Copy (or move) a local regular file into storage at ``files/<parts>/<random>/<name>``;
        returns (key, size). ``source`` is opened without following symbolic links (see
        ``open_regular_file``). A file larger than ``max_bytes`` (its size when opened; a copy
        stops there too) raises ``FileTooLarge`` and nothing is stored."""
        key = self._new_key(*parts, filename=filename)
        target = self.data_dir / key
        try:
            fd = open_regular_file(source)
            try:
                opened = os.fstat(fd)
                if max_bytes is not None and opened.st_size > max_bytes:
                    raise FileTooLarge(opened.st_size, max_bytes)
                target.parent.mkdir(parents=True, exist_ok=True)
                if not (move and opened.st_uid == os.geteuid() and _adopt(source, target, opened)):
                    with os.fdopen(fd, "rb", closefd=False) as reader, open(target, "xb") as writer:
                        _copy(reader, writer, max_bytes)
                    if move:
                        source.unlink(missing_ok=True)
            finally:
                os.close(fd)
            return key, target.stat().st_size
        except OSError:  # e.g. a full disk: leave no partial file behind
            self.delete_key(key)
            raise

    def job_output_batch(self, job_id: str) -> UploadBatch:
        """Where a remote agent's output files of a job go: ``files/jobs/<job id>/<R>/…``."""
        return UploadBatch(self, f"jobs/{clean_filename(job_id)}")

    def job_outputs(self, job_id: str, claimed: Any = None) -> list[dict[str, Any]]:
        """Records of the files stored under ``files/jobs/<job id>/`` (what a remote agent
        uploaded), oldest first. ``claimed`` (the agent's own records) only lends a stored file its
        original ``filename``; a claim about any other path counts for nothing."""
        folder = self.data_dir / "files" / "jobs" / clean_filename(job_id)
        names = {}
        for entry in claimed if isinstance(claimed, list) else []:
            if (
                isinstance(entry, dict)
                and isinstance(entry.get("path"), str)
                and isinstance(entry.get("filename"), str)
            ):
                names[entry["path"]] = clean_filename(entry["filename"])
        found = []
        try:
            segments = sorted(folder.iterdir())
        except OSError:
            return []
        for segment in segments:
            if segment.is_symlink() or not segment.is_dir():
                continue
            try:
                entries = [(path, path.lstat()) for path in sorted(segment.iterdir())]
            except OSError:  # removed meanwhile
                continue
            for path, info in entries:
                if not stat.S_ISREG(info.st_mode):
                    continue
                key = f"files/jobs/{folder.name}/{segment.name}/{path.name}"
                found.append((info.st_mtime, key, info.st_size, names.get(key) or path.name))
        found.sort()
        return [self.record(key, size, name, mtime, job=job_id) for mtime, key, size, name in found]

    def input_batch(self, owner: str) -> UploadBatch:
        """Where the files of one run request go: ``files/<owner>/<R>/…``."""
        return UploadBatch(self, owner_segment(owner))

    def magic_batch(self) -> UploadBatch:
        """Where the files of one magic-link request go: ``files/magic/<R>/…``."""
        return UploadBatch(self, MAGIC_FOLDER)

    def store_user_file(self, stream: BinaryIO, *, owner: str, filename: str) -> tuple[str, int]:
        """Store an ``upload_files`` file at ``files/<owner>/<name>`` (replacing any file of that
        owner whose name differs at most in case); returns (key, size). A failure other than a
        full or failing disk is ``file`` "Failed to process uploaded file: …"."""
        key = f"files/{owner_segment(owner)}/{user_file_name(filename)}"
        return key, self.write(key, stream, "Failed to process uploaded file")

    def write(self, key: str, stream: BinaryIO, failure: str) -> int:
        """Write a stream to a key through ``files/.partial/`` (so a reader or a failure never sees
        half a file); returns the size. A full or failing disk raises ``OSError`` as it is; any
        other failure is ``file`` "<failure>: <reason>"."""
        target = self.path_of(key)
        if target is None:
            raise CwError("file", f"{failure}: Invalid storage key")
        partial = self._partial / secrets.token_hex(16)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(partial, "xb") as out:
                shutil.copyfileobj(stream, out, 1024 * 1024)
                out.flush()
                size = os.fstat(out.fileno()).st_size
            os.replace(partial, target)
            return size
        except OSError as exc:
            partial.unlink(missing_ok=True)
            _remove_empty(target.parent)
            if exc.errno in DISK_FAULTS:
                raise
            raise CwError("file", f"{failure}: {exc.strerror or 'I/O error'}") from None

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
        """Remove a stored file (a missing one is no error) and its random directory once empty."""
        path = self.path_of(key)
        if path is None:
            return
        path.unlink(missing_ok=True)
        if len(key.split("/")) > 3:
            _remove_empty(path.parent)  # the random directory, now empty

    def delete_job_outputs(self, job_id: str) -> None:
        shutil.rmtree(self.data_dir / "files" / "jobs" / job_id, ignore_errors=True)


class UploadBatch:
    """The uploaded files of one request: ``files/<folder>/<R>/<url name>``, one random ``R`` for
    all of them (sdk-wire.md §4.3). ``discard`` removes what was stored when the request fails."""

    def __init__(self, files: FileStore, folder: str, segment: str | None = None) -> None:
        segment = segment or random_segment()
        if not _RANDOM.match(segment):
            raise ValueError("not a random segment")
        self.prefix = f"files/{folder}/{segment}"
        self.keys: list[str] = []
        self._files = files

    def store(self, stream: BinaryIO, filename: str) -> tuple[str, int]:
        """Store one file; returns (key, size). A failure other than a full or failing disk is
        ``file`` "Failed to process uploaded files: …"."""
        key = f"{self.prefix}/{url_file_name(filename)}"
        size = self._files.write(key, stream, "Failed to process uploaded files")
        if key not in self.keys:
            self.keys.append(key)
        return key, size

    def discard(self) -> None:
        for key in self.keys:
            with contextlib.suppress(OSError):
                self._files.delete_key(key)
        self.keys.clear()


class FileTooLarge(OSError):
    """An output file over the size cap (``job_output_file_max_bytes``)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(errno.EFBIG, f"{size:,} bytes, the limit is {limit:,}")
        self.size = size
        self.limit = limit


def _copy(reader: BinaryIO, writer: BinaryIO, max_bytes: int | None) -> None:
    """Copy in 1 MiB chunks; past ``max_bytes`` (a file that grew after it was opened) raise."""
    copied = 0
    while chunk := reader.read(1024 * 1024):
        copied += len(chunk)
        if max_bytes is not None and copied > max_bytes:
            raise FileTooLarge(copied, max_bytes)
        writer.write(chunk)


def _remove_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):
        directory.rmdir()


def _remove_stale(directory: Path, older_than: float) -> None:
    """Partial uploads a crash left behind (not the ones a running upload is writing)."""
    with contextlib.suppress(OSError):
        for entry in directory.iterdir():
            with contextlib.suppress(OSError):
                if entry.lstat().st_mtime < older_than:
                    entry.unlink()


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
