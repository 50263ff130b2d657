"""Statement timing: report how long every SQL statement of an engine takes (SQLAlchemy cursor
events), for the database latency metric. The report never raises into the store."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event

log = logging.getLogger("cronwright.store")

_OPERATIONS = ("select", "insert", "update", "delete", "begin")
_STARTED = "_cw_statement_started"


def operation(statement: str) -> str:
    """``select``, ``insert``, ``update``, ``delete``, ``begin`` or ``other`` (first keyword)."""
    head = statement.lstrip()[:8].split(None, 1)
    word = head[0].lower() if head else ""
    return word if word in _OPERATIONS else "other"


def time_statements(engine: Engine, observe: Callable[[str, float], None]) -> None:
    """Call ``observe(operation, seconds)`` after every statement ``engine`` executes."""

    def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        if context is not None:
            setattr(context, _STARTED, time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        started = getattr(context, _STARTED, None)
        if started is None:
            return
        try:
            observe(operation(statement), time.perf_counter() - started)
        except Exception:  # a metric must never fail a statement
            log.debug("statement timing failed", exc_info=True)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
