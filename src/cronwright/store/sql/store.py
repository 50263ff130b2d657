"""The SQL implementation of the storage contract (SQLite and PostgreSQL via SQLAlchemy Core).

Calls are synchronous and short (one indexed statement or one small transaction); the conductor
makes them from its event loop and moves only bulk work (deleting a job history) to a thread.
SQLite runs in WAL mode with ``synchronous=NORMAL`` and takes the write lock at ``BEGIN`` so
concurrent writers queue instead of dead-locking.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from cronwright import jsonutil
from cronwright.store.base import (
    ActivityQuery,
    DuplicateId,
    StaleWrite,
    StoreError,
)
from cronwright.store.sql import tables
from cronwright.store.sql.migrations import current_version, migrate

_dumps = jsonutil.dumps_str
_loads = jsonutil.loads


def normalize_url(url: str) -> str:
    """Map ``postgresql://`` and ``postgres://`` onto the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_sql_engine(url: str) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "busy_timeout=30000",
        "foreign_keys=ON",
    ):
        cursor.execute("PRAGMA " + pragma)
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


class Statements:
    """Every write statement, built once per store: executing a prebuilt statement with a parameter
    dict skips SQLAlchemy's per-call construction and cache-key work (half the cost of a small
    write). Upserts use the dialect's ``INSERT … ON CONFLICT DO UPDATE`` (SQLite and PostgreSQL)."""

    def __init__(self, dialect: str) -> None:
        dialect_insert = pg_insert if dialect == "postgresql" else sqlite_insert
        self.insert_doc = {kind: insert(t) for kind, t in tables.definitions.items()}
        self.update_doc = {
            kind: update(t)
            .where(t.c.id == bindparam("b_id"))
            .values(revision=bindparam("b_revision"), doc=bindparam("b_doc"))
            for kind, t in tables.definitions.items()
        }
        self.update_doc_cas = {
            kind: update(t)
            .where(t.c.id == bindparam("b_id"), t.c.revision == bindparam("b_expected"))
            .values(revision=bindparam("b_revision"), doc=bindparam("b_doc"))
            for kind, t in tables.definitions.items()
        }
        self.delete_doc = {kind: delete(t).where(t.c.id == bindparam("b_id")) for kind, t in tables.definitions.items()}
        self.insert_activity = insert(tables.activity)
        self.insert_keywords = insert(tables.activity_keywords)
        self.insert_kv = insert(tables.kv)
        self.upsert = {
            table.name: _upsert_statement(dialect_insert, table, key)
            for table, key in (
                (tables.event_state, "event_id"),
                (tables.kv, "key"),
                (tables.sessions, "id"),
                (tables.jobs, "id"),
            )
        }
        self.delete_event_state = delete(tables.event_state).where(tables.event_state.c.event_id == bindparam("b_id"))
        self.delete_session = delete(tables.sessions).where(tables.sessions.c.id == bindparam("b_id"))
        self.delete_job = delete(tables.jobs).where(tables.jobs.c.id == bindparam("b_id"))
        self.insert_fire = insert(tables.fires)


def _upsert_statement(dialect_insert: Any, table: Table, key: str) -> Any:
    stmt = dialect_insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c[key]], set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name != key}
    )


class SqlWriter:
    """The write operations of one transaction."""

    def __init__(self, conn: Connection, statements: Statements, seq: Callable[[], int]) -> None:
        self.conn = conn
        self._st = statements
        self._seq = seq

    def insert_doc(self, kind: str, doc: dict[str, Any]) -> None:
        row = {"id": doc["id"], "seq": self._seq(), "revision": doc.get("revision") or 0, "doc": _dumps(doc)}
        try:
            self.conn.execute(self._st.insert_doc[kind], row)
        except IntegrityError as exc:  # the whole transaction is abandoned with it
            raise DuplicateId(f"{kind}/{doc['id']} already exists") from exc

    def update_doc(self, kind: str, doc: dict[str, Any], *, expected_revision: int | None) -> None:
        row = {"b_id": doc["id"], "b_revision": doc.get("revision") or 0, "b_doc": _dumps(doc)}
        if expected_revision is None:
            result = self.conn.execute(self._st.update_doc[kind], row)
        else:
            result = self.conn.execute(self._st.update_doc_cas[kind], {**row, "b_expected": expected_revision})
        if result.rowcount != 1:
            raise StaleWrite(f"{kind}/{doc['id']} changed or vanished")

    def delete_doc(self, kind: str, doc_id: str) -> bool:
        return self.conn.execute(self._st.delete_doc[kind], {"b_id": doc_id}).rowcount > 0

    def set_event_state(self, event_id: str, state: dict[str, Any]) -> None:
        self.conn.execute(self._st.upsert["event_state"], {"event_id": event_id, "state": _dumps(state)})

    def delete_event_state(self, event_id: str) -> None:
        self.conn.execute(self._st.delete_event_state, {"b_id": event_id})

    def set_kv(self, key: str, value: Any) -> None:
        self.conn.execute(self._st.upsert["kv"], {"key": key, "value": _dumps(value)})

    def insert_kv_once(self, key: str, value: Any) -> bool:
        try:
            with self.conn.begin_nested():
                self.conn.execute(self._st.insert_kv, {"key": key, "value": _dumps(value)})
        except IntegrityError:
            return False
        return True

    def add_activity(self, record: dict[str, Any]) -> None:
        row = {
            "id": record["id"],
            "action": record["action"],
            "epoch": int(record["epoch"]),
            "username": record.get("username"),
            "doc": _dumps(record),
        }
        result = self.conn.execute(self._st.insert_activity, row)
        assert result.inserted_primary_key is not None
        seq = result.inserted_primary_key[0]
        keywords = {str(k)[:255] for k in record.get("keywords") or () if k not in (None, "")}
        if keywords:
            self.conn.execute(self._st.insert_keywords, [{"keyword": k, "activity_seq": seq} for k in keywords])

    def put_session(self, session: dict[str, Any]) -> None:
        row = {
            "id": session["id"],
            "username": session["username"],
            "expires": float(session["expires"]),
            "doc": _dumps(session),
        }
        self.conn.execute(self._st.upsert["sessions"], row)

    def delete_session(self, session_id: str) -> None:
        self.conn.execute(self._st.delete_session, {"b_id": session_id})

    def delete_user_sessions(self, username: str) -> int:
        t = tables.sessions
        return self.conn.execute(delete(t).where(t.c.username == username)).rowcount

    def record_fire(self, fire: dict[str, Any]) -> None:
        """Insert a fire row (event_id, at, trigger, status, job_id, reason, recorded); a fire that is
        already recorded raises ``DuplicateId`` (and the whole transaction is abandoned)."""
        try:
            self.conn.execute(self._st.insert_fire, fire)
        except IntegrityError as exc:
            raise DuplicateId(f"fire {fire['event_id']}@{fire['at']}#{fire['trigger']} already recorded") from exc

    def delete_job(self, job_id: str) -> bool:
        return self.conn.execute(self._st.delete_job, {"b_id": job_id}).rowcount > 0

    def put_job(self, job: dict[str, Any]) -> None:
        row = {
            "id": job["id"],
            "event": job.get("event") or "",
            "state": job.get("state") or "ready",
            "source": job.get("source"),
            "category": job.get("category"),
            "started": job.get("started"),
            "completed": job.get("completed"),
            "doc": _dumps(job),
        }
        self.conn.execute(self._st.upsert["jobs"], row)


class _SeqClock:
    """Insertion-order keys: microseconds since the epoch, strictly increasing in this process."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self._last = max(time.time_ns() // 1000, self._last + 1)
            return self._last


class SqlStore:
    """``Store`` over a SQLAlchemy engine; ``open()`` migrates the schema first."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._statements = Statements(engine.dialect.name)
        self._seq = _SeqClock()

    @classmethod
    def open(cls, url: str) -> SqlStore:
        engine = create_sql_engine(url)
        try:
            migrate(engine)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StoreError(f"Cannot open database {make_url(normalize_url(url))!r}: {exc}") from exc
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[SqlWriter]:
        with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
            yield SqlWriter(conn, self._statements, self._seq)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def load_docs(self, kind: str) -> list[dict[str, Any]]:
        table = tables.definitions[kind]
        with self._read() as conn:
            rows = conn.execute(select(table.c.doc).order_by(table.c.seq)).scalars()
            return [_loads(doc) for doc in rows]

    def get_doc(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        table = tables.definitions[kind]
        with self._read() as conn:
            doc = conn.execute(select(table.c.doc).where(table.c.id == doc_id)).scalar()
        return _loads(doc) if doc is not None else None

    def get_event_state(self, event_id: str) -> dict[str, Any]:
        t = tables.event_state
        with self._read() as conn:
            state = conn.execute(select(t.c.state).where(t.c.event_id == event_id)).scalar()
        return _loads(state) if state is not None else {}

    def load_event_states(self) -> dict[str, dict[str, Any]]:
        t = tables.event_state
        with self._read() as conn:
            return {row.event_id: _loads(row.state) for row in conn.execute(select(t.c.event_id, t.c.state))}

    def event_states(self, event_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The states of the given events (absent ones are left out)."""
        t = tables.event_state
        out: dict[str, dict[str, Any]] = {}
        with self._read() as conn:
            for start in range(0, len(event_ids), 500):
                chunk = event_ids[start : start + 500]
                for row in conn.execute(select(t.c.event_id, t.c.state).where(t.c.event_id.in_(chunk))):
                    out[row.event_id] = _loads(row.state)
        return out

    def get_kv(self, key: str) -> Any | None:
        with self._read() as conn:
            value = conn.execute(select(tables.kv.c.value).where(tables.kv.c.key == key)).scalar()
        return _loads(value) if value is not None else None

    def search_activity(self, query: ActivityQuery) -> tuple[list[dict[str, Any]], int]:
        a, k = tables.activity, tables.activity_keywords
        where: list[Any] = []
        if query.actions:
            where.append(a.c.action.in_(query.actions))
        if query.keywords:
            where.append(a.c.seq.in_(select(k.c.activity_seq).where(k.c.keyword.in_(query.keywords))))
        if query.since is not None:
            where.append(a.c.epoch >= query.since)
        if query.until is not None:
            where.append(a.c.epoch <= query.until)
        order = a.c.seq.desc() if query.newest_first else a.c.seq.asc()
        with self._read() as conn:
            total = conn.execute(select(func.count()).select_from(a).where(*where)).scalar_one()
            rows = conn.execute(
                select(a.c.doc).where(*where).order_by(order).offset(query.offset).limit(query.limit)
            ).scalars()
            return [_loads(doc) for doc in rows], total

    def get_session(self, session_id: str) -> dict[str, Any] | None:
        t = tables.sessions
        with self._read() as conn:
            doc = conn.execute(select(t.c.doc).where(t.c.id == session_id)).scalar()
        return _loads(doc) if doc is not None else None

    def purge_sessions(self, before_epoch: float) -> int:
        t = tables.sessions
        with self.write() as w:
            return w.conn.execute(delete(t).where(t.c.expires < before_epoch)).rowcount

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        t = tables.jobs
        with self._read() as conn:
            doc = conn.execute(select(t.c.doc).where(t.c.id == job_id)).scalar()
        return _loads(doc) if doc is not None else None

    def fires_of(self, event_id: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Recorded fires of an event, newest first, and their total."""
        t = tables.fires
        with self._read() as conn:
            total = conn.execute(select(func.count()).select_from(t).where(t.c.event_id == event_id)).scalar_one()
            rows = conn.execute(
                select(t)
                .where(t.c.event_id == event_id)
                .order_by(t.c.at.desc(), t.c.trigger)
                .offset(offset)
                .limit(limit)
            ).mappings()
            return [{str(k): v for k, v in r.items()} for r in rows], total  # keys may be str subclasses

    def event_history(self, event_id: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Completed jobs of an event, newest first, and their total."""
        t = tables.jobs
        where = (t.c.event == event_id, t.c.state == "complete")
        with self._read() as conn:
            total = conn.execute(select(func.count()).select_from(t).where(*where)).scalar_one()
            rows = conn.execute(
                select(t.c.doc).where(*where).order_by(t.c.completed.desc()).offset(offset).limit(limit)
            ).scalars()
            return [_loads(doc) for doc in rows], total

    def unfinished_jobs(self) -> list[dict[str, Any]]:
        """Every job not in state ``complete`` (restart recovery), oldest first."""
        t = tables.jobs
        with self._read() as conn:
            rows = conn.execute(select(t.c.doc).where(t.c.state != "complete").order_by(t.c.started)).scalars()
            return [_loads(doc) for doc in rows]

    def delete_event_jobs(self, event_id: str, batch: int = 500) -> Iterator[list[str]]:
        """Delete the completed jobs of an event in batches, yielding each batch's ids."""
        t = tables.jobs
        while True:
            with self.write() as w:
                ids = list(
                    w.conn.execute(
                        select(t.c.id).where(t.c.event == event_id, t.c.state == "complete").limit(batch)
                    ).scalars()
                )
                if not ids:
                    return
                w.conn.execute(delete(t).where(t.c.id.in_(ids)))
            yield ids

    def schema_version(self) -> int:
        with self._read() as conn:
            return current_version(conn)

    def close(self) -> None:
        self.engine.dispose()
