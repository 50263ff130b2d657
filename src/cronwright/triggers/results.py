"""What evaluating a minute produces: launches (``Fire``), held-back launches (``Suppressed``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Fire", "MinuteResult", "Suppressed"]


@dataclass(frozen=True, slots=True)
class Fire:
    """One launch request decided by the minute tick (triggers.md §3 step 5.7).

    ``params``, ``tags`` and ``data`` are the compiled trigger's own objects, shared by every fire
    of that trigger: copy before changing them.
    """

    trigger_index: int  # index in event["triggers"] of the launching trigger
    stype: str | None  # None for schedule, else "interval" / "single" (job field `stype`)
    minute: int  # the UTC minute (multiple of 60) whose evaluation produced it
    at: int  # the scheduled instant: minute + second offset; becomes job `now`
    until: int | float | None  # start no earlier than this (job state start_delay); None = start right away
    params: dict[str, Any]  # the trigger's params (merged over event params by the caller)
    tags: list[str]  # the trigger's tags (appended to job tags)
    data: Any  # the trigger's `data` (dict, or list → input.data.items) or None
    invisible: bool  # from an enabled quiet trigger
    ephemeral: bool
    plugin_gate: dict[str, Any] | None  # the enabled scheduler-plugin trigger (triggers.md §8), else None
    dst: str | None  # a human note when DST changed what happened, else None
    key: str  # stable identity for exactly-once bookkeeping: f"{trigger_index}:{at}"


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A launch that a matching trigger would have made but a modifier held back."""

    trigger_index: int
    minute: int
    at: int
    reason: str  # "blackout" | "range" | "nth"
    detail: str  # human explanation, e.g. "outside every range"


@dataclass(frozen=True, slots=True)
class MinuteResult:
    """The outcome of one minute for one event; treat it as read-only (idle results are shared)."""

    fires: list[Fire]
    suppressed: list[Suppressed]
    nth: int  # the every-nth counter after this minute (unchanged when there is no nth trigger)
