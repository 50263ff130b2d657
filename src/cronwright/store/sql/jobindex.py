"""Keeping the job history index (``job_search`` + ``job_words``) in step with the job records.

``put_job`` calls ``index_job`` in the same transaction as the record, so a stored final record is
searchable the moment it commits, and a changed record (``update_job``, ``manage_job_tags``, a late
completion) is re-indexed with it. Deleting a record calls ``unindex_jobs``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from cronwright import jsonutil
from cronwright.store.jobquery import hour_of, index_words, is_searchable
from cronwright.store.sql import tables

#: rows per statement when deleting index rows of many jobs (bound parameters stay few)
_ID_CHUNK = 500


def index_rows(job: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``job_search`` row and the ``job_words`` rows of a searchable job record."""
    completed = job.get("completed")
    completed = float(completed) if isinstance(completed, (int, float)) and not isinstance(completed, bool) else None
    elapsed = job.get("elapsed")
    elapsed = float(elapsed) if isinstance(elapsed, (int, float)) and not isinstance(elapsed, bool) else None
    category = job.get("category")
    row = {
        "id": job["id"],
        "completed": completed,
        "elapsed": elapsed,
        "hour": hour_of(completed) if completed is not None else None,
        "category": category[:128] if isinstance(category, str) else None,
    }
    words = [{"field": f, "word": w, "job_id": job["id"], "pos": p} for f, w, p in index_words(job)]
    return row, words


def index_job(conn: Connection, job: dict[str, Any], *, fresh: bool = False) -> None:
    """(Re-)index one job record: searchable records get their rows, others lose theirs.
    ``fresh``: the job was never indexed (skips the deletes)."""
    if not fresh:
        unindex_jobs(conn, [job["id"]])
    if is_searchable(job):
        row, words = index_rows(job)
        conn.execute(insert(tables.job_search), row)
        if words:
            conn.execute(insert(tables.job_words), words)


def unindex_jobs(conn: Connection, job_ids: Iterable[str]) -> None:
    ids = list(job_ids)
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        conn.execute(delete(tables.job_words).where(tables.job_words.c.job_id.in_(chunk)))
        conn.execute(delete(tables.job_search).where(tables.job_search.c.id.in_(chunk)))


def backfill_job_index(conn: Connection, batch: int = 1000) -> int:
    """Index every stored final record (the migration to schema 3); returns how many."""
    t = tables.jobs
    last, count = "", 0
    while True:
        rows = conn.execute(
            select(t.c.id, t.c.doc).where(t.c.state == "complete", t.c.id > last).order_by(t.c.id).limit(batch)
        ).all()
        if not rows:
            return count
        search_rows, word_rows = [], []
        for row in rows:
            job = jsonutil.loads(row.doc)
            if isinstance(job, dict) and is_searchable({**job, "id": row.id}):
                one, words = index_rows({**job, "id": row.id})
                search_rows.append(one)
                word_rows.extend(words)
        if search_rows:
            conn.execute(insert(tables.job_search), search_rows)
            count += len(search_rows)
        if word_rows:
            conn.execute(insert(tables.job_words), word_rows)
        last = rows[-1].id
