"""The built-in Shell plugin (``[shell-plugin]``, plugins.md §6), run in-process.

xyOps runs a wrapper process that executes the script; Cronwright executes the script directly and
applies the wrapper's rules itself: the script file, the ``NN%`` and ``annotate`` handling (in
``protocol.OutputInterpreter`` with ``shell=True``) and the result built from the exit status.

Scripts (the Shell plugin's and a plugin's ``script``) are written into ``<cwd>/.cronwright/``, a
directory of their own that no input file can be named (``outputs.clean_filename``): an upload never
shadows or overwrites a script, and an interpreter that searches its script's directory (Python's
``sys.path[0]``) finds only the script there. The path handed to the process is relative to the job
directory, so it works for a job that runs as another user even when that user cannot traverse the
directories above the job directory (the child changes into the job directory before it drops
privileges).
"""

from __future__ import annotations

import html
import os
import re
import signal
import stat
from pathlib import Path
from typing import Any

from cronwright.runner.outputs import SCRIPT_DIR

_UNSAFE_ID = re.compile(r"[^\w.-]+", re.ASCII)


def write_script(cwd: Path, prefix: str, job_id: Any, source: str, mode: int) -> Path:
    """Write ``source`` (CRLF → LF) to ``<cwd>/.cronwright/<prefix><job id>`` with ``mode``; return
    its path relative to ``cwd``. Nothing on the way is followed if it is a symbolic link."""
    name = f"{prefix}{_UNSAFE_ID.sub('_', str(job_id)) or 'job'}"
    data = source.replace("\r\n", "\n").encode()
    directory = cwd / SCRIPT_DIR
    try:
        os.mkdir(directory, 0o755)
    except FileExistsError:
        if not stat.S_ISDIR(os.lstat(directory).st_mode):
            raise FileExistsError(f"{directory} exists and is not a directory") from None
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fchmod(dir_fd, 0o755)  # the umask applied to os.mkdir's mode
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(name, flags, mode, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)  # the umask applied to os.open's mode
    finally:
        os.close(fd)
    return Path(SCRIPT_DIR, name)


def exit_code(returncode: int) -> int | str:
    """The Shell plugin's code for an exit status: the status, or the signal's name, or 0."""
    if returncode > 0:
        return returncode
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"SIG{-returncode}"
    return 0


def exit_result(returncode: int, stderr: str, *, sent_html: bool) -> tuple[int | str, str, dict[str, str] | None]:
    """``(code, description, html)`` for a script that exited without reporting completion.

    The description of a failure ends with the first stderr line when it is short. CHOICE: the
    "Error Output" html section is attached only to failures (xyOps attaches it whenever stderr has
    text), so a successful script that merely wrote warnings to stderr keeps a clean result; the
    stderr text is in the log either way."""
    code = exit_code(returncode)
    if not code:
        return 0, "", None
    description = f"Script exited with code: {code}"
    text = stderr.strip()
    if not text:
        return code, description, None
    first_line = text.split("\n", 1)[0].rstrip("\r")
    if first_line.strip() and len(first_line) < 256:
        description += f": {first_line}"
    section = None if sent_html else {"title": "Error Output", "content": f"<pre>{html.escape(text)}</pre>"}
    return code, description, section
