"""Output files a plugin declared (plugins.md §5), resolved to existing regular files, and the
stored name of any file (``clean_filename``, shared with the file store).

Entries are ``"path/or/glob"``, ``[path, filename]``, ``[path, filename, delete]`` or
``{path, filename?, delete?}``; relative paths are under the job's cwd. A path is globbed unless a
``filename`` is given; a glob that matches nothing yields nothing, anything else that cannot be
used becomes a notice.

The conductor, which may be root, reads these files on the job's behalf, and what a plugin prints
can be shaped by its params (a script that echoes a param can be made to print a ``files``
record). So a job may only name files inside its own job directory (CRONWRIGHT DECISION: xyOps
also accepts absolute paths, which let such output attach ``/etc/shadow`` or the conductor's
``/proc/self/environ``); a job that runs as another user (plugin ``uid``) moreover only files this
user may read (owner, group and other permission bits). A link to a file outside, or to a
directory only root can enter, yields nothing. Every file is returned by its canonical path (links resolved); the file
store opens that path without following any symbolic link, so a link swapped in after this check
is refused there.
"""

from __future__ import annotations

import glob
import os
import re
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from cronwright.runner.base import OutputFile
from cronwright.runner.environment import Credentials

#: the job-directory entry the runner writes scripts into; no stored or input file is named so
SCRIPT_DIR = ".cronwright"
#: the longest stored name (bytes: stored names are ASCII)
MAX_NAME = 255

# xyOps keeps these characters (JavaScript's ASCII \w, whitespace and the punctuation below) and
# replaces each run of others by "_"; Cronwright keeps the space but not tabs or line breaks
_UNSAFE = re.compile(r"""[^\w\-+., ()\[\]{}'"!&^%$#@*?~]+""", re.ASCII)
_MAGIC = re.compile(r"[*?\[]")


def clean_filename(name: str) -> str:
    """The stored name of a file: its last path part (``/`` and ``\\`` both separate parts), each
    run of characters outside xyOps' safe set replaced by ``_``, at most 255 characters, without
    surrounding spaces. Never empty, ``.`` or ``..`` (those become ``file``); a name starting with
    ``-`` (an option to ``cmd *``) or equal to the reserved ``.cronwright`` gets a ``_`` prefix."""
    base = PurePosixPath(str(name).replace("\\", "/")).name
    text = _UNSAFE.sub("_", base)[:MAX_NAME].strip(" ")
    if text in ("", ".", ".."):
        return "file"
    if text.startswith("-") or text.casefold() == SCRIPT_DIR:
        text = ("_" + text)[:MAX_NAME].rstrip(" ")
    return text


def _is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (OSError, ValueError):
        return False


def _parse_entry(entry: Any) -> tuple[Any, Any, Any]:
    """``(path, filename, delete)`` of one entry; ``path`` is None for an unusable entry."""
    if isinstance(entry, str):
        return entry, None, False
    if isinstance(entry, list | tuple) and entry:
        padded = [*entry, None, False][:3]
        return padded[0], padded[1], padded[2]
    if isinstance(entry, dict):
        return entry.get("path"), entry.get("filename"), entry.get("delete", False)
    return None, None, False


def _contains(cwd: str, path: Path) -> bool:
    """``path`` (links resolved) is the job directory ``cwd`` (canonical) or inside it."""
    return Path(os.path.realpath(path)).is_relative_to(cwd)


class _OtherUser:
    """The user a job ran as when that is not the conductor's user: what it may read."""

    def __init__(self, uid: int, gids: frozenset[int]) -> None:
        self.uid = uid
        self.gids = gids

    @classmethod
    def of(cls, credentials: Credentials | None) -> _OtherUser | None:
        if credentials is None or credentials.user is None or credentials.user == os.geteuid():
            return None
        gids = {credentials.group} if credentials.group is not None else set()
        gids.update(credentials.extra_groups or ())
        return cls(credentials.user, frozenset(gids))

    def may_read(self, path: Path) -> bool:
        """The permission bits of ``path`` let this user read it."""
        try:
            info = path.stat()
        except (OSError, ValueError):
            return False
        if self.uid == 0:
            return True
        if info.st_uid == self.uid:
            return bool(info.st_mode & stat.S_IRUSR)
        if info.st_gid in self.gids:
            return bool(info.st_mode & stat.S_IRGRP)
        return bool(info.st_mode & stat.S_IROTH)


def resolve_output_files(
    specs: Any, cwd: Path, *, run_as: Credentials | None = None
) -> tuple[list[OutputFile], list[str]]:
    """Resolve a plugin's ``files`` list (a single entry is accepted too) to ``OutputFile``s plus
    notices about entries that were ignored. The same file under the same name is listed once.
    ``run_as``: the credentials the job ran with (another user confines it, see the module)."""
    if specs is None:
        return [], []
    entries = specs if isinstance(specs, list) else [specs]
    other = _OtherUser.of(run_as)
    home = os.path.realpath(cwd)
    files: list[OutputFile] = []
    notices: list[str] = []
    seen: set[tuple[Path, str]] = set()

    def add(path: Path, filename: str, delete: bool) -> None:
        real = Path(os.path.realpath(path))
        name = clean_filename(filename)
        if (real, name) not in seen:
            seen.add((real, name))
            # "delete" removes the job's entry: a symbolic link stays (the job directory goes
            # anyway), what it points to is never deleted on its behalf
            files.append(OutputFile(path=real, filename=name, delete=delete and not path.is_symlink()))

    def refusal(path: Path) -> str | None:
        if not _contains(home, path):
            return "Output file outside the job directory ignored"
        if other is not None and _is_regular_file(path) and not other.may_read(path):
            return "Output file not readable by the job's user ignored"
        return None

    for entry in entries:
        raw_path, filename, delete = _parse_entry(entry)
        if not isinstance(raw_path, str) or not raw_path.strip():
            notices.append(f"Malformed output file entry ignored: {entry!r:.200}")
            continue
        path = Path(raw_path) if os.path.isabs(raw_path) else cwd / raw_path
        if filename not in (None, "") or not _MAGIC.search(raw_path):
            # one named file; a refusal comes first, so nothing is told about files outside
            if (reason := refusal(path)) is not None:
                notices.append(f"{reason}: {raw_path}")
            elif _is_regular_file(path):
                add(path, str(filename) if filename not in (None, "") else path.name, bool(delete))
            elif filename not in (None, ""):
                notices.append(f"Output file not found or not a regular file: {raw_path}")
            elif path.exists():
                notices.append(f"Output file is not a regular file: {raw_path}")
            continue
        if not _contains(home, path.parent):
            notices.append(f"Output file pattern outside the job directory ignored: {raw_path}")
            continue
        refused = False
        for match in sorted(glob.glob(str(path))):
            if not _is_regular_file(Path(match)):
                continue
            if refusal(Path(match)) is None:
                add(Path(match), match, bool(delete))
            else:
                refused = True  # never named: the match may be a link into a directory the job cannot list
        if refused:
            notices.append(
                f"Some files matching {raw_path} were ignored (outside the job directory or not "
                "readable by the job's user)"
            )
    return files, notices
