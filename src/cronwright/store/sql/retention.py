"""Trimming the job history and the activity log, oldest first, one small batch per call.

Each call is one short transaction that deletes at most ``batch`` records (with their index rows
or keywords), so a concurrent writer waits at most one batch for the database's write lock.
The caller (``engine.maintenance``) loops, pausing between batches.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, select

from cronwright import jsonutil
from cronwright.store.sql import tables
from cronwright.store.sql.jobindex import unindex_jobs


def trim_jobs_batch(conn: Connection, *, keep: int, completed_before: float | None, batch: int) -> list[dict[str, Any]]:
    """Delete up to ``batch`` of the oldest completed job records beyond the newest ``keep`` or
    completed before ``completed_before``; returns the deleted records (their logs and files
    are the caller's to remove)."""
    s, jobs = tables.job_search, tables.jobs
    oldest = conn.execute(select(s.c.id, s.c.completed).order_by(s.c.completed.asc(), s.c.id.asc()).limit(batch)).all()
    if not oldest:
        return []
    excess = max(0, int(conn.execute(select(func.count()).select_from(s)).scalar_one()) - keep)
    ids = [
        row.id
        for index, row in enumerate(oldest)
        if index < excess or (completed_before is not None and (row.completed or 0) < completed_before)
    ]
    if not ids:
        return []
    docs = conn.execute(select(jobs.c.doc).where(jobs.c.id.in_(ids))).scalars().all()
    unindex_jobs(conn, ids)
    conn.execute(delete(jobs).where(jobs.c.id.in_(ids)))
    return [jsonutil.loads(doc) for doc in docs]


def trim_activity_batch(conn: Connection, *, keep: int, epoch_before: float | None, batch: int) -> int:
    """Delete up to ``batch`` of the oldest activity records (and their keywords) beyond the newest
    ``keep`` or older than ``epoch_before``; returns how many."""
    a, k = tables.activity, tables.activity_keywords
    oldest = conn.execute(select(a.c.seq, a.c.epoch).order_by(a.c.seq.asc()).limit(batch)).all()
    if not oldest:
        return 0
    excess = max(0, int(conn.execute(select(func.count()).select_from(a)).scalar_one()) - keep)
    seqs = [
        row.seq
        for index, row in enumerate(oldest)
        if index < excess or (epoch_before is not None and row.epoch < epoch_before)
    ]
    if seqs:
        conn.execute(delete(k).where(k.c.activity_seq.in_(seqs)))
        conn.execute(delete(a).where(a.c.seq.in_(seqs)))
    return len(seqs)
