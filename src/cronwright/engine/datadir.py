"""The data directory on disk, private to the user the server runs as.

``prepare_data_dir(settings)`` runs before the store opens (``serve`` and ``apikey create``):

- the data directory is created with mode 0700; an existing one with looser bits is tightened
  to its owner's bits (0755 → 0700), and the log says so. Everything inside (the database, the
  secret key in it, job logs, stored files, job working directories) is then out of reach of
  other local users, whatever modes the files themselves have;
- a SQLite database file is created empty with mode 0600 before SQLite opens it, and an existing
  one (with its ``-wal``/``-shm``/``-journal`` files) is tightened to 0600. SQLite gives the files
  it creates next to a database the database file's mode, so they stay 0600 too.

No process-wide umask is set: job processes inherit the server's umask, and their files are
their business.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

from cronwright.config import Settings

log = logging.getLogger("cronwright")

DIR_MODE = 0o700
DB_FILE_MODE = 0o600
_SQLITE_PREFIX = "sqlite:///"
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def prepare_data_dir(settings: Settings) -> None:
    data_dir = settings.data_dir
    data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    tighten(data_dir, DIR_MODE)
    database = sqlite_file(settings.database_url)
    if database is None:
        return
    database.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, DB_FILE_MODE))
    for suffix in _SQLITE_COMPANIONS:
        path = database.with_name(database.name + suffix)
        if path.exists():
            tighten(path, DB_FILE_MODE)


def sqlite_file(database_url: str) -> Path | None:
    """The database file of a ``sqlite:///PATH`` URL; None for other databases and in-memory ones."""
    if not database_url.startswith(_SQLITE_PREFIX):
        return None
    path = database_url[len(_SQLITE_PREFIX) :].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def tighten(path: Path, allowed: int) -> None:
    """Clear the mode bits of ``path`` outside ``allowed`` (logged); a failure is logged, not raised."""
    current = stat.S_IMODE(path.stat().st_mode)
    if not current & ~allowed:
        return
    wanted = current & allowed
    try:
        path.chmod(wanted)
    except OSError as exc:
        log.warning("%s has mode %04o (readable by other users) and cannot be changed: %s", path, current, exc)
        return
    log.warning("%s had mode %04o; changed it to %04o so that other local users cannot read it", path, current, wanted)
