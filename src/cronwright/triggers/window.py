"""Range and blackout modifiers: which absolute minutes may launch at all (triggers.md §3 steps 5.4–5.5).

Both are absolute epochs, minute-floored, with inclusive ends. With any range present, a minute must
lie in at least one (only-``start``: at or after it; only-``end``: at or before it; neither: never).
A minute inside any blackout never launches. Malformed blackouts (an end missing) are ignored, as
xyOps' comparison with ``undefined`` is always false.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cronwright.triggers.values import as_number, js_truthy

__all__ = ["Window"]


def _minute_floor(value: Any) -> int | None:
    number = as_number(value)
    if number is None or not js_truthy(number):
        return None
    return int(number // 60) * 60


def _utc_text(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


class Window:
    """The event's enabled ranges and blackouts, as (start, end) minute pairs."""

    __slots__ = ("blackouts", "ranges")

    def __init__(self, ranges: list[dict[str, Any]], blackouts: list[dict[str, Any]]) -> None:
        self.ranges: tuple[tuple[int | None, int | None], ...] = tuple(
            (_minute_floor(r.get("start")), _minute_floor(r.get("end"))) for r in ranges
        )
        pairs = ((_minute_floor(b.get("start")), _minute_floor(b.get("end"))) for b in blackouts)
        self.blackouts: tuple[tuple[int, int], ...] = tuple(
            (start, end) for start, end in pairs if start is not None and end is not None
        )

    def in_ranges(self, minute: int) -> bool:
        """Whether ``minute`` satisfies the range rule (true when there are no ranges)."""
        if not self.ranges:
            return True
        for start, end in self.ranges:
            if (
                (start is not None or end is not None)
                and (start is None or minute >= start)
                and (end is None or minute <= end)
            ):
                return True
        return False

    def blackout_at(self, minute: int) -> tuple[int, int] | None:
        """The first blackout containing ``minute``, if any."""
        for start, end in self.blackouts:
            if start <= minute <= end:
                return start, end
        return None

    def blocked(self, minute: int) -> tuple[str, str] | None:
        """``(reason, detail)`` when ranges or blackouts forbid ``minute``, else ``None``."""
        if not self.in_ranges(minute):
            return "range", "outside every range"
        blackout = self.blackout_at(minute)
        if blackout is not None:
            return "blackout", f"inside blackout {_utc_text(blackout[0])} – {_utc_text(blackout[1])} UTC"
        return None

    def next_allowed(self, minute: int) -> int | None:
        """The first minute ≥ ``minute`` that ranges and blackouts allow; ``None`` if there is none ever."""
        while True:
            if not self.in_ranges(minute):
                starts = [
                    start
                    for start, end in self.ranges
                    if start is not None and start > minute and (end is None or end >= start)
                ]
                if not starts:
                    return None
                minute = min(starts)
                continue
            blackout = self.blackout_at(minute)
            if blackout is None:
                return minute
            minute = blackout[1] + 60
