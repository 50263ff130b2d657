"""The current database schema (SQLAlchemy Core). Migrations bring older databases up to it.

Definitions are JSON documents in one table per kind (``doc`` holds the whole document; ``seq``
keeps insertion order; ``revision`` supports compare-and-set updates). Jobs, activity, sessions
and state have the columns they are queried by, plus the full document.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from cronwright.store.base import DEFINITION_KINDS

metadata = MetaData()

#: an auto-incrementing 64-bit key that SQLite maps onto its rowid
SeqKey = BigInteger().with_variant(Integer(), "sqlite")


def _definition_table(kind: str) -> Table:
    return Table(
        kind,
        metadata,
        Column("id", String(128), primary_key=True),
        Column("seq", BigInteger, nullable=False, index=True),
        Column("revision", Integer, nullable=False, default=0),
        Column("doc", Text, nullable=False),
    )


definitions = {kind: _definition_table(kind) for kind in DEFINITION_KINDS}

event_state = Table(
    "event_state",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("state", Text, nullable=False),
)

kv = Table(
    "kv",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
)

activity = Table(
    "activity",
    metadata,
    Column("seq", SeqKey, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("action", String(64), nullable=False, index=True),
    Column("epoch", BigInteger, nullable=False),
    Column("username", String(255), nullable=True),
    Column("doc", Text, nullable=False),
)

activity_keywords = Table(
    "activity_keywords",
    metadata,
    Column("keyword", String(255), primary_key=True),
    Column("activity_seq", BigInteger, primary_key=True),
    Index("ix_activity_keywords_seq", "activity_seq"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("username", String(255), nullable=False),
    Column("expires", Float, nullable=False, index=True),
    Column("doc", Text, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("event", String(128), nullable=False),
    Column("state", String(32), nullable=False),
    Column("source", String(32), nullable=True),
    Column("category", String(128), nullable=True),
    Column("started", Float, nullable=True),
    Column("completed", Float, nullable=True),
    Column("doc", Text, nullable=False),
    #: the conductor that runs (or ran) the job and, while unfinished, until when its claim holds
    Column("owner", String(128), nullable=True),
    Column("lease", Float, nullable=True),
    Index("ix_jobs_event_state", "event", "state"),
    Index("ix_jobs_owner", "owner"),
    Index("ix_jobs_event_completed", "event", "completed"),
    Index("ix_jobs_completed", "completed"),
)

#: the job history index (search_jobs, search-jobs.md): one narrow row per searchable job record
#: (final, completed, not ephemeral) with its sorters, hour number and category, written with the
#: record by ``put_job``; ids (``j`` + 15 of ``[a-z0-9]``) sort in launch order under any collation
JobId = String(64)
job_search = Table(
    "job_search",
    metadata,
    Column("id", JobId, primary_key=True),
    Column("completed", Float, nullable=True),
    Column("elapsed", Float, nullable=True),
    Column("hour", Integer, nullable=True),
    Column("category", String(128), nullable=True),
    Index("ix_job_search_completed", "completed"),
    Index("ix_job_search_elapsed", "elapsed"),
    Index("ix_job_search_hour", "hour"),
    sqlite_with_rowid=False,
)

#: the words of each searchable job's fields with their positions (phrases): ``field:word`` terms
#: are index range scans of the primary key
job_words = Table(
    "job_words",
    metadata,
    Column("field", String(16), primary_key=True),
    Column("word", String(255), primary_key=True),
    Column("job_id", JobId, primary_key=True),
    Column("pos", Integer, primary_key=True, autoincrement=False),
    Index("ix_job_words_job", "job_id"),
    sqlite_with_rowid=False,
)

#: one row per scheduled fire (event, instant, trigger, replay round): written with the fire's job,
#: so the same fire is never launched twice, and missed fires are kept as ``skipped`` with the
#: reason. ``round`` grows when an operator moves the catch-up cursor, so a deliberate replay runs again.
fires = Table(
    "fires",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("at", BigInteger, primary_key=True),
    Column("trigger", Integer, primary_key=True),
    Column("round", Integer, primary_key=True, default=0),
    Column("status", String(16), nullable=False),
    Column("job_id", String(64), nullable=True),
    Column("reason", Text, nullable=True),
    Column("recorded", Float, nullable=False),
)

#: the conductors sharing this database: one row each, its heartbeat renewed every few seconds
conductors = Table(
    "conductors",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("address", String(255), nullable=False),
    Column("version", String(64), nullable=False),
    Column("started", Float, nullable=False),
    Column("heartbeat", Float, nullable=False),
    Column("instance", String(64), nullable=False),
)

#: the leader lease (one row, ``name`` "leader"): who holds it, until when, and its epoch, which
#: grows by one with every change of holder (leader-only writes check it: fencing)
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("expires", Float, nullable=False),
    Column("acquired", Float, nullable=False),
)

#: cluster-wide counters with a lifetime (e.g. the jobs launched in one minute: ``max_jobs_per_min``)
counters = Table(
    "counters",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("value", BigInteger, nullable=False),
    Column("expires", Float, nullable=False, index=True),
)

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("description", String(255), nullable=False),
    Column("applied", Float, nullable=False),
)
