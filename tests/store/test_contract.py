"""The storage contract, run against every store (SQLite always, PostgreSQL when reachable, and
the in-process ``MemoryStore``; the ``store`` fixture is in ``conftest.py``)."""

from __future__ import annotations

import threading
from typing import Any, Literal

import pytest

from cronwright.store.base import (
    ActivityQuery,
    DuplicateId,
    Lease,
    LostJob,
    NotLeader,
    StaleWrite,
    Store,
    StoreError,
    StoreWriter,
)
from cronwright.store.jobquery import Group, JobSearch, Term
from cronwright.store.memory import MemoryStore


def test_docs_keep_insertion_order_and_round_trip(store: Store) -> None:
    """Documents come back equal, in the order they were inserted."""
    docs = [{"id": f"ev{i}", "revision": 1, "n": i, "nested": {"a": [1, "x", None, True, 1.5]}} for i in (3, 1, 2)]
    with store.write() as w:
        for doc in docs:
            w.insert_doc("events", doc)
    assert store.load_docs("events") == docs
    assert store.get_doc("events", "ev1") == docs[1]
    assert store.get_doc("events", "missing") is None


def test_duplicate_insert_rolls_back_the_whole_write(store: Store) -> None:
    """A duplicate id raises ``DuplicateId`` and nothing of that transaction is kept."""
    with store.write() as w:
        w.insert_doc("tags", {"id": "a", "revision": 1})
    with pytest.raises(DuplicateId), store.write() as w:
        w.insert_doc("tags", {"id": "b", "revision": 1})
        w.insert_doc("tags", {"id": "a", "revision": 1})
    assert [d["id"] for d in store.load_docs("tags")] == ["a"]


def test_update_is_compare_and_set(store: Store) -> None:
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


def test_concurrent_compare_and_set_admits_one_writer(store: Store) -> None:
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


def test_delete_doc(store: Store) -> None:
    """Deleting reports whether a document was there."""
    with store.write() as w:
        w.insert_doc("roles", {"id": "r", "revision": 1})
        assert w.delete_doc("roles", "r") is True
        assert w.delete_doc("roles", "r") is False
    assert store.load_docs("roles") == []


def test_event_state_and_kv(store: Store) -> None:
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


def test_activity_search(store: Store) -> None:
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


def test_sessions(store: Store) -> None:
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


def test_jobs_by_event_and_history_deletion(store: Store) -> None:
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


def test_schema_version(store: Store) -> None:
    """A new database is stamped with the latest migration version."""
    from cronwright.store.sql.migrations import MIGRATIONS

    assert store.schema_version() == MIGRATIONS[-1].version


def test_fires_are_recorded_once(store: Store) -> None:
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


def test_user_sessions_and_activity_dates(store: Store) -> None:
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


def test_documents_are_copies_in_insertion_order(store: Store) -> None:
    """What a caller passes or gets back is not the stored value (values round-trip through JSON:
    tuples come back as lists); an update keeps a document's place, a re-insert goes last."""
    doc = {"id": "c", "revision": 1, "pair": (1, 2), "nested": {"n": 1}}
    state, value = {"cursor": [1]}, {"v": [1]}
    with store.write() as w:
        w.insert_doc("groups", doc)
        w.insert_doc("groups", {"id": "d"})
        w.insert_doc("groups", {"id": "e"})
        w.set_event_state("ev", state)
        w.set_kv("k", value)
        w.put_job({"id": "j1", "event": "ev", "state": "active", "data": {"n": 1}})
    doc["nested"]["n"], state["cursor"][0], value["v"][0] = 2, 2, 2
    got_doc, got_job = store.get_doc("groups", "c"), store.get_job("j1")
    assert got_doc is not None and got_job is not None
    got_doc["nested"]["n"] = 3
    got_job["data"]["n"] = 3
    assert store.get_doc("groups", "c") == {"id": "c", "revision": 1, "pair": [1, 2], "nested": {"n": 1}}
    assert store.get_event_state("ev") == {"cursor": [1]} and store.get_kv("k") == {"v": [1]}
    assert store.get_job("j1") == {"id": "j1", "event": "ev", "state": "active", "data": {"n": 1}}
    with store.write() as w:
        w.update_doc("groups", {"id": "c", "revision": 2}, expected_revision=1)
        assert w.delete_doc("groups", "d") is True
        w.insert_doc("groups", {"id": "d"})
    assert [d["id"] for d in store.load_docs("groups")] == ["c", "e", "d"]


def test_a_failed_write_keeps_nothing(store: Store) -> None:
    """An exception inside a write block discards every change of the block, in every table;
    ``transact`` returns what its work returns and rolls back the same way."""
    fire = {
        "event_id": "e",
        "at": 60,
        "trigger": 0,
        "round": 0,
        "status": "launched",
        "job_id": "j1",
        "reason": None,
        "recorded": 1.0,
    }
    with pytest.raises(RuntimeError), store.write() as w:
        w.insert_doc("events", {"id": "e"})
        w.set_kv("k", 1)
        w.set_event_state("e", {"n": 1})
        w.put_job({"id": "j1", "event": "e", "state": "complete", "final": True, "completed": 5.0})
        w.add_activity({"id": "a1", "action": "x", "epoch": 1})
        w.put_session({"id": "s1", "username": "ann", "expires": 9e9})
        w.record_fire(fire)
        assert w.take_count("n", 1, 60) is True
        raise RuntimeError("boom")
    assert store.load_docs("events") == [] and store.get_kv("k") is None and store.load_event_states() == {}
    assert store.get_job("j1") is None and store.search_jobs(JobSearch(limit=None)) == ([], 0)
    assert store.search_activity(ActivityQuery(limit=10)) == ([], 0) and store.get_session("s1") is None
    assert store.fires_of("e", 0, 10) == ([], 0)
    with store.write() as w:
        assert w.take_count("n", 1, 60) is True  # the rolled-back count did not count
    assert store.transact(lambda w: w.insert_kv_once("k", 2)) is True and store.get_kv("k") == 2


def test_activity_keywords_are_text(store: Store) -> None:
    """Keywords are matched as text (numbers and booleans as Python prints them, cut to 255
    characters; None and "" are no keywords); dates filter on whole seconds of ``epoch``."""
    with store.write() as w:
        w.add_activity({"id": "k1", "action": "x", "epoch": 100.9, "keywords": [7, True, None, "", "w" * 300]})
        w.add_activity({"id": "k2", "action": "x", "epoch": 101, "keywords": []})

    def found(**criteria: Any) -> list[str]:
        return [r["id"] for r in store.search_activity(ActivityQuery(limit=10, **criteria))[0]]

    assert found(keywords=("7",)) == found(keywords=("True",)) == found(keywords=("w" * 255,)) == ["k1"]
    assert found(keywords=("", "None", "w" * 300)) == []
    assert found(since=100, until=100) == ["k1"] and found(since=101) == ["k2"]
    assert store.search_activity(ActivityQuery(keywords=("7",)))[0][0]["epoch"] == 100.9


def test_event_history_fires_and_states_page(store: Store) -> None:
    """An event's completed jobs come newest first and fires newest first, both paged with their
    total; ``event_states`` answers the events asked for that have a state."""
    with store.write() as w:
        for n, completed in ((1, 10.0), (2, 30.0), (3, 20.0)):
            w.put_job({"id": f"j{n}", "event": "e1", "state": "complete", "completed": completed})
        w.put_job({"id": "j4", "event": "e1", "state": "active"})
        w.put_job({"id": "j5", "event": "e2", "state": "complete", "completed": 40.0})
        for at in (60, 180, 120):
            w.record_fire({"event_id": "e1", "at": at, "trigger": 0, "status": "launched", "recorded": 1.0})
        w.set_event_state("e1", {"n": 1})
        w.set_event_state("e2", {"n": 2})
        assert w.delete_job("j5") is True and w.delete_job("j5") is False
    rows, total = store.event_history("e1", 0, 2)
    assert ([r["id"] for r in rows], total) == (["j2", "j3"], 3)
    assert [r["id"] for r in store.event_history("e1", 2, 2)[0]] == ["j1"]
    rows, total = store.fires_of("e1", 1, 1)
    assert ([(r["at"], r["round"], r["job_id"]) for r in rows], total) == ([(120, 0, None)], 3)
    assert store.event_states(["e1", "e3"]) == {"e1": {"n": 1}}


def test_job_search_terms_phrases_and_negatives(store: Store) -> None:
    """A phrase needs its words consecutively; negative items subtract; ``or`` needs one item;
    a group of negative items only matches nothing."""
    records = [("j1", ["a", "b"], 0), ("j2", ["b", "a"], 1), ("j3", ["a"], "warning"), ("j4", [], 0)]
    with store.write() as w:
        for job_id, tags, code in records:
            w.put_job({"id": job_id, "state": "complete", "final": True, "tags": tags, "code": code, "completed": 1e9})

    def found(*items: Term | Group, mode: Literal["and", "or"] = "and") -> list[str]:
        return [r["id"] for r in store.search_jobs(JobSearch(where=Group(mode, items), limit=None))[0]]

    assert found(Term("tags", ("a", "b"), phrase=True)) == ["j1"]
    assert found(Term("tags", ("a",)), Term("tags", ("b",), negative=True)) == ["j3"]
    assert found(Term("tags", ("b",)), Term("code", ("warning",)), mode="or") == ["j3", "j2", "j1"]
    assert found(Term("tags", ("a",), negative=True)) == []
    either = Group("or", (Term("code", ("0",)), Term("code", ("1",))))
    assert found(either, Group("and", (Term("tags", ("b",)),), negative=True)) == ["j4"]


def owned_by(store: Any, owner: str | None, lease_s: float = 60.0) -> None:
    """Write job records as conductor ``owner`` (the attributes a ``Cluster`` sets)."""
    store.owner, store.job_lease_s = owner, lease_s


def test_job_ownership_and_adoption(store: Store) -> None:
    """A conductor cannot overwrite another's job (``LostJob``) until that one's lease runs out;
    then it adopts it. Edits keep the owner; heartbeats renew the owner's leases."""
    owned_by(store, "c1")
    with store.write() as w:
        w.put_job({"id": "j1", "event": "e", "state": "active", "started": 1.0})
        w.put_job({"id": "j2", "event": "e", "state": "queued", "started": 2.0})
        w.put_job({"id": "j3", "event": "e", "state": "complete", "started": 3.0})
    assert store.job_owner("j1")[0] == "c1" and store.job_owner("j3") == ("c1", None)
    assert store.job_owner("nope") == (None, None)
    assert store.adopt_orphans("c1", 60.0, include_own=False) == []
    assert [j["id"] for j in store.adopt_orphans("c1", 60.0)] == ["j1", "j2"]  # its own, after a restart
    owned_by(store, "c2")
    with pytest.raises(LostJob), store.write() as w:
        w.put_job({"id": "j1", "event": "e", "state": "active", "progress": 0.5})
    assert store.adopt_orphans("c2", 60.0) == []
    assert [j["id"] for j in store.unfinished_jobs("c1")] == ["j1", "j2"]
    assert store.unfinished_jobs(exclude_owner="c1") == [] and store.unfinished_jobs("c2") == []
    conductor = {"id": "c1", "address": "http://c1", "version": "1", "started": 5.0, "instance": "i1"}
    store.heartbeat(conductor, -1.0)  # c1's job leases run out at once
    assert [{k: v for k, v in c.items() if k != "heartbeat"} for c in store.conductors()] == [conductor]
    assert [j["id"] for j in store.adopt_orphans("c2", 60.0)] == ["j1", "j2"]
    with store.write() as w:
        w.edit_job({"id": "j1", "event": "e", "state": "active", "started": 1.0, "tags": ["x"]})
        w.put_job({"id": "j2", "event": "e", "state": "active", "started": 2.0})
    assert store.job_owner("j1")[0] == store.job_owner("j2")[0] == "c2"
    assert (store.get_job("j1") or {}).get("tags") == ["x"]
    assert [j["id"] for j in store.unfinished_jobs(exclude_owner="c1")] == ["j1", "j2"]
    owned_by(store, None)  # no conductor: writes whoever owns the job
    with store.write() as w:
        w.put_job({"id": "j1", "event": "e", "state": "complete"})
    assert store.job_owner("j1") == (None, None)
    store.forget_conductor("c1")
    assert store.conductors() == []


def test_one_job_adopted_or_handed_over(store: Store) -> None:
    """``adopt_job`` claims one job only when it is free or already ours; ``transfer_job`` hands a
    job from its owner to another conductor (an agent's job follows the agent's socket)."""
    owned_by(store, "c1")
    with store.write() as w:
        w.put_job({"id": "j1", "event": "e", "state": "active", "started": 1.0})
        w.put_job({"id": "j2", "event": "e", "state": "complete", "started": 2.0})
    assert store.adopt_job("j1", "c2", 60.0) is None  # c1's lease holds
    assert store.adopt_job("j2", "c2", 60.0) is None and store.adopt_job("nope", "c2", 60.0) is None
    assert not store.transfer_job("j1", "c3", "c2", 60.0)  # c3 does not hold it
    assert not store.transfer_job("j2", "c1", "c2", 60.0)  # finished
    assert store.transfer_job("j1", "c1", "c2", 60.0)
    assert store.job_owner("j1")[0] == "c2"
    assert (store.adopt_job("j1", "c2", 60.0) or {}).get("id") == "j1"  # its own now
    assert store.adopt_job("j1", "c1", 60.0) is None
    owned_by(store, "c1")
    with pytest.raises(LostJob), store.write() as w:
        w.put_job({"id": "j1", "event": "e", "state": "active", "progress": 0.5})


def test_leader_lease(store: Store) -> None:
    """One conductor leads at a time; it renews its epoch, fences writes with ``check_leader``,
    and a release or an expiry lets another take over with the next epoch."""
    first = store.acquire_leader("c1", None, 60.0)
    assert first is not None and (first.epoch, first.acquired, first.previous_holder) == (1, True, None)
    assert store.acquire_leader("c2", None, 60.0) is None
    renewed = store.acquire_leader("c1", 1, 60.0)
    assert renewed == Lease(1, renewed.expires, acquired=False) if renewed else False
    with store.write() as w:
        w.check_leader("c1", 1)
    for me, epoch in (("c2", 1), ("c1", 2)):
        with pytest.raises(NotLeader), store.write() as w:
            w.check_leader(me, epoch)
    store.release_leader("c1", 1)
    with pytest.raises(NotLeader), store.write() as w:
        w.check_leader("c1", 1)
    taken = store.acquire_leader("c2", None, -1.0)  # expired at once
    assert taken is not None and (taken.epoch, taken.previous_holder, taken.previous_expires) == (2, "c1", 0.0)
    again = store.acquire_leader("c1", None, 60.0)
    assert again is not None and (again.epoch, again.previous_holder) == (3, "c2")
    assert {k: v for k, v in (store.leader() or {}).items() if k in ("holder", "epoch")} == {"holder": "c1", "epoch": 3}


def test_trimming_is_fenced(store: Store) -> None:
    """A trim whose ``fence`` refuses (a conductor that no longer leads) deletes nothing."""
    with store.write() as w:
        w.put_job({"id": "j1", "event": "e", "state": "complete", "final": True, "completed": 1.0})
        w.add_activity({"id": "a1", "action": "x", "epoch": 1})

    def fence(w: StoreWriter) -> None:
        w.check_leader("c1", 1)

    with pytest.raises(NotLeader):
        store.trim_jobs(keep=0, completed_before=None, batch=10, fence=fence)
    with pytest.raises(NotLeader):
        store.trim_activity(keep=0, epoch_before=None, batch=10, fence=fence)
    assert store.acquire_leader("c1", None, 60.0) is not None
    assert [j["id"] for j in store.trim_jobs(keep=0, completed_before=None, batch=10, fence=fence)] == ["j1"]
    assert store.trim_activity(keep=0, epoch_before=None, batch=10, fence=fence) == 1


def test_transaction_reads_and_counters(store: Store) -> None:
    """Inside a transaction ``jobs_of`` and ``event_state_for_update`` see its own writes;
    ``take_count`` counts up to its limit across transactions."""
    with store.write() as w:
        w.put_job({"id": "j1", "event": "e", "state": "active"})
        w.put_job({"id": "j2", "event": "e", "state": "queued"})
        w.put_job({"id": "j3", "event": "other", "state": "active"})
        w.put_job({"id": "j4", "event": "e", "state": "complete"})
        w.lock_event("e")
        assert sorted(j["id"] for j in w.jobs_of("e", ("active", "queued"))) == ["j1", "j2"]
        w.set_event_state("e", {"n": 1})
        assert w.event_state_for_update("e") == {"n": 1} and w.event_state_for_update("x") == {}
        assert [w.take_count("m1", 2, 60.0) for _ in range(3)] == [True, True, False]
    with store.write() as w:
        assert (w.take_count("m1", 2, 60.0), w.take_count("m2", 2, 60.0)) == (False, True)


# ---- MemoryStore only: not the contract (the SQL stores have no such choices to test)


def test_memory_store_opens_by_url() -> None:
    """``memory://`` opens a new empty store; any other URL is refused."""
    store = MemoryStore.open("memory://")
    assert store.dialect == "memory" and store.load_docs("events") == []
    with pytest.raises(StoreError):
        MemoryStore.open("sqlite:///x.db")


def test_memory_store_refuses_a_nested_write() -> None:
    """A write inside a write on one thread is refused (SQLite would wait for itself), and a
    transaction that raised ``DuplicateId`` commits nothing even when the caller caught it (as
    on PostgreSQL; SQLite would keep the rest)."""
    store = MemoryStore()
    with pytest.raises(StoreError), store.write(), store.write():
        pass
    with store.write() as w:
        w.insert_doc("tags", {"id": "a"})
    with store.write() as w:
        w.insert_doc("tags", {"id": "b"})
        with pytest.raises(DuplicateId):
            w.insert_doc("tags", {"id": "a"})
        with pytest.raises(StoreError):
            w.insert_doc("tags", {"id": "c"})
    assert [d["id"] for d in store.load_docs("tags")] == ["a"]


def test_memory_store_clock_drives_leases() -> None:
    """Leases are measured on the store's clock, so a test can let them run out without sleeping."""
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    assert store.acquire_leader("c1", None, 10.0) == Lease(1, 1010.0, acquired=True)
    assert store.acquire_leader("c2", None, 10.0) is None
    now[0] = 1010.0
    assert store.acquire_leader("c2", None, 10.0) == Lease(2, 1020.0, True, "c1", 1010.0)
