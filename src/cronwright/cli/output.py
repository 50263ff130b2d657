"""How the commands print for people: tables (rich), times in the local zone with a relative hint
("in 5 minutes", "2 hours ago"), durations in words ("1.3 s", "2 min 5 s"); and ``--json``."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def console(stderr: bool = False) -> Console:
    """A console for stdout (or stderr); not a terminal: plain text, wide enough for ids."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    width = max(shutil.get_terminal_size((160, 24)).columns, 160)
    return Console(stderr=stderr, width=width, no_color=True, highlight=False, soft_wrap=False)


def print_json(body: Any) -> None:
    """The API's answer, indented, on stdout."""
    sys.stdout.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, empty: str = "Nothing to show.") -> None:
    rows = list(rows)
    out = console()
    if not rows:
        out.print(empty)
        return
    table = Table(*columns, box=None, header_style="bold", pad_edge=False)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    out.print(table)


def print_fields(fields: Iterable[tuple[str, Any]]) -> None:
    """Label: value lines, aligned; empty values are left out."""
    shown = [(label, value) for label, value in fields if value not in (None, "", [], {})]
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for label, value in shown:
        table.add_row(label, str(value))
    console().print(table)


def local_time(epoch: Any) -> str:
    """``2026-03-08 14:00:05 CET`` in the local zone; ``""`` for a missing time."""
    if isinstance(epoch, bool) or not isinstance(epoch, (int, float)) or epoch <= 0:
        return ""
    moment = datetime.fromtimestamp(epoch).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def relative(epoch: Any, now: float | None = None) -> str:
    """ "2 minutes ago", "in 3 hours", "just now"."""
    if isinstance(epoch, bool) or not isinstance(epoch, (int, float)) or epoch <= 0:
        return ""
    delta = (time.time() if now is None else now) - epoch
    if abs(delta) < 5:
        return "just now"
    words = _largest_unit(abs(delta))
    return f"{words} ago" if delta > 0 else f"in {words}"


def when(epoch: Any, now: float | None = None) -> str:
    """Local time with the relative hint: ``2026-03-08 14:00:05 CET (2 minutes ago)``."""
    shown = local_time(epoch)
    return f"{shown} ({relative(epoch, now)})" if shown else ""


def duration(seconds: Any) -> str:
    """ "0.25 s", "1.3 s", "2 min 5 s", "1 h 2 min", "3 d 4 h"."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        return ""
    if seconds < 10:
        return f"{seconds:.2g} s" if seconds < 1 else f"{seconds:.1f} s".replace(".0 s", " s")
    if seconds < 60:
        return f"{round(seconds)} s"
    total = round(seconds)
    for big, size, small, small_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60), ("min", 60, "s", 1)):
        if total >= size:
            count, rest = divmod(total, size)
            tail = rest // small_size
            return f"{count} {big} {tail} {small}" if tail else f"{count} {big}"
    return f"{total} s"  # pragma: no cover - unreachable


def _largest_unit(seconds: float) -> str:
    for name, size in _UNITS:
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {name}" + ("s" if count != 1 else "")
    return "0 seconds"


def job_result(job: dict[str, Any]) -> str:
    """ "running", "queued", "success", "error 3: description", "abort: …"."""
    if not job.get("complete") and not job.get("final"):
        progress = job.get("progress")
        state = str(job.get("state") or "active")
        state = "running" if state == "active" else state
        if isinstance(progress, (int, float)) and 0 < progress < 1:
            return f"{state} {progress:.0%}"
        return state
    code = job.get("code")
    if code in (0, None, ""):
        return "success"
    label = "warning" if code == "warning" else "aborted" if code == "abort" else f"failed ({code})"
    description = str(job.get("description") or "").strip().splitlines()
    return f"{label}: {description[0]}" if description else label
