"""The SQL implementation of the storage contract (SQLite and PostgreSQL via SQLAlchemy Core).

Calls are synchronous and short (one indexed statement or one small transaction); the conductor
makes them from its event loop and moves only bulk work (deleting a job history) to a thread.
SQLite runs in WAL mode with ``synchronous=NORMAL`` and takes the write lock at ``BEGIN`` so
concurrent writers queue instead of dead-locking.

Faults: a transient failure (a dropped or refused connection, a PostgreSQL serialization failure
or deadlock, SQLite ``database is locked``) is retried a few times with a short backoff; reads and
``transact`` re-run the whole call, ``write`` re-opens its transaction (a failure inside the
block cannot be re-run). Right after a call used up its attempts (an outage), calls make a single
attempt, so an outage does not stall the event loop on every call. What still fails raises
``StoreUnavailable`` with a generic message: SQL text, parameters and the driver's message go to
the server log only (parameters are hidden even there), never into an API answer or a job's
description.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

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
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from cronwright import jsonutil
from cronwright.store.base import (
    ACTIVE_JOB_STATES,
    ActivityQuery,
    DuplicateId,
    Lease,
    LostJob,
    StaleWrite,
    StoreError,
    StoreUnavailable,
    StoreWriter,
)
from cronwright.store.jobquery import JobSearch
from cronwright.store.sql import cluster, feed, jobsearch, retention, tables
from cronwright.store.sql.jobindex import index_job, unindex_jobs
from cronwright.store.sql.migrations import current_version, migrate

T = TypeVar("T")
log = logging.getLogger("cronwright.store")

#: what a client is told when the database cannot do the work (after retries)
UNAVAILABLE = "Database unavailable, please retry."
#: ... when the database's disk is full
DISK_FULL = "Database unavailable: its disk is full. Please retry later."
#: pauses between attempts of a call that failed transiently (so at most four attempts)
RETRY_DELAYS_S = (0.05, 0.25, 1.0)
#: no further attempt once a call has spent this long (a lock wait already took the busy timeout)
RETRY_BUDGET_S = 5.0
#: after a call failed all its attempts, calls for this long make one attempt each (no pauses:
#: an outage must not stall the event loop on every call)
OUTAGE_WINDOW_S = 2.0
#: seconds PostgreSQL connection attempts may take (unless the URL sets ``connect_timeout``)
PG_CONNECT_TIMEOUT_S = 5

#: PostgreSQL SQLSTATEs worth another attempt: connection exceptions (class 08), serialization
#: failure, deadlock, lock not available, admin/crash shutdown, cannot connect now
_PG_TRANSIENT = ("08", "40001", "40P01", "55P03", "57P01", "57P02", "57P03")
_PG_DISK_FULL = "53100"
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_FULL = 5, 6, 13

_dumps = jsonutil.dumps_str
_loads = jsonutil.loads


def classify_error(exc: BaseException) -> str:
    """``transient`` (worth another attempt), ``full`` (the database's disk is full) or ``other``."""
    if isinstance(exc, PoolTimeout):
        return "transient"
    if not isinstance(exc, DBAPIError):
        return "other"
    if exc.connection_invalidated:
        return "transient"
    orig = exc.orig
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None  # extended codes carry it in the low byte
        text = str(orig).lower()
        if primary == _SQLITE_FULL or (primary is None and "disk is full" in text):
            return "full"
        busy = ("database is locked", "database is busy", "database table is locked")
        return "transient" if primary in (_SQLITE_BUSY, _SQLITE_LOCKED) or text.startswith(busy) else "other"
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate == _PG_DISK_FULL:
            return "full"
        return "transient" if sqlstate.startswith(_PG_TRANSIENT) else "other"
    # no SQLSTATE: the driver lost or could not open its connection
    return "transient" if isinstance(exc, OperationalError | InterfaceError) else "other"


def _public_error(kind: str) -> StoreUnavailable:
    return StoreUnavailable(DISK_FULL if kind == "full" else UNAVAILABLE)


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
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    return create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=10, hide_parameters=True, connect_args=connect_args
    )


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
        jobs = tables.jobs
        owned = dialect_insert(jobs)
        #: a job write by its owner: lands unless another conductor owns the job now
        self.put_owned_job = owned.on_conflict_do_update(
            index_elements=[jobs.c.id],
            set_={c.name: owned.excluded[c.name] for c in jobs.columns if c.name != "id"},
            where=or_(jobs.c.owner.is_(None), jobs.c.owner == owned.excluded.owner),
        ).returning(jobs.c.id)  # no row back: the condition refused the update (rowcount is not reliable here)
        self.edit_job = (
            update(jobs)
            .where(jobs.c.id == bindparam("b_id"))
            .values({c: bindparam("b_" + c) for c in ("state", "source", "category", "started", "completed", "doc")})
        )
        self.notify = text(feed.notify_statement()) if dialect == "postgresql" else None
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

    def __init__(self, conn: Connection, statements: Statements, seq: Callable[[], int], store: SqlStore) -> None:
        self.conn = conn
        self._st = statements
        self._seq = seq
        self._store = store

    def _announce(self, kind: str, doc_id: str) -> None:
        """Tell the other conductors (store/sql/feed.py) at commit; PostgreSQL only."""
        if self._st.notify is not None:
            self.conn.execute(self._st.notify, {"payload": feed.payload(kind, doc_id, self._store.owner)})

    def insert_doc(self, kind: str, doc: dict[str, Any]) -> None:
        row = {"id": doc["id"], "seq": self._seq(), "revision": doc.get("revision") or 0, "doc": _dumps(doc)}
        try:
            self.conn.execute(self._st.insert_doc[kind], row)
        except IntegrityError as exc:  # the whole transaction is abandoned with it
            raise DuplicateId(f"{kind}/{doc['id']} already exists") from exc
        self._announce(kind, doc["id"])

    def update_doc(self, kind: str, doc: dict[str, Any], *, expected_revision: int | None) -> None:
        row = {"b_id": doc["id"], "b_revision": doc.get("revision") or 0, "b_doc": _dumps(doc)}
        if expected_revision is None:
            result = self.conn.execute(self._st.update_doc[kind], row)
        else:
            result = self.conn.execute(self._st.update_doc_cas[kind], {**row, "b_expected": expected_revision})
        if result.rowcount != 1:
            raise StaleWrite(f"{kind}/{doc['id']} changed or vanished")
        self._announce(kind, doc["id"])

    def delete_doc(self, kind: str, doc_id: str) -> bool:
        self._announce(kind, doc_id)
        return self.conn.execute(self._st.delete_doc[kind], {"b_id": doc_id}).rowcount > 0

    def set_event_state(self, event_id: str, state: dict[str, Any]) -> None:
        self.conn.execute(self._st.upsert["event_state"], {"event_id": event_id, "state": _dumps(state)})

    def delete_event_state(self, event_id: str) -> None:
        self.conn.execute(self._st.delete_event_state, {"b_id": event_id})

    def set_kv(self, key: str, value: Any) -> None:
        self.conn.execute(self._st.upsert["kv"], {"key": key, "value": _dumps(value)})
        if key == "state":
            self._announce("kv", key)

    def delete_kv(self, key: str) -> None:
        self.conn.execute(delete(tables.kv).where(tables.kv.c.key == key))

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
        unindex_jobs(self.conn, [job_id])
        return self.conn.execute(self._st.delete_job, {"b_id": job_id}).rowcount > 0

    def put_job(self, job: dict[str, Any]) -> None:
        row = _job_row(job)
        owner = self._store.owner
        row["owner"] = owner
        row["lease"] = time.time() + self._store.job_lease_s if row["state"] in ACTIVE_JOB_STATES else None
        if owner is None:
            self.conn.execute(self._st.upsert["jobs"], row)
        elif self.conn.execute(self._st.put_owned_job, row).first() is None:
            raise LostJob(f"job {job['id']} belongs to another conductor now")
        if row["state"] == "complete":  # the history index holds final records only
            index_job(self.conn, job)

    def edit_job(self, job: dict[str, Any]) -> None:
        row = {"b_" + key: value for key, value in _job_row(job).items()}
        self.conn.execute(self._st.edit_job, row)
        if row["b_state"] == "complete":
            index_job(self.conn, job)

    # ---- several conductors (store/sql/cluster.py)

    def check_leader(self, me: str, epoch: int) -> None:
        cluster.check_leader(self.conn, me, epoch, time.time())

    def lock_event(self, event_id: str) -> None:
        cluster.lock_event(self.conn, event_id)

    def jobs_of(self, event_id: str, states: tuple[str, ...]) -> list[dict[str, Any]]:
        return cluster.job_states(self.conn, event_id, states)

    def event_state_for_update(self, event_id: str) -> dict[str, Any]:
        t = tables.event_state
        query = select(t.c.state).where(t.c.event_id == event_id)
        if self.conn.dialect.name == "postgresql":
            cluster.lock_event(self.conn, event_id, "event state")  # also when the row does not exist yet
        state = self.conn.execute(query).scalar()
        return _loads(state) if state is not None else {}

    def take_count(self, name: str, limit: int, lifetime_s: float) -> bool:
        return cluster.take_count(self.conn, name, limit, time.time(), lifetime_s)


def _job_row(job: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": job["id"],
        "event": job.get("event") or "",
        "state": job.get("state") or "ready",
        "source": job.get("source"),
        "category": job.get("category"),
        "started": job.get("started"),
        "completed": job.get("completed"),
        "doc": _dumps(job),
    }


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
        #: the conductor writing through this store (job records carry it), None outside a conductor
        self.owner: str | None = None
        #: how long a job's claim holds without a renewal (``Cluster`` renews it)
        self.job_lease_s = 30.0
        self._claim: Connection | None = None  # holds the conductor id's lock (``claim_conductor``)
        self._statements = Statements(engine.dialect.name)
        self._seq = _SeqClock()
        self._outage_until = 0.0  # monotonic time; see OUTAGE_WINDOW_S
        # SQLite has one writer at a time; writers of this process queue on this lock instead of
        # SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and so kept an API
        # write waiting long after a maintenance batch on another thread had committed
        self._sqlite_writer = threading.RLock() if engine.dialect.name == "sqlite" else None

    @classmethod
    def open(cls, url: str) -> SqlStore:
        try:
            parsed = make_url(normalize_url(url))
            if parsed.get_backend_name() == "postgresql" and not parsed.database:
                raise StoreError("Database URL names no database: use postgresql://USER@HOST[:PORT]/DATABASE.")
            if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
                raise StoreError("Database URL names no SQLite file: use sqlite:////path/to/file.db.")
            engine = create_sql_engine(url)
        except StoreError:
            raise
        except Exception as exc:  # a malformed URL, an unknown driver, a bad port
            raise StoreError(f"Invalid database URL: {_first_line(exc)}") from None
        try:
            migrate(engine)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StoreError(f"Cannot open database {make_url(normalize_url(url))!r}: {_first_line(exc)}") from exc
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # ---- transactions, retries and the errors a client may see

    def _attempts(self, what: str, call: Callable[[], T]) -> T:
        """Run ``call``, again after a pause when it fails transiently; what still fails raises
        ``StoreUnavailable`` (the driver's message is logged, never raised)."""
        started = time.monotonic()
        delays = () if started < self._outage_until else RETRY_DELAYS_S
        for attempt, delay in enumerate((*delays, None), start=1):
            try:
                result = call()
            except (DBAPIError, PoolTimeout) as exc:
                kind = classify_error(exc)
                spent = time.monotonic() - started
                if kind == "transient" and delay is not None and spent + delay <= RETRY_BUDGET_S:
                    log.warning("database %s failed (attempt %d), retrying: %s", what, attempt, brief(exc))
                    time.sleep(delay)
                    continue
                if kind == "transient":
                    self._outage_until = time.monotonic() + OUTAGE_WINDOW_S
                log.error("database %s failed after %d attempt(s): %s", what, attempt, brief(exc))
                raise _public_error(kind) from exc
            except StoreError:
                raise
            except SQLAlchemyError as exc:
                log.error("database %s failed: %s", what, brief(exc))
                raise StoreError(UNAVAILABLE) from exc
            self._outage_until = 0.0
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _begin(self) -> Connection:
        """A connection inside a write transaction; pair it with ``_transaction``, which ends both
        the transaction and this process's hold on the SQLite writer lock."""
        if self._sqlite_writer is not None:
            self._sqlite_writer.acquire()
        try:
            conn = self.engine.connect().execution_options(sqlite_begin="IMMEDIATE")
            try:
                conn.begin()
            except BaseException:
                conn.close()
                raise
        except BaseException:
            if self._sqlite_writer is not None:
                self._sqlite_writer.release()
            raise
        return conn

    @contextmanager
    def _transaction(self, conn: Connection) -> Iterator[SqlWriter]:
        """Commit when the block ends; roll back (closing the connection) when it raises."""
        try:
            yield SqlWriter(conn, self._statements, self._seq, self)
            conn.commit()
        finally:
            try:
                conn.close()  # rolls back what was not committed
            except SQLAlchemyError as exc:  # the connection is already gone: nothing to undo
                log.warning("closing a database connection failed: %s", exc)
            finally:
                if self._sqlite_writer is not None:
                    self._sqlite_writer.release()

    @contextmanager
    def write(self) -> Iterator[SqlWriter]:
        conn = self._attempts("begin", self._begin)
        try:
            with self._transaction(conn) as writer:
                yield writer
        except StoreError:
            raise
        except SQLAlchemyError as exc:
            log.error("database write failed: %s", brief(exc))
            raise _public_error(classify_error(exc)) from exc

    def transact(self, work: Callable[[SqlWriter], T]) -> T:
        def attempt() -> T:
            with self._transaction(self._begin()) as writer:
                return work(writer)

        return self._attempts("write", attempt)

    def _query(self, work: Callable[[Connection], T]) -> T:
        """Run a read on a pooled connection; transient failures re-run it."""

        def attempt() -> T:
            with self.engine.connect() as conn:
                return work(conn)

        return self._attempts("read", attempt)

    def load_docs(self, kind: str) -> list[dict[str, Any]]:
        table = tables.definitions[kind]
        docs = self._query(lambda conn: list(conn.execute(select(table.c.doc).order_by(table.c.seq)).scalars()))
        return [_loads(doc) for doc in docs]

    def get_doc(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        table = tables.definitions[kind]
        doc = self._query(lambda conn: conn.execute(select(table.c.doc).where(table.c.id == doc_id)).scalar())
        return _loads(doc) if doc is not None else None

    def get_event_state(self, event_id: str) -> dict[str, Any]:
        t = tables.event_state
        state = self._query(lambda conn: conn.execute(select(t.c.state).where(t.c.event_id == event_id)).scalar())
        return _loads(state) if state is not None else {}

    def load_event_states(self) -> dict[str, dict[str, Any]]:
        t = tables.event_state
        rows = self._query(lambda conn: list(conn.execute(select(t.c.event_id, t.c.state))))
        return {row.event_id: _loads(row.state) for row in rows}

    def event_states(self, event_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The states of the given events (absent ones are left out)."""
        t = tables.event_state

        def read(conn: Connection) -> dict[str, dict[str, Any]]:
            out: dict[str, dict[str, Any]] = {}
            for start in range(0, len(event_ids), 500):
                chunk = event_ids[start : start + 500]
                for row in conn.execute(select(t.c.event_id, t.c.state).where(t.c.event_id.in_(chunk))):
                    out[row.event_id] = _loads(row.state)
            return out

        return self._query(read)

    def get_kv(self, key: str) -> Any | None:
        kv = tables.kv
        value = self._query(lambda conn: conn.execute(select(kv.c.value).where(kv.c.key == key)).scalar())
        return _loads(value) if value is not None else None

    def kv_with_prefix(self, prefix: str) -> dict[str, Any]:
        kv = tables.kv
        query = select(kv.c.key, kv.c.value).where(kv.c.key.startswith(prefix, autoescape=True))
        return {row.key: _loads(row.value) for row in self._query(lambda conn: list(conn.execute(query)))}

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

        def read(conn: Connection) -> tuple[list[dict[str, Any]], int]:
            total = conn.execute(select(func.count()).select_from(a).where(*where)).scalar_one()
            rows = conn.execute(
                select(a.c.doc).where(*where).order_by(order).offset(query.offset).limit(query.limit)
            ).scalars()
            return [_loads(doc) for doc in rows], total

        return self._query(read)

    def get_session(self, session_id: str) -> dict[str, Any] | None:
        t = tables.sessions
        doc = self._query(lambda conn: conn.execute(select(t.c.doc).where(t.c.id == session_id)).scalar())
        return _loads(doc) if doc is not None else None

    def purge_sessions(self, before_epoch: float) -> int:
        t = tables.sessions

        def purge(w: SqlWriter) -> int:
            return w.conn.execute(delete(t).where(t.c.expires < before_epoch)).rowcount

        return self.transact(purge)

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        t = tables.jobs
        doc = self._query(lambda conn: conn.execute(select(t.c.doc).where(t.c.id == job_id)).scalar())
        return _loads(doc) if doc is not None else None

    def fires_of(self, event_id: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Recorded fires of an event, newest first, and their total."""
        t = tables.fires

        def read(conn: Connection) -> tuple[list[dict[str, Any]], int]:
            total = conn.execute(select(func.count()).select_from(t).where(t.c.event_id == event_id)).scalar_one()
            rows = conn.execute(
                select(t)
                .where(t.c.event_id == event_id)
                .order_by(t.c.at.desc(), t.c.trigger)
                .offset(offset)
                .limit(limit)
            ).mappings()
            return [{str(k): v for k, v in r.items()} for r in rows], total  # keys may be str subclasses

        return self._query(read)

    def event_history(self, event_id: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Completed jobs of an event, newest first, and their total."""
        t = tables.jobs
        where = (t.c.event == event_id, t.c.state == "complete")

        def read(conn: Connection) -> tuple[list[dict[str, Any]], int]:
            total = conn.execute(select(func.count()).select_from(t).where(*where)).scalar_one()
            rows = conn.execute(
                select(t.c.doc).where(*where).order_by(t.c.completed.desc()).offset(offset).limit(limit)
            ).scalars()
            return [_loads(doc) for doc in rows], total

        return self._query(read)

    def unfinished_jobs(self, owner: str | None = None, *, exclude_owner: str | None = None) -> list[dict[str, Any]]:
        """Unfinished jobs (not ``complete``), oldest first: all, those of ``owner``, or the others'."""
        t = tables.jobs
        where = [t.c.state != "complete"]
        if owner is not None:
            where.append(t.c.owner == owner)
        if exclude_owner is not None:
            where.append(or_(t.c.owner.is_(None), t.c.owner != exclude_owner))
        docs = self._query(
            lambda conn: list(conn.execute(select(t.c.doc).where(*where).order_by(t.c.started)).scalars())
        )
        return [_loads(doc) for doc in docs]

    def job_owner(self, job_id: str) -> tuple[str | None, float | None]:
        return self._query(lambda conn: cluster.job_owner(conn, job_id))

    def adopt_orphans(self, me: str, lease_s: float, include_own: bool = True) -> list[dict[str, Any]]:
        ids = self._query(lambda conn: cluster.orphaned_jobs(conn, me, time.time(), include_own))
        adopted = []
        for job_id in ids:

            def claim(w: SqlWriter, job_id: str = job_id) -> dict[str, Any] | None:
                return cluster.adopt_job(w.conn, job_id, me, time.time(), lease_s, include_own)

            doc = self.transact(claim)
            if doc is not None:
                adopted.append(doc)
        return adopted

    def adopt_job(self, job_id: str, me: str, lease_s: float) -> dict[str, Any] | None:
        return self.transact(lambda w: cluster.adopt_job(w.conn, job_id, me, time.time(), lease_s, True))

    def transfer_job(self, job_id: str, owner: str, to: str, lease_s: float) -> bool:
        return self.transact(lambda w: cluster.transfer_job(w.conn, job_id, owner, to, time.time(), lease_s))

    def claim_conductor(self, conductor_id: str) -> bool:
        """Hold ``conductor_id`` for this process (PostgreSQL: a session advisory lock on a
        connection kept open until ``close``); False when another live process holds it."""
        if self.dialect != "postgresql" or self._claim is not None:
            return True
        conn = self.engine.connect()
        try:
            key = cluster.advisory_key("conductor", conductor_id)
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            conn.commit()
        except SQLAlchemyError as exc:
            conn.close()
            raise StoreError(f"Cannot reach the database to claim the conductor id: {brief(exc)}") from exc
        if not got:
            conn.close()
            return False
        self._claim = conn
        return True

    def heartbeat(self, row: dict[str, Any], job_lease_s: float) -> None:
        self.transact(lambda w: cluster.heartbeat(w.conn, row, time.time(), job_lease_s))

    def conductors(self) -> list[dict[str, Any]]:
        return self._query(cluster.conductors)

    def forget_conductor(self, conductor_id: str) -> None:
        self.transact(lambda w: cluster.forget_conductor(w.conn, conductor_id))

    def acquire_leader(self, me: str, epoch: int | None, ttl_s: float) -> Lease | None:
        return self.transact(lambda w: cluster.acquire_leader(w.conn, me, epoch, time.time(), ttl_s))

    def release_leader(self, me: str, epoch: int) -> None:
        self.transact(lambda w: cluster.release_leader(w.conn, me, epoch))

    def leader(self) -> dict[str, Any] | None:
        row = self._query(lambda conn: cluster.leader_row(conn))
        return (
            {"holder": row.holder, "epoch": int(row.epoch), "expires": row.expires, "acquired": row.acquired}
            if row
            else None
        )

    def delete_event_jobs(self, event_id: str, batch: int = 500) -> Iterator[list[str]]:
        """Delete the completed jobs of an event in batches, yielding each batch's ids."""
        t = tables.jobs

        def delete_batch(w: SqlWriter) -> list[str]:
            query = select(t.c.id).where(t.c.event == event_id, t.c.state == "complete").limit(batch)
            ids = list(w.conn.execute(query).scalars())
            if ids:
                unindex_jobs(w.conn, ids)
                w.conn.execute(delete(t).where(t.c.id.in_(ids)))
            return ids

        while True:
            ids = self.transact(delete_batch)
            if not ids:
                return
            yield ids

    def search_jobs(self, search: JobSearch) -> tuple[list[dict[str, Any]], int]:
        """The page of stored job records matching ``search`` and the number of matches."""
        return self._query(lambda conn: jobsearch.search_jobs(conn, search))

    def trim_jobs(
        self,
        *,
        keep: int,
        completed_before: float | None,
        batch: int,
        fence: Callable[[StoreWriter], None] | None = None,
    ) -> list[dict[str, Any]]:
        """One short transaction deleting up to ``batch`` of the oldest completed job records
        beyond the newest ``keep`` (or completed before ``completed_before``); the deleted records."""

        def trim(w: SqlWriter) -> list[dict[str, Any]]:
            if fence is not None:
                fence(w)
            return retention.trim_jobs_batch(w.conn, keep=keep, completed_before=completed_before, batch=batch)

        deleted = self.transact(trim)
        self._checkpoint()
        return deleted

    def trim_activity(
        self,
        *,
        keep: int,
        epoch_before: float | None,
        batch: int,
        fence: Callable[[StoreWriter], None] | None = None,
    ) -> int:
        """Like ``trim_jobs`` for activity records (with their keywords); how many were deleted."""

        def trim(w: SqlWriter) -> int:
            if fence is not None:
                fence(w)
            return retention.trim_activity_batch(w.conn, keep=keep, epoch_before=epoch_before, batch=batch)

        count = self.transact(trim)
        self._checkpoint()
        return count

    def _checkpoint(self) -> None:
        """SQLite: copy the write-ahead log back now (on the trimming thread), so that an API
        write's commit does not meet a log full of deleted pages to checkpoint."""
        if self.dialect == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def schema_version(self) -> int:
        return self._query(current_version)

    def announce(self, message: dict[str, Any]) -> None:
        """Send a message to every conductor's change feed (PostgreSQL; nothing elsewhere)."""
        notify = self._statements.notify
        if notify is None:  # SQLite: no other conductor to tell
            return

        def send(w: SqlWriter) -> None:
            w.conn.execute(notify, {"payload": jsonutil.dumps_str({**message, "o": self.owner})})

        self.transact(send)

    def watch(
        self, on_change: Callable[[dict[str, Any]], None], on_connect: Callable[[], None]
    ) -> feed.ChangeFeed | None:
        """Follow the other conductors' changes (PostgreSQL; None on SQLite, which has one conductor)."""
        if self.dialect != "postgresql":
            return None
        dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return feed.ChangeFeed(dsn, on_change, on_connect)

    def close(self) -> None:
        if self._claim is not None:
            with suppress(SQLAlchemyError):
                self._claim.close()
            self._claim = None
        self.engine.dispose()


#: characters of a database error kept in the log: the driver's message, never a whole statement
#: (a statement built from a long query can be hundreds of kilobytes; its parameters are user data)
BRIEF_ERROR_CHARS = 300


def _first_line(exc: BaseException) -> str:
    """The driver's own message, first line only (no SQL, no link to SQLAlchemy's error pages)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:BRIEF_ERROR_CHARS]


def brief(exc: BaseException) -> str:
    """A database error for the log: the driver's own message (``exc.orig``) without the SQL and
    parameters SQLAlchemy appends, cut to ``BRIEF_ERROR_CHARS``."""
    message = str(getattr(exc, "orig", None) or exc).split("\n[SQL:", 1)[0]
    if len(message) > BRIEF_ERROR_CHARS:
        message = message[:BRIEF_ERROR_CHARS] + "…"
    return f"{type(exc).__name__}: {message}"
