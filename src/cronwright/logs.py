"""The server log: one handler on the root logger, text or JSON lines, levels per component.

``configure_logging(settings)`` is called once by ``cronwright serve``. The thread that logs only
puts the record (its message formatted) on a bounded queue; a thread of its own writes the lines to
stderr, so a slow reader of stderr never stalls the event loop. When the queue is full, records are
dropped (and counted) rather than waited for. Uvicorn's loggers lose their own handlers and go
through the same one, so every line has the same format.

Structured fields ride on a record as ``extra=fields(job_id=..., event=...)``: the text format
appends them as ``key=value``, the JSON format puts them beside ``ts``, ``level``, ``logger`` and
``msg`` (docs/observability.md). Callers never log secrets: no API key, password, session id,
magic-link token, request header or web hook path.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import queue
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from logging.handlers import QueueHandler, QueueListener
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cronwright.config import Settings

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error", "critical")
#: the loggers uvicorn writes to (their own handlers are removed: lines go through ours)
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi", "uvicorn.access")
ACCESS_LOGGER = "cronwright.access"
#: records waiting for the writer thread; beyond this, new ones are dropped
QUEUE_SIZE = 10_000
_FIELDS_ATTR = "cw_fields"
_LOGGER_NAME = re.compile(r"^[A-Za-z_][\w.\-]*$")
_BARE = re.compile(r"^[^\s=\"']+$")


def fields(**values: Any) -> dict[str, Any]:
    """``extra`` for a log call: structured fields of the line (``None`` values are left out)."""
    return {_FIELDS_ATTR: {k: v for k, v in values.items() if v is not None}}


def job_fields(job: Mapping[str, Any], **values: Any) -> dict[str, Any]:
    """``fields`` of a line about a job: its id, event, category and source, plus ``values``."""
    return fields(
        job_id=job.get("id"), event=job.get("event"), category=job.get("category"), source=job.get("source"), **values
    )


def record_fields(record: logging.LogRecord) -> Mapping[str, Any]:
    found = getattr(record, _FIELDS_ATTR, None)
    return found if isinstance(found, Mapping) else {}


# ---- settings


def parse_levels(spec: str) -> tuple[str, dict[str, str]]:
    """``"info,cronwright.scheduler=debug"`` → ``("info", {"cronwright.scheduler": "debug"})``;
    raises ``ValueError`` on an unknown level or a malformed logger name."""
    base = ""
    per_logger: dict[str, str] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, sep, level = part.partition("=")
        if sep:
            per_logger[_logger_name(name.strip())] = _level_name(level)
        elif base:
            raise ValueError(f"two base levels in {spec!r}")
        else:
            base = _level_name(name)
    return base or "info", per_logger


def _level_name(text: str) -> str:
    level = text.strip().lower()
    if level not in LEVELS:
        raise ValueError(f"unknown log level {text.strip()!r} (use {', '.join(LEVELS)})")
    return level


def _logger_name(name: str) -> str:
    if not _LOGGER_NAME.match(name):
        raise ValueError(f"invalid logger name {name!r}")
    return name


def component_levels(settings: Settings) -> tuple[str, dict[str, str]]:
    """The base level and the level of each named logger: ``log_levels``, then the pairs of
    ``log_level`` (stronger, as the environment variable usually sets it)."""
    base, from_spec = parse_levels(settings.log_level)
    levels = {_logger_name(str(k)): _level_name(str(v)) for k, v in settings.log_levels.items()}
    levels.update(from_spec)
    return base, levels


def check_log_settings(settings: Settings) -> None:
    """Raise ``ValueError`` naming the setting when a logging setting is unusable."""
    if settings.log_format not in FORMATS:
        raise ValueError(f"Invalid log_format: {settings.log_format!r} (use text or json)")
    try:
        parse_levels(settings.log_level)
    except ValueError as exc:
        raise ValueError(f"Invalid log_level: {exc}") from None
    try:
        component_levels(settings)
    except ValueError as exc:
        raise ValueError(f"Invalid log_levels: {exc}") from None
    if settings.access_log not in (0, 1):
        raise ValueError("access_log must be 0 or 1")


# ---- formats


def _timestamp(record: logging.LogRecord) -> str:
    stamp = dt.datetime.fromtimestamp(record.created, dt.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _trailer(record: logging.LogRecord) -> str:
    """The traceback and stack of a record (already rendered by the queue handler), or ""."""
    parts = [text for text in (record.exc_text, record.stack_info) if text]
    return "\n".join(parts)


class TextFormatter(logging.Formatter):
    """``2025-01-02T03:04:05.678Z INFO cronwright.jobs: job finished job_id=j1 code=0``."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        values = record_fields(record)
        if values:
            line += " " + " ".join(f"{key}={_text_value(value)}" for key, value in values.items())
        trailer = _trailer(record)
        return f"{line}\n{trailer}" if trailer else line


def _text_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if _BARE.match(text) else json.dumps(text, ensure_ascii=False)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``msg``, the
    record's fields, and ``exc`` (traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record_fields(record).items():
            line.setdefault(key, value)
        trailer = _trailer(record)
        if trailer:
            line["exc"] = trailer
        return json.dumps(line, default=str, ensure_ascii=False)


def formatter_for(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


# ---- the handler


class _Enqueuer(QueueHandler):
    """Hands records to the writer thread: the message and traceback rendered now (their objects
    may change later), the format applied there. A full queue drops the record."""

    def __init__(self, records: queue.Queue[Any]) -> None:
        super().__init__(records)
        self.dropped = 0

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        ready = copy.copy(record)
        ready.msg, ready.args = record.getMessage(), None
        if record.exc_info:
            ready.exc_text = logging.Formatter().formatException(record.exc_info)
        ready.exc_info = None
        return ready

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


@dataclass
class LogSetup:
    """What ``configure_logging`` installed; ``close()`` writes what is queued and removes it."""

    handler: _Enqueuer
    listener: QueueListener
    levels: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        root = logging.getLogger()
        if self.handler in root.handlers:
            root.removeHandler(self.handler)
        self.listener.stop()  # writes every record still queued


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> LogSetup:
    """Install the server's log handler (replacing earlier ones on the root logger) with the
    format and levels of ``settings``."""
    base, levels = component_levels(settings)
    if settings.access_log:
        levels.setdefault(ACCESS_LOGGER, "info")
    writer = logging.StreamHandler(stream or sys.stderr)
    writer.setFormatter(formatter_for(settings.log_format))
    records: queue.Queue[Any] = queue.Queue(QUEUE_SIZE)
    handler = _Enqueuer(records)
    listener = QueueListener(records, writer)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(base.upper())
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level.upper())
    listener.start()
    return LogSetup(handler, listener, levels)
