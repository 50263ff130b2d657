"""Human notes for fires that DST changed (a skipped wall time run late, a repeated one run twice)."""

from __future__ import annotations

from datetime import datetime

from cronwright.triggers.zones import load_zone, local_time

__all__ = ["NOTE_MATCHES", "fold_note", "gap_note"]

NOTE_MATCHES = 3  # skipped wall times named in a gap note before "and N more"


def gap_note(zone: str, matches: list[datetime], total: int, last: datetime, fired: datetime) -> str:
    """Explain a fire on the transition minute ``fired`` standing in for ``total`` skipped wall times.

    ``matches`` holds the first few of them (at least one) and ``last`` the latest.

    Example: "02:30 does not exist on 2025-03-09 in America/New_York (clocks moved forward); fired at 03:00".
    """
    one_day = matches[0].date() == last.date()
    fmt = "%H:%M" if one_day else "%Y-%m-%d %H:%M"
    shown = ", ".join(moment.strftime(fmt) for moment in matches[:NOTE_MATCHES])
    if total > NOTE_MATCHES:
        shown += f" and {total - NOTE_MATCHES} more"
    verb = "does" if total == 1 else "do"
    where = f"on {matches[0]:%Y-%m-%d} in {zone}" if one_day else f"in {zone}"
    fired_fmt = "%H:%M" if one_day and fired.date() == matches[0].date() else "%Y-%m-%d %H:%M"
    return f"{shown} {verb} not exist {where} (clocks moved forward); fired at {fired.strftime(fired_fmt)}"


def fold_note(zone: str, minute: int) -> str:
    """Explain a fire on the second occurrence of a repeated wall minute (UTC ``minute``).

    Example: "01:30 occurs twice on 2025-11-02 in America/New_York (clocks moved back); this is the
    second run, at 01:30 EST".
    """
    tz = load_zone(zone)
    if tz is None:  # pragma: no cover - callers only pass zones that produced WallParts
        return f"repeated wall-clock minute in {zone} (clocks moved back); this is the second run"
    local = local_time(minute, tz)
    return (
        f"{local:%H:%M} occurs twice on {local:%Y-%m-%d} in {zone} (clocks moved back); "
        f"this is the second run, at {local:%H:%M} {local.tzname()}"
    )
