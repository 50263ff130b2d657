"""PostgreSQL locks of several conductors (store/sql/cluster.py): keys nobody can aim at another
lock, and a transaction that cannot get an event's lock fails instead of hanging."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from cronwright.store.base import StoreError
from cronwright.store.sql import cluster
from cronwright.store.sql.store import SqlStore
from tests.conftest import require_backend
from tests.support.server import temporary_pg_database


@pytest.fixture
def pg() -> Iterator[SqlStore]:
    require_backend("postgresql")
    with temporary_pg_database() as url:
        store = SqlStore.open(url)
        try:
            yield store
        finally:
            store.close()


def test_advisory_keys_are_64_bit_and_separate_purposes() -> None:
    keys = {cluster.advisory_key(purpose, "x") for purpose in ("event", "event state", "conductor")}
    assert len(keys) == 3
    assert all(-(2**63) <= k < 2**63 for k in keys)
    assert any(abs(k) >= 2**32 for k in keys)  # not a 32-bit checksum


def test_a_held_event_lock_fails_the_waiter_instead_of_hanging(pg: SqlStore) -> None:
    holder = pg.engine.connect()
    try:
        holder.begin()
        cluster.lock_event(holder, "ev1")
        started = time.monotonic()
        with pytest.raises(StoreError):
            pg.transact(lambda w: w.lock_event("ev1"))
        assert time.monotonic() - started < 15
        pg.transact(lambda w: w.lock_event("ev2"))  # another event's lock is free
    finally:
        holder.rollback()
        holder.close()
    pg.transact(lambda w: w.lock_event("ev1"))  # released with the holder's transaction


def test_a_conductor_id_is_held_by_one_process(pg: SqlStore) -> None:
    """One live process per id; the id is free again once that process's store is closed."""
    url = pg.engine.url.render_as_string(hide_password=False)
    other, third = SqlStore.open(url), SqlStore.open(url)
    try:
        assert pg.claim_conductor("host:1")
        assert not other.claim_conductor("host:1")
        assert other.claim_conductor("host:2")
        assert not third.claim_conductor("host:2")
        other.close()
        assert third.claim_conductor("host:2")
    finally:
        other.close()
        third.close()
