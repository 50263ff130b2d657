"""Server selection (jobs.md §5.1): candidates from targets, capacity, expression, algorithm.

Pure: the caller passes the servers, the active jobs, the round-robin index and a random source.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cronwright.engine.jobs.rules import first_limit, limit_amount

ALGORITHMS = (
    "random",
    "round_robin",
    "least_cpu",
    "least_mem",
    "fewest_jobs",
    "prefer_first",
    "prefer_last",
    "prefer_first_natural",
    "prefer_last_natural",
    "multiplex",
)


class UnknownAlgorithm(ValueError):
    """The event names an algorithm (or monitor) that does not exist."""


@dataclass
class Choice:
    server: dict[str, Any] | None
    #: the next round-robin index to store (None when unchanged)
    robin: int | None = None


def job_weight(job: dict[str, Any]) -> float:
    amount = limit_amount({"amount": (first_limit(job, "job") or {}).get("weight")})
    return amount if amount and amount > 0 else 1


def candidates(
    targets: Sequence[Any],
    servers: Sequence[dict[str, Any]],
    groups: dict[str, dict[str, Any]],
    active_jobs: Sequence[dict[str, Any]],
    weight: float,
    matches: Callable[[dict[str, Any]], bool] | None = None,
) -> list[dict[str, Any]]:
    """Connected, enabled servers named by ``targets`` (server ids or group ids, in target order),
    with room for a job of ``weight`` and accepted by the target expression ``matches``."""
    chosen: dict[str, dict[str, Any]] = {}
    by_id = {s["id"]: s for s in servers}
    for target in targets:
        if not isinstance(target, str):
            continue
        if target in by_id:
            chosen.setdefault(target, by_id[target])
        elif target in groups:
            for server in servers:
                if target in (server.get("groups") or []):
                    chosen.setdefault(server["id"], server)
    result = []
    for server in chosen.values():
        if not server.get("enabled", True):
            continue
        cap = _capacity(server, groups)
        if cap:
            load = sum(job_weight(j) for j in active_jobs if j.get("server") == server["id"])
            if weight + load > cap:
                continue
        if matches is not None and not matches(server):
            continue
        result.append(server)
    return result


def _capacity(server: dict[str, Any], groups: dict[str, dict[str, Any]]) -> float:
    own = limit_amount({"amount": server.get("maxJobs")})
    if own:
        return own
    caps = [
        c
        for g in server.get("groups") or []
        if g in groups and (c := limit_amount({"amount": groups[g].get("max_jobs_per_server")}))
    ]
    return min(caps) if caps else 0


def choose(
    algo: str,
    cands: list[dict[str, Any]],
    *,
    robin: int,
    active_jobs: Sequence[dict[str, Any]],
    rng: random.Random,
) -> Choice:
    """Pick one server with ``algo``; ties go to the earliest candidate."""
    if algo not in ALGORITHMS:
        raise UnknownAlgorithm(f"Unknown algorithm or monitor: {algo}")
    if not cands:
        return Choice(None)
    if algo in ("random", "multiplex"):
        return Choice(rng.choice(cands))
    if algo == "round_robin":
        return Choice(cands[robin % len(cands)], robin=(robin + 1) % len(cands))
    if algo == "prefer_first_natural":
        return Choice(cands[0])
    if algo == "prefer_last_natural":
        return Choice(cands[-1])
    if algo in ("prefer_first", "prefer_last"):
        # code-point order of the lower-cased keys (servers-agents.md §7.2 CHOICE); stable for ties
        ordered = sorted(cands, key=lambda s: str(s.get("title") or s.get("hostname") or s["id"]).lower())
        return Choice(ordered[0] if algo == "prefer_first" else ordered[-1])
    if algo == "fewest_jobs":
        counts = {s["id"]: sum(1 for j in active_jobs if j.get("server") == s["id"]) for s in cands}
        return Choice(min(cands, key=lambda s: counts[s["id"]]))
    path = ("cpu", "avgLoad") if algo == "least_cpu" else ("memory", "active")
    pick = cands[0]
    best = _metric(pick, path)
    for server in cands[1:]:
        value = _metric(server, path)
        # strictly smaller only; a server without the figure never replaces the pick, and a
        # first pick without it is never replaced (§7.2: e.g. a satellite before its first sample)
        if best is not None and value is not None and value < best:
            pick, best = server, value
    return Choice(pick)


def _metric(server: dict[str, Any], path: tuple[str, str]) -> float | None:
    value = ((server.get("info") or {}).get(path[0]) or {}).get(path[1])
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
