"""Pure scheduling maths: given an event's triggers, a UTC minute and the zone cache, what launches.

No I/O and no clock reads: the minute, the default zone and the every-nth counter are arguments.

* ``compile_triggers(triggers, default_tz)`` → ``CompiledTriggers`` (cache per event revision);
* ``CompiledTriggers.evaluate(minute, nth, zones)`` → ``MinuteResult`` (triggers.md §3 steps 5.1–5.7);
* ``CompiledTriggers.forecast(after, count, nth, zones)`` → the coming ``Fire``/``Suppressed`` items;
* ``ZoneCache`` — wall-clock parts per (zone, minute), shared by all events of a tick.

The caller owns the catch-up cursor and persists the nth counter; a catch-up replay is
``evaluate`` over ``cursor + 60 … now`` threading ``MinuteResult.nth``.
"""

from cronwright.triggers.compiled import CompiledTriggers, compile_triggers
from cronwright.triggers.results import Fire, MinuteResult, Suppressed
from cronwright.triggers.zones import WallParts, ZoneCache

__all__ = [
    "CompiledTriggers",
    "Fire",
    "MinuteResult",
    "Suppressed",
    "WallParts",
    "ZoneCache",
    "compile_triggers",
]
