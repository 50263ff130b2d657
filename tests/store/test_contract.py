"""The storage contract, run against every backend (SQLite always, PostgreSQL when reachable)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cronwright.store.base import ActivityQuery, DuplicateId, StaleWrite
from cronwright.store.sql.store import SqlStore
from tests.conftest import BACKENDS, require_backend
from tests.support.server import temporary_pg_database


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    require_backend(request.param)
    if request.param == "sqlite":
        store = SqlStore.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
        yield store
        store.close()
    else:
        with temporary_pg_database() as url:
            store = SqlStore.open(url)
            yield store
            store.close()


def test_docs_keep_insertion_order_and_round_trip(store: SqlStore) -> None:
    """Documents come back equal, in the order they were inserted."""
    docs = [{"id": f"ev{i}", "revision": 1, "n": i, "nested": {"a": [1, "x", None, True, 1.5]}} for i in (3, 1, 2)]
    with store.write() as w:
        for doc in docs:
            w.insert_doc("events", doc)
    assert store.load_docs("events") == docs
    assert store.get_doc("events", "ev1") == docs[1]
    assert store.get_doc("events", "missing") is None


def test_duplicate_insert_rolls_back_the_whole_write(store: SqlStore) -> None:
    """A duplicate id raises ``DuplicateId`` and nothing of that transaction is kept."""
    with store.write() as w:
        w.insert_doc("tags", {"id": "a", "revision": 1})
    with pytest.raises(DuplicateId), store.write() as w:
        w.insert_doc("tags", {"id": "b", "revision": 1})
        w.insert_doc("tags", {"id": "a", "revision": 1})
    assert [d["id"] for d in store.load_docs("tags")] == ["a"]


def test_update_is_compare_and_set(store: SqlStore) -> None:
    """An update with a stale expected revision raises ``StaleWrite`` and changes nothing."""
    with store.write() as w:
        w.insert_doc("events", {"id": "e", "revision": 1, "title": "one"})
    with store.write() as w:
        w.update_doc("events", {"id": "e", "revision": 2, "title": "two"}, expected_revision=1)
    with pytest.raises(StaleWrite), store.write() as w:
        w.update_doc("events", {"id": "e", "revision": 2, "title": "lost"}, expected_revision=1)
    with pytest.raises(StaleWrite), store.write() as w:
        w.update_doc("events", {"id": "gone", "revision": 1}, expected_revision=None)
    assert store.get_doc("events", "e") == {"id": "e", "revision": 2, "title": "two"}


def test_concurrent_compare_and_set_admits_one_writer(store: SqlStore) -> None:
    """Of many threads updating from the same revision, exactly one wins."""
    with store.write() as w:
        w.insert_doc("events", {"id": "race", "revision": 1})
    wins: list[int] = []
    errors: list[Exception] = []

    def attempt(i: int) -> None:
        try:
            with store.write() as w:
                w.update_doc("events", {"id": "race", "revision": 2, "by": i}, expected_revision=1)
            wins.append(i)
        except StaleWrite:
            pass
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(wins) == 1
    assert store.get_doc("events", "race") == {"id": "race", "revision": 2, "by": wins[0]}


def test_delete_doc(store: SqlStore) -> None:
    """Deleting reports whether a document was there."""
    with store.write() as w:
        w.insert_doc("roles", {"id": "r", "revision": 1})
        assert w.delete_doc("roles", "r") is True
        assert w.delete_doc("roles", "r") is False
    assert store.load_docs("roles") == []


def test_event_state_and_kv(store: SqlStore) -> None:
    """Event state and key/value entries are upserted, read back and deleted."""
    with store.write() as w:
        w.set_event_state("e1", {"cursor": 60})
        w.set_event_state("e1", {"cursor": 120, "nth": 2})
        w.set_kv("state", {"scheduler": {"enabled": True}})
        assert w.insert_kv_once("install", {"v": 1}) is True
        assert w.insert_kv_once("install", {"v": 2}) is False
    assert store.get_event_state("e1") == {"cursor": 120, "nth": 2}
    assert store.get_event_state("nope") == {}
    assert store.load_event_states() == {"e1": {"cursor": 120, "nth": 2}}
    assert store.get_kv("install") == {"v": 1} and store.get_kv("missing") is None
    with store.write() as w:
        w.delete_event_state("e1")
    assert store.load_event_states() == {}


def test_activity_search(store: SqlStore) -> None:
    """Activity is found by action and keyword, newest first by default, with a total count."""
    with store.write() as w:
        for i in range(5):
            action = "event_update" if i % 2 else "event_create"
            w.add_activity({"id": f"a{i}", "action": action, "epoch": 100 + i, "keywords": [f"e{i % 2}", "admin"]})
    rows, total = store.search_activity(ActivityQuery(keywords=("e1",), limit=10))
    assert [r["id"] for r in rows] == ["a3", "a1"] and total == 2
    rows, total = store.search_activity(ActivityQuery(actions=("event_create",), limit=1, offset=1))
    assert [r["id"] for r in rows] == ["a2"] and total == 3
    rows, total = store.search_activity(ActivityQuery(limit=2, newest_first=False))
    assert [r["id"] for r in rows] == ["a0", "a1"] and total == 5
    rows, total = store.search_activity(ActivityQuery(actions=("x",), keywords=("admin",)))
    assert rows == [] and total == 0


def test_sessions(store: SqlStore) -> None:
    """Sessions are stored, read, deleted and purged by expiry."""
    with store.write() as w:
        w.put_session({"id": "s1", "username": "admin", "expires": 100.0})
        w.put_session({"id": "s2", "username": "admin", "expires": 300.0})
    assert store.get_session("s1") == {"id": "s1", "username": "admin", "expires": 100.0}
    assert store.purge_sessions(200.0) == 1
    assert store.get_session("s1") is None and store.get_session("s2") is not None
    with store.write() as w:
        w.delete_session("s2")
    assert store.get_session("s2") is None


def test_jobs_by_event_and_history_deletion(store: SqlStore) -> None:
    """Unfinished jobs are listed for recovery; deleting an event's history removes only its completed jobs."""
    with store.write() as w:
        for i, (event, state) in enumerate(
            [("e1", "active"), ("e1", "queued"), ("e1", "complete"), ("e1", "complete"), ("e2", "complete")]
        ):
            w.put_job({"id": f"j{i}", "event": event, "state": state, "started": float(i)})
        w.put_job({"id": "j0", "event": "e1", "state": "active", "started": 0.0, "progress": 0.5})
    assert [j["id"] for j in store.unfinished_jobs()] == ["j0", "j1"]
    deleted = [job_id for batch in store.delete_event_jobs("e1", batch=1) for job_id in batch]
    assert sorted(deleted) == ["j2", "j3"]
    assert store.get_job("j2") is None and store.get_job("j4") is not None and store.get_job("j0") is not None


def test_schema_version(store: SqlStore) -> None:
    """A new database is stamped with the latest migration version."""
    from cronwright.store.sql.migrations import MIGRATIONS

    assert store.schema_version() == MIGRATIONS[-1].version


def test_fires_are_recorded_once(store: SqlStore) -> None:
    """A fire (event, instant, trigger) can be recorded only once; the loser's whole write rolls back."""
    fire = {
        "event_id": "e1",
        "at": 1766111340,
        "trigger": 0,
        "round": 0,
        "status": "launched",
        "job_id": "j1",
        "reason": None,
        "recorded": 1.0,
    }
    with store.write() as w:
        w.record_fire(fire)
        w.put_job({"id": "j1", "event": "e1", "state": "ready"})
    with pytest.raises(DuplicateId), store.write() as w:
        w.put_job({"id": "j2", "event": "e1", "state": "ready"})
        w.record_fire({**fire, "job_id": "j2"})
    assert store.get_job("j2") is None
    with store.write() as w:
        w.record_fire({**fire, "trigger": 1, "status": "skipped", "job_id": None, "reason": "missed"})
    rows, total = store.fires_of("e1", 0, 10)
    assert total == 2 and [r["trigger"] for r in rows] == [0, 1] and rows[1]["reason"] == "missed"


def test_user_sessions_and_activity_dates(store: SqlStore) -> None:
    """A user's sessions are deleted together; activity is filtered by inclusive date bounds."""
    with store.write() as w:
        w.put_session({"id": "s1", "username": "ann", "expires": 9e9})
        w.put_session({"id": "s2", "username": "ann", "expires": 9e9})
        w.put_session({"id": "s3", "username": "bob", "expires": 9e9})
        assert w.delete_user_sessions("ann") == 2
        for i, epoch in enumerate((100, 200, 300)):
            w.add_activity({"id": f"d{i}", "action": "x", "epoch": epoch, "keywords": ["k"]})
    assert store.get_session("s1") is None and store.get_session("s3") is not None
    rows, total = store.search_activity(ActivityQuery(since=200, until=300, limit=10))
    assert total == 2 and [r["epoch"] for r in rows] == [300, 200]
