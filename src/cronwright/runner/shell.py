"""The built-in Shell plugin (``[shell-plugin]``, plugins.md §6), run in-process.

xyOps runs a wrapper process that executes the script; Cronwright executes the script directly and
applies the wrapper's rules itself: the script file, the ``NN%`` and ``annotate`` handling (in
``protocol.OutputInterpreter`` with ``shell=True``) and the result built from the exit status.
"""

from __future__ import annotations

import html
import os
import re
import signal
from pathlib import Path
from typing import Any

_UNSAFE_ID = re.compile(r"[^\w.-]+", re.ASCII)


def write_script(cwd: Path, prefix: str, job_id: Any, source: str, mode: int) -> Path:
    """Write ``source`` (CRLF → LF) to ``<cwd>/<prefix><job id>`` with ``mode``; return its path."""
    path = cwd / f"{prefix}{_UNSAFE_ID.sub('_', str(job_id)) or 'job'}"
    data = source.replace("\r\n", "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)  # the umask applied to os.open's mode
    finally:
        os.close(fd)
    return path


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
