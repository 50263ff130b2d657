"""An event's triggers compiled once, and the per-minute decision (triggers.md §3 steps 2–5.7).

``compile_triggers`` never raises: entries that validation would have rejected are ignored, except
that an enabled launching trigger always counts towards ``launching`` (§3 step 2 looks only at
``enabled`` and ``type``) even when it is too malformed to ever match.

Decisions where the spec leaves room:

* Only the *first* enabled ``delay``, ``precision``, ``quiet``, ``plugin``, ``nth`` and ``catchup``
  count (§3 step 3); a malformed first one is ignored rather than replaced by a later one.
* ``precision`` and ``delay`` together (rejected at save time): precision wins — one fire per second
  offset with ``until = at``; interval hits likewise win over ``delay``.
* With a scheduler-plugin gate, offsets are not expanded (§3 step 5.7: "Else if second offsets
  exist"): one fire per chosen trigger at the minute, carrying ``plugin_gate``.
* A suppressed minute reports one ``Suppressed`` per launch it held back (same index and ``at`` as
  the ``Fire`` it replaces).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from cronwright.triggers.forecast import forecast_fires
from cronwright.triggers.launchers import (
    ALL_DAYS,
    ALL_HOURS,
    ALL_MINUTES,
    ALL_MONTHS,
    ALL_WEEKDAYS,
    ALL_YEARS,
    IntervalLauncher,
    Launcher,
    Match,
    NeverLauncher,
    ScheduleLauncher,
    ScheduleSets,
    SingleLauncher,
)
from cronwright.triggers.results import Fire, MinuteResult, Suppressed
from cronwright.triggers.values import as_int, as_number, int_set, js_truthy
from cronwright.triggers.window import Window
from cronwright.triggers.zones import ZoneCache, load_zone

__all__ = ["CompiledTriggers", "compile_triggers"]

LAUNCHING_TYPES = frozenset({"schedule", "single", "interval"})
_FIRST_OF = ("catchup", "delay", "precision", "quiet", "plugin", "nth", "startup")
# Schedule list → its "any" set, in ScheduleSets field order.
_ANY: Mapping[str, frozenset[int]] = MappingProxyType(
    {
        "years": ALL_YEARS,
        "months": ALL_MONTHS,
        "days": ALL_DAYS,
        "weekdays": ALL_WEEKDAYS,
        "hours": ALL_HOURS,
        "minutes": ALL_MINUTES,
    }
)


def compile_triggers(triggers: list[Any], default_tz: str) -> CompiledTriggers:
    """Pre-process an event's ``triggers`` for fast per-minute evaluation (cache per event revision)."""
    return CompiledTriggers(triggers if isinstance(triggers, list) else [], default_tz)


_SUFFIXES = {1: "st", 2: "nd", 3: "rd"}


def _ordinal(number: int) -> str:
    """English ordinal: 2nd, 3rd, 11th, 21st."""
    suffix = "th" if 10 <= number % 100 <= 20 else _SUFFIXES.get(number % 10, "th")
    return f"{number}{suffix}"


class CompiledTriggers:
    """An event's triggers, pre-processed once (cache it per event revision)."""

    launching: bool  # has at least one enabled schedule/single/interval trigger (§3 step 2)
    catchup: bool  # an enabled catchup trigger exists
    startup: dict[str, Any] | None  # the enabled startup trigger, else None

    def __init__(self, triggers: list[Any], default_tz: str) -> None:
        enabled = [
            (index, trigger)
            for index, trigger in enumerate(triggers)
            if isinstance(trigger, dict) and js_truthy(trigger.get("enabled")) and _kind(trigger) is not None
        ]
        first: dict[str, dict[str, Any]] = {}
        for _, trigger in enabled:
            kind = trigger["type"]
            if kind in _FIRST_OF and kind not in first:
                first[kind] = trigger
        self.launchers: tuple[Launcher, ...] = tuple(
            _compile_launcher(index, trigger, default_tz)
            for index, trigger in enabled
            if trigger.get("type") in LAUNCHING_TYPES
        )
        self.launching = bool(self.launchers)
        self.catchup = "catchup" in first
        self.startup = first.get("startup")
        self.window = Window(
            [t for _, t in enabled if t.get("type") == "range"],
            [t for _, t in enabled if t.get("type") == "blackout"],
        )
        self.delay = _delay_of(first.get("delay"))
        self.precision = _precision_of(first.get("precision"))
        self.nth_every = _nth_of(first.get("nth"))
        quiet = first.get("quiet") or {}
        self.invisible = js_truthy(quiet.get("invisible"))
        self.ephemeral = js_truthy(quiet.get("ephemeral"))
        self.plugin_gate = first.get("plugin")
        self._idle: MinuteResult | None = None

    def evaluate(self, minute: int, nth: int, zones: ZoneCache) -> MinuteResult:
        """Triggers.md §3 steps 5.1–5.7 for one UTC minute; ``nth`` is the every-nth counter before it."""
        minute = int(minute // 60 * 60)
        table = zones.table(minute)
        chosen: list[tuple[Launcher, Match]] | None = None
        for launcher in self.launchers:
            match = launcher.match(minute, table)
            if match is not None:
                if chosen is None:
                    chosen = [(launcher, match)]
                else:
                    chosen.append((launcher, match))
        if chosen is None:
            idle = self._idle
            if idle is None or idle.nth != nth:
                idle = self._idle = MinuteResult([], [], nth)
            return idle
        return self._decide(minute, nth or 0, chosen)

    def forecast(
        self,
        after: float,
        count: int,
        nth: int,
        zones: ZoneCache,
        *,
        horizon_days: int = 400,
        include_suppressed: bool = True,
    ) -> list[Fire | Suppressed]:
        """The next ``count`` fires of the minutes after ``after`` (see ``forecast.forecast_fires``)."""
        return forecast_fires(
            self,
            after,
            count,
            nth,
            zones,
            horizon_days=horizon_days,
            include_suppressed=include_suppressed,
        )

    def _decide(self, minute: int, nth: int, chosen: list[tuple[Launcher, Match]]) -> MinuteResult:
        """Steps 5.4–5.7 for a minute in which at least one launcher matched."""
        fires = [fire for launcher, match in chosen for fire in self._fires(minute, launcher, match)]
        blocked = self.window.blocked(minute)
        if blocked is None and self.nth_every is not None:
            nth -= 1
            if nth <= 0:
                nth = self.nth_every
            else:
                blocked = "nth", f"every {_ordinal(self.nth_every)} eligible minute ({nth} to go)"
        if blocked is None:
            return MinuteResult(fires, [], nth)
        reason, detail = blocked
        held = [Suppressed(fire.trigger_index, minute, fire.at, reason, detail) for fire in fires]
        return MinuteResult([], held, nth)

    def _fires(self, minute: int, launcher: Launcher, match: Match) -> list[Fire]:
        """The launch requests of one chosen trigger (step 5.7)."""
        offsets: tuple[int, ...] | None = None
        if self.plugin_gate is None:
            offsets = match.offsets if match.offsets is not None else self.precision
        if offsets is None:
            until = None if self.delay is None else minute + self.delay
            return [self._fire(launcher, minute, minute, until, match.note)]
        return [self._fire(launcher, minute, minute + s, minute + s, match.note) for s in offsets]

    def _fire(self, launcher: Launcher, minute: int, at: int, until: int | float | None, note: str | None) -> Fire:
        """One ``Fire`` of ``launcher`` with this event's quiet flags and plugin gate."""
        return Fire(
            trigger_index=launcher.index,
            stype=launcher.stype,
            minute=minute,
            at=at,
            until=until,
            params=launcher.params,
            tags=launcher.tags,
            data=launcher.data,
            invisible=self.invisible,
            ephemeral=self.ephemeral,
            plugin_gate=self.plugin_gate,
            dst=note,
            key=f"{launcher.index}:{at}",
        )


def _kind(trigger: dict[str, Any]) -> str | None:
    """The trigger's ``type`` when it is a non-empty string (§3 step 2: truthy type), else ``None``."""
    kind = trigger.get("type")
    return kind if isinstance(kind, str) and kind else None


def _compile_launcher(index: int, trigger: dict[str, Any], default_tz: str) -> Launcher:
    """The matcher of one enabled schedule/interval/single trigger (a ``NeverLauncher`` when malformed)."""
    kind = trigger.get("type")
    if kind == "schedule":
        zone = trigger.get("timezone") if js_truthy(trigger.get("timezone")) else default_tz
        if not isinstance(zone, str) or load_zone(zone) is None:
            return NeverLauncher(index, None, trigger)
        lists = {key: int_set(trigger.get(key)) for key in _ANY}
        sets = ScheduleSets(**{key: _ANY[key] if value is None else value for key, value in lists.items()})
        return ScheduleLauncher(index, trigger, zone, sets)
    if kind == "interval":
        start, duration = as_int(trigger.get("start")), as_int(trigger.get("duration"))
        if start is None or duration is None or duration <= 0:
            return NeverLauncher(index, "interval", trigger)
        return IntervalLauncher(index, trigger, start, duration)
    epoch = as_number(trigger.get("epoch"))
    if epoch is None:
        return NeverLauncher(index, "single", trigger)
    return SingleLauncher(index, trigger, int(epoch // 60) * 60)


def _delay_of(trigger: dict[str, Any] | None) -> int | float | None:
    """The first delay's positive duration in seconds, else ``None``."""
    duration = as_number((trigger or {}).get("duration"))
    if duration is None or duration <= 0:
        return None
    return int(duration) if float(duration).is_integer() else duration


def _precision_of(trigger: dict[str, Any] | None) -> tuple[int, ...] | None:
    """The precision second offsets, sorted and deduplicated; ``None`` when there are none."""
    seconds = (trigger or {}).get("seconds")
    if not isinstance(seconds, list):
        return None
    offsets = sorted({s for s in map(as_int, seconds) if s is not None and 0 <= s <= 59})
    return tuple(offsets) or None


def _nth_of(trigger: dict[str, Any] | None) -> int | None:
    """The every-nth period (≥ 2), else ``None`` (no counting)."""
    every = as_int((trigger or {}).get("every"))
    return every if every is not None and every >= 2 else None
