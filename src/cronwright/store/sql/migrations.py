"""Versioned schema migrations.

A fresh database is created straight from the current schema (``tables.metadata``) and stamped
with the latest version. A database stamped with an older version is brought forward by running
each later migration's ``upgrade`` in order, each in its own transaction together with its
version stamp, so an interrupted upgrade resumes where it stopped. A database newer than this
code is refused (``SchemaTooNew``) rather than touched.

To change the schema: edit ``tables.py`` and append a ``Migration`` whose ``upgrade`` performs the
same change on an existing database (use ``sqlalchemy`` DDL; for SQLite prefer add-column and
copy-table steps). ``tests/store/test_migrations.py`` opens a database written by every earlier
release kept under ``tests/store/fixtures/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    inspect,
    select,
    text,
)

from cronwright.store.base import SchemaTooNew, StoreError
from cronwright.store.sql import tables
from cronwright.store.sql.jobindex import backfill_job_index


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    upgrade: Callable[[Connection], None]


def _baseline(conn: Connection) -> None:
    """Version 1 is the first released schema; there is nothing older to upgrade from."""


def _v2_fires(conn: Connection) -> None:
    """Version 2 (release 0.2): the ``fires`` ledger of scheduled launches."""
    frozen = MetaData()
    Table(
        "fires",
        frozen,
        Column("event_id", String(128), primary_key=True),
        Column("at", BigInteger, primary_key=True),
        Column("trigger", Integer, primary_key=True),
        Column("round", Integer, primary_key=True, default=0),
        Column("status", String(16), nullable=False),
        Column("job_id", String(64), nullable=True),
        Column("reason", Text, nullable=True),
        Column("recorded", Float, nullable=False),
    ).create(conn)


def _v3_job_search(conn: Connection) -> None:
    """Version 3 (release 0.3): the job history index (``job_search``, ``job_words``), filled from
    the stored final records, and an index to trim activity keywords by record."""
    tables.job_search.create(conn)
    tables.job_words.create(conn)
    # plain DDL: an ``Index`` built on the live table would attach itself to ``tables.metadata``
    conn.execute(text("CREATE INDEX ix_activity_keywords_seq ON activity_keywords (activity_seq)"))
    backfill_job_index(conn)


def _v4_cluster(conn: Connection) -> None:
    """Version 4 (release 0.4): several conductors on one database — job owners and leases, the
    conductor list, the leader lease and cluster-wide counters."""
    conn.execute(text("ALTER TABLE jobs ADD COLUMN owner VARCHAR(128)"))
    conn.execute(text("ALTER TABLE jobs ADD COLUMN lease FLOAT"))
    conn.execute(text("CREATE INDEX ix_jobs_owner ON jobs (owner)"))
    for table in (tables.conductors, tables.leases, tables.counters):
        table.create(conn)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _baseline),
    Migration(2, "scheduled fires ledger", _v2_fires),
    Migration(3, "job history index", _v3_job_search),
    Migration(4, "conductors, leases and job owners", _v4_cluster),
)

_PG_LOCK_KEY = 0x43524F4E  # "CRON": serializes concurrent migrators on PostgreSQL


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table(tables.schema_migrations.name):
        return 0
    return conn.execute(select(func.max(tables.schema_migrations.c.version))).scalar() or 0


def migrate(
    engine: Engine,
    migrations: Sequence[Migration] = MIGRATIONS,
    metadata: MetaData = tables.metadata,
) -> int:
    """Bring the database to the latest version; returns that version."""
    latest = migrations[-1].version
    with _exclusive(engine) as conn:
        version = current_version(conn)
        if version > latest:
            raise SchemaTooNew(
                f"Database schema version {version} is newer than this Cronwright supports "
                f"({latest}); upgrade Cronwright or use another data directory."
            )
        if version == 0:
            existing = set(inspect(conn).get_table_names()) & set(metadata.tables)
            if existing:
                raise StoreError("Database has Cronwright tables but no schema version: " + ", ".join(sorted(existing)))
            metadata.create_all(conn)
            _stamp(conn, migrations[-1])
            return latest
    for migration in migrations:
        if migration.version <= version:
            continue
        with _exclusive(engine) as conn:
            if current_version(conn) >= migration.version:  # another process got there first
                continue
            migration.upgrade(conn)
            _stamp(conn, migration)
    return latest


def _stamp(conn: Connection, migration: Migration) -> None:
    conn.execute(
        insert(tables.schema_migrations).values(
            version=migration.version, description=migration.description, applied=time.time()
        )
    )


class _exclusive:
    """A write transaction that holds the database's migration lock until it ends."""

    def __init__(self, engine: Engine) -> None:
        self._conn = engine.connect().execution_options(sqlite_begin="IMMEDIATE")

    def __enter__(self) -> Connection:
        self._tx = self._conn.begin()
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        return self._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self._tx.commit()
            else:
                self._tx.rollback()
        finally:
            self._conn.close()
