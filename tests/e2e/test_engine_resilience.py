"""The job engine when the database fails at the worst moment (in-process conductor, real jobs)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cronwright.config import load_settings
from cronwright.engine.activity import Origin
from cronwright.engine.conductor import Conductor
from cronwright.engine.identity import Identity
from cronwright.store.base import StoreError

ADMIN = Identity(kind="user", username="admin", title="admin", privileges={"admin": True})


class _FlakyWriter:
    """Refuses the first write of a final job record, like a database that briefly went away."""

    def __init__(self, inner: Any, failures: list[int]) -> None:
        self._inner = inner
        self._failures = failures

    def put_job(self, job: dict[str, Any]) -> None:
        if job.get("final") and self._failures[0] > 0:
            self._failures[0] -= 1
            raise StoreError("database is locked (simulated)")
        self._inner.put_job(job)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_final_record_is_retried_until_stored(tmp_path: Path) -> None:
    """A final record the database refuses stays pending and is stored by the next monitor pass."""

    async def scenario() -> None:
        settings = load_settings({"data_dir": str(tmp_path)}, environ={"CRONWRIGHT_ADMIN_KEY": "x"})
        conductor = Conductor.open(settings)
        await conductor.jobs.start()
        store = conductor.store
        real_write, real_transact = store.write, store.transact
        failures = [1]

        @contextmanager
        def flaky_write() -> Iterator[Any]:
            with real_write() as writer:
                yield _FlakyWriter(writer, failures)

        def flaky_transact(work: Any) -> Any:
            return real_transact(lambda writer: work(_FlakyWriter(writer, failures)))

        store.write = flaky_write  # type: ignore[method-assign]
        store.transact = flaky_transact  # type: ignore[method-assign]
        try:
            event = conductor.events.create_event(
                {
                    "title": "t",
                    "enabled": True,
                    "category": "general",
                    "targets": ["main"],
                    "algo": "random",
                    "plugin": "shellplug",
                    "params": {"script": "#!/bin/sh\necho done\n"},
                },
                lambda: ADMIN,
                Origin.internal(),
            )
            job = conductor.jobs.launch({**event, "source": "user", "username": "admin"})[0]
            final = await asyncio.wait_for(conductor.jobs.observers.wait_for(job["id"]), 15)
            assert failures == [0]  # the first attempt was refused
            stored = store.get_job(job["id"])
            assert stored is not None and stored["final"] and stored["code"] == 0 and final["id"] == job["id"]
            assert store.get_event_state(event["id"])["total_count"] == 1  # counted once, not twice
            assert job["id"] not in conductor.jobs.active
        finally:
            store.write = real_write  # type: ignore[method-assign]
            store.transact = real_transact  # type: ignore[method-assign]
            await conductor.jobs.stop()
            conductor.close()

    asyncio.run(scenario())
