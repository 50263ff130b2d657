"""Advice on a saved event: what xyOps accepts but is probably a mistake (Cronwright's ``warnings``).

Nothing here refuses an event. ``create_event``/``update_event`` save it and answer these
messages in a ``warnings`` array next to it (docs/compatibility.md). Pure: the caller passes the
ids that exist and the selection algorithms.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Collection, Mapping
from typing import Any

from cronwright.engine.validation.triggers import known_timezones
from cronwright.model.documents import Event, Trigger

#: top-level event keys Cronwright or xyOps give a meaning to (a typo of one gets a warning)
KNOWN_EVENT_KEYS = frozenset(Event.model_fields) | {"type", "workflow", "expression", "update_state"}
#: top-level keys newcomers put on the event that belong elsewhere
MISPLACED_KEYS = {
    "timezone": 'a time zone belongs to a trigger: set "timezone" on the schedule trigger',
    "script": "it is not stored on an event: the Shell plugin runs params.script",
}


def event_warnings(
    changes: Mapping[str, Any],
    *,
    target_ids: Collection[str],
    algorithms: Collection[str],
    workflow: bool = False,
) -> list[str]:
    """Warnings about the keys of ``changes`` (a new event, or the keys an update sends): a
    misspelt top-level key, targets that are neither a server nor a group, an unknown ``algo``."""
    warnings = []
    for key in changes:
        if key in MISPLACED_KEYS:
            warnings.append(f"Key {key!r} has no effect here: {MISPLACED_KEYS[key]}.")
        elif key not in KNOWN_EVENT_KEYS and (close := _closest(key, KNOWN_EVENT_KEYS)):
            warnings.append(f"Unknown key {key!r}: did you mean {close!r}?")
    warnings.extend(trigger_warnings(changes.get("triggers")))
    if workflow:  # a workflow's nodes name their own events; the workflow itself has no targets
        return warnings
    targets = changes.get("targets")
    for target in targets if isinstance(targets, list) else []:
        if isinstance(target, str) and target not in target_ids:
            warnings.append(
                f"Unknown target {target!r}: no server or group has this id, so no server can run the "
                f"event's jobs{_did_you_mean(target, target_ids)}."
            )
    algo = changes.get("algo")
    if isinstance(algo, str) and algo and algo not in algorithms:
        what = "monitor-based selection is not supported yet" if algo.startswith("monitor:") else "no such algorithm"
        warnings.append(
            f"Unknown algo {algo!r} ({what}): the event's jobs will fail to launch"
            f"{_did_you_mean(algo, algorithms)}. Use one of: {', '.join(algorithms)}."
        )
    return warnings


#: trigger keys with a meaning (a typo of one gets a warning)
KNOWN_TRIGGER_KEYS = frozenset(Trigger.model_fields) | {"plugin_id", "data", "id", "title", "invisible", "ephemeral"}
#: what narrows a schedule trigger; one with none of them fires every minute
SCHEDULE_FIELDS = ("years", "months", "days", "weekdays", "hours", "minutes")


def trigger_warnings(triggers: Any) -> list[str]:
    """A misspelt trigger key (``hour`` for ``hours``: ignored, so the trigger fires far more often
    than meant), and a schedule trigger that names no time at all (it fires every minute)."""
    warnings = []
    for number, trigger in enumerate(triggers if isinstance(triggers, list) else [], start=1):
        if not isinstance(trigger, dict):
            continue
        for key in trigger:
            if key not in KNOWN_TRIGGER_KEYS and (close := _closest(key, KNOWN_TRIGGER_KEYS)):
                warnings.append(f"Trigger #{number}: unknown key {key!r}: did you mean {close!r}?")
        if (
            trigger.get("type") == "schedule"
            and trigger.get("enabled")
            and not any(trigger.get(name) for name in SCHEDULE_FIELDS)
        ):
            warnings.append(
                f"Trigger #{number} (schedule) sets none of {', '.join(SCHEDULE_FIELDS)}: it fires every minute."
            )
    return warnings


def fix_timezone_case(triggers: Any) -> list[str]:
    """Give each trigger ``timezone`` that differs from an IANA zone only in case (``europe/paris``)
    that zone's spelling, in place (zone names are case-sensitive); one warning per change."""
    warnings = []
    for index, trigger in enumerate(triggers if isinstance(triggers, list) else []):
        zone = trigger.get("timezone") if isinstance(trigger, dict) else None
        if not isinstance(zone, str) or zone in known_timezones():
            continue
        spelled = _zones_by_lower_case().get(zone.lower())
        if spelled is not None:
            trigger["timezone"] = spelled
            warnings.append(
                f"Trigger #{index + 1}: time zone {zone!r} saved as {spelled!r} (zone names are case-sensitive)."
            )
    return warnings


@functools.lru_cache(maxsize=1)
def _zones_by_lower_case() -> dict[str, str]:
    return {zone.lower(): zone for zone in sorted(known_timezones())}


def _closest(word: str, known: Collection[str]) -> str | None:
    matches = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.8)
    return matches[0] if matches else None


def _did_you_mean(word: str, known: Collection[str]) -> str:
    matches = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {matches[0]!r}?)" if matches else ""
