"""The job history index and retention in the store, on every store (the ``store`` fixture of
``conftest.py``), and the schema-3 backfill (SQLite only: it is a SQL migration)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text

from cronwright.store.base import ActivityQuery, Store
from cronwright.store.jobquery import Group, Hours, JobSearch, Term
from cronwright.store.sql.store import SqlStore


def job(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"j{n:04d}",
        "event": "ev",
        "category": "general",
        "state": "complete",
        "final": True,
        "code": 0,
        "tags": ["_success"],
        "groups": ["main"],
        "completed": 1_700_000_000 + n * 60,
        "elapsed": float(n),
        **fields,
    }


def ids(store: Store, where: Group | None = None, **options: Any) -> tuple[list[str], int]:
    rows, total = store.search_jobs(JobSearch(where=where, limit=None, **options))
    return [r["id"] for r in rows], total


def tag(word: str) -> Group:
    return Group("and", (Term("tags", (word,)),))


def test_only_final_records_are_indexed_and_changes_reindex(store: Store) -> None:
    """Active and ephemeral records are not found; re-storing re-indexes; deleting unindexes."""
    with store.write() as w:
        w.put_job(job(1, state="active", final=False))
        w.put_job(job(2))
        w.put_job(job(3, ephemeral=True))
    assert ids(store) == (["j0002"], 1)
    with store.write() as w:
        w.put_job(job(1))
        w.put_job(job(2, tags=["flag"]))
    assert ids(store, tag("flag")) == (["j0002"], 1)
    assert ids(store, tag("_success")) == (["j0001"], 1)
    with store.write() as w:
        w.delete_job("j0002")
    assert ids(store) == (["j0001"], 1)
    assert [sorted(batch) for batch in store.delete_event_jobs("ev")] == [["j0001", "j0003"]]
    assert ids(store) == ([], 0)


def test_sorting_paging_and_scope(store: Store) -> None:
    """Sorters, negative offsets, limits and category/group scope are applied by the store."""
    with store.write() as w:
        for n in range(1, 6):
            w.put_job(job(n, elapsed=float(10 - n), category="a" if n % 2 else "b", groups=["g1"] if n < 3 else []))
    assert ids(store, sort_by="elapsed", descending=False) == (["j0005", "j0004", "j0003", "j0002", "j0001"], 5)
    rows, total = store.search_jobs(JobSearch(offset=-2, limit=3, descending=True))
    assert ([r["id"] for r in rows], total) == (["j0002", "j0001"], 5)
    assert ids(store, categories=("a",)) == (["j0005", "j0003", "j0001"], 3)
    assert ids(store, groups=("g1",)) == (["j0002", "j0001"], 2)
    assert ids(store, categories=("a",), groups=("g1",)) == (["j0001"], 1)
    assert ids(store, Group("and", (Hours(None, (1_700_000_000 + 120) // 3600),))) == (
        ["j0005", "j0004", "j0003", "j0002", "j0001"],
        5,
    )


def test_trim_keeps_the_newest(store: Store) -> None:
    """`trim_jobs` deletes the oldest completed records beyond the maximum (and by age), in
    batches; unfinished jobs are never trimmed. `trim_activity` does the same for activity."""
    with store.write() as w:
        for n in range(1, 8):
            w.put_job(job(n))
        w.put_job(job(99, state="active", final=False, completed=None))
    first = store.trim_jobs(keep=3, completed_before=None, batch=2)
    assert [j["id"] for j in first] == ["j0001", "j0002"]
    assert [j["id"] for j in store.trim_jobs(keep=3, completed_before=None, batch=10)] == ["j0003", "j0004"]
    assert store.trim_jobs(keep=3, completed_before=None, batch=10) == []
    aged = store.trim_jobs(keep=100, completed_before=1_700_000_000 + 6 * 60 + 1, batch=10)
    assert [j["id"] for j in aged] == ["j0005", "j0006"]
    assert ids(store) == (["j0007"], 1) and store.get_job("j0099") is not None
    with store.write() as w:
        for n in range(6):
            w.add_activity({"id": f"a{n}", "action": "x", "epoch": 1_700_000_000 + n, "keywords": ["k", f"k{n}"]})
    assert store.trim_activity(keep=2, epoch_before=None, batch=3) == 3
    assert store.trim_activity(keep=2, epoch_before=None, batch=3) == 1
    rows, total = store.search_activity(ActivityQuery(keywords=("k",), limit=10))
    assert ([r["id"] for r in rows], total) == (["a5", "a4"], 2)


def test_upgrade_indexes_stored_records(tmp_path: Path) -> None:
    """A schema-2 database's final job records become searchable when it is upgraded."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = SqlStore.open(url)
    with store.write() as w:
        w.put_job(job(1, tags=["old"]))
        w.put_job(job(2, state="active", final=False))
    with store.engine.begin() as conn:  # back to schema 2: no index tables, no stamp 3
        conn.execute(text("DROP TABLE job_words"))
        conn.execute(text("DROP TABLE job_search"))
        conn.execute(text("DROP INDEX ix_activity_keywords_seq"))
        for table in ("conductors", "leases", "counters"):  # and no schema 4
            conn.execute(text(f"DROP TABLE {table}"))
        conn.execute(text("DROP INDEX ix_jobs_owner"))
        conn.execute(text("ALTER TABLE jobs DROP COLUMN owner"))
        conn.execute(text("ALTER TABLE jobs DROP COLUMN lease"))
        conn.execute(text("UPDATE schema_migrations SET version = 2"))
    store.close()
    store = SqlStore.open(url)
    try:
        assert store.schema_version() == 4
        assert ids(store, tag("old")) == (["j0001"], 1)
        assert ids(store) == (["j0001"], 1)
    finally:
        store.close()
