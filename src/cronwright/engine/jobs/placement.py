"""Where a job runs: the connected servers its targets (and target expression) allow, and the one
its algorithm picks (selection.py holds the pure rules). The round-robin position lives in the
event's state row, read and moved in one transaction so every conductor takes the next turn."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cronwright.engine.jobs import selection
from cronwright.expr import ExprError, compile_expression, is_truthy

if TYPE_CHECKING:
    from cronwright.engine.catalog import Catalog
    from cronwright.engine.servers import ServerRegistry
    from cronwright.store.base import Store


class Placement:
    def __init__(
        self,
        catalog: Catalog,
        servers: ServerRegistry,
        store: Store,
        active: dict[str, dict[str, Any]],
        note: Callable[[dict[str, Any], str], None],
    ) -> None:
        self._catalog = catalog
        self._servers = servers
        self._store = store
        self._active = active
        self._note = note
        self._rng = random.Random()

    def candidates(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        """The servers the job may run on now (targets, expression, per-server job limits)."""
        servers = self._servers.connected_servers()
        running = [j for j in self._active.values() if j["state"] in ("active", "starting")]
        running += self._elsewhere()
        matches = None
        if isinstance(job.get("expression"), str) and job["expression"].strip():
            try:
                compiled = compile_expression(job["expression"])
            except ExprError as exc:
                self._note(job, f"Target expression ignored: {exc}")
            else:

                def matches(server: dict[str, Any]) -> bool:
                    try:
                        return is_truthy(compiled.evaluate(server))
                    except ExprError:
                        return True

        groups = {g["id"]: g for g in self._catalog["groups"].values()}
        return selection.candidates(
            job.get("targets") or [], servers, groups, running, selection.job_weight(job), matches
        )

    def _elsewhere(self) -> list[dict[str, Any]]:
        """Stand-ins for the jobs other conductors run on the servers they hold (weight 1 each, as
        last published: up to ``presence.REPUBLISH_S`` old, docs/fleet.md)."""
        return [{"server": sid} for sid, count in self._servers.remote_job_counts().items() for _ in range(count)]

    def choose(self, job: dict[str, Any]) -> dict[str, Any] | None:
        """The server the job's algorithm picks, None when none is available; raises
        ``selection.UnknownAlgorithm`` and ``StoreError`` (round robin needs the database)."""
        cands = self.candidates(job)
        algo = str(job.get("algo") or "random")
        active = [j for j in self._active.values() if j["state"] == "active"] + self._elsewhere()
        if algo != "round_robin":
            return selection.choose(algo, cands, robin=0, active_jobs=active, rng=self._rng).server

        def choose(w: Any) -> dict[str, Any] | None:
            state = w.event_state_for_update(job["event"])
            choice = selection.choose(
                algo, cands, robin=int(state.get("robin") or 0), active_jobs=active, rng=self._rng
            )
            if choice.robin is not None:
                w.set_event_state(job["event"], {**state, "robin": choice.robin})
            return choice.server

        return self._store.transact(choose)
