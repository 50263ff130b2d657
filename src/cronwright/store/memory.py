"""The storage contract kept in Python dicts: ``MemoryStore``.

What it is for: testing the engine's state machine (launches, the fire ledger, finishing, job
ownership and the leader lease) without a database, and serving as the reference of the
contract's semantics. Everything a caller can observe here is what ``SqlStore`` does, and
``tests/store`` runs one contract suite over SQLite, PostgreSQL and this store.

How it keeps the contract:

- Values are kept as JSON text (``jsonutil``, as the SQL ``doc`` columns are) and parsed on every
  read: a caller never shares a dict with the store, and values come back as they would from
  the database (tuples as lists, NaN as null, integers beyond 64 bits as floats).
- A ``write()`` block changes private copies of the tables it touches (each is copied on its first
  change; rows are never changed in place) and swaps them in at the end, under the one lock that
  serializes writers. An exception leaves the committed tables as they were: the block commits
  whole or not at all. Readers take the last committed tables without waiting, as readers of a
  database do. A ``DuplicateId`` abandons the whole transaction, as on PostgreSQL: later calls on
  that writer fail, and the block's end commits nothing even when the caller caught the error.
- Where SQL leaves an order open, this store follows SQLite: NULL sorts lowest, equal sort keys
  keep insertion order, a negative offset counts as 0 and a negative limit as "no limit".
- The job history index (``search_jobs``, ``trim_jobs``) is its own table, written by ``put_job``
  and ``edit_job`` exactly when ``SqlStore`` writes ``job_search``/``job_words``; the query tree
  is matched in Python with the meaning ``sql/jobsearch.py`` compiles into SQL.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from cronwright import jsonutil
from cronwright.store.base import (
    ACTIVE_JOB_STATES,
    DEFINITION_KINDS,
    ActivityQuery,
    DuplicateId,
    Lease,
    LostJob,
    NotLeader,
    StaleWrite,
    Store,
    StoreError,
    StoreUnavailable,
    StoreWriter,
)
from cronwright.store.jobquery import Group, Hours, JobSearch, Node, Term, is_searchable, word_list
from cronwright.store.sql.jobindex import index_rows
from cronwright.store.sql.migrations import MIGRATIONS

T = TypeVar("T")
Tables = dict[str, dict[Any, Any]]
Fence = Callable[[StoreWriter], None]

URL = "memory://"
#: a conductor without a heartbeat for this long is dropped from the list (as sql/cluster.py)
FORGET_AFTER_S = 3600.0
LEADER = "leader"
#: the tables besides one per definition kind (``DEFINITION_KINDS``)
TABLES = (
    "event_state",
    "kv",
    "activity",  # seq → _Activity, in seq order
    "activity_ids",  # activity id → seq (the SQL table's unique id)
    "sessions",
    "jobs",
    "job_index",  # job id → _Indexed: the history index (SQL: job_search + job_words)
    "fires",  # (event_id, at, trigger, round) → the row
    "conductors",
    "leases",
    "counters",
)
CONDUCTOR_COLUMNS = ("id", "address", "version", "started", "heartbeat", "instance")
#: keywords of an activity record are cut to this length (the SQL column's width)
KEYWORD_CHARS = 255


@dataclass(frozen=True, slots=True)
class _Doc:
    revision: Any
    doc: bytes


@dataclass(frozen=True, slots=True)
class _Activity:
    id: str
    action: str
    epoch: int
    keywords: frozenset[str]
    doc: bytes


@dataclass(frozen=True, slots=True)
class _Session:
    username: str
    expires: float
    doc: bytes


@dataclass(frozen=True, slots=True)
class _Job:
    """A job row: the columns the store queries by, and the record."""

    event: str
    state: str
    started: Any
    completed: Any
    doc: bytes
    owner: str | None = None
    lease: float | None = None


@dataclass(frozen=True, slots=True)
class _Indexed:
    """A searchable job record as the history index holds it (sorters, hour, category, words)."""

    id: str
    completed: float | None
    elapsed: float | None
    hour: int | None
    category: str | None
    words: frozenset[tuple[str, str, int]]  # (field, word, position)
    terms: frozenset[tuple[str, str]]  # (field, word)


@dataclass(frozen=True, slots=True)
class _LeaseRow:
    holder: str
    epoch: int
    expires: float
    acquired: float


@dataclass(frozen=True, slots=True)
class _Counter:
    value: int
    expires: float


def _dump(value: Any) -> bytes:
    return jsonutil.dumps(value)


def _load(data: bytes) -> Any:
    return jsonutil.loads(data)


def _kind(kind: str) -> str:
    """A definition kind's table name; an unknown kind raises ``KeyError`` as in ``SqlStore``."""
    if kind not in DEFINITION_KINDS:
        raise KeyError(kind)
    return kind


def _nulls_low(value: Any) -> tuple[bool, Any]:
    """A sort key placing None (SQL NULL) below every value, as SQLite orders."""
    return (value is not None, 0 if value is None else value)


def _page(rows: list[T], offset: int, limit: int | None) -> list[T]:
    start = max(offset, 0)
    return rows[start:] if limit is None or limit < 0 else rows[start : start + limit]


class MemoryWriter:
    """The write operations of one ``MemoryStore`` transaction."""

    def __init__(self, store: MemoryStore, committed: Tables) -> None:
        self._store = store
        self.tables = dict(committed)  # the committed tables until each one's first change
        self._copied: set[str] = set()
        #: why the transaction was abandoned (nothing of it may commit), None while it is not
        self.abandoned: str | None = None
        self.ended = False

    def _check(self) -> None:
        if self.ended:
            raise StoreError("This write() block has ended.")
        if self.abandoned is not None:
            raise StoreUnavailable(f"The transaction was abandoned ({self.abandoned}).")

    def _read(self, name: str) -> dict[Any, Any]:
        self._check()
        return self.tables[name]

    def _edit(self, name: str) -> dict[Any, Any]:
        table = self._read(name)
        if name not in self._copied:
            table = self.tables[name] = dict(table)
            self._copied.add(name)
        return table

    def _abandon(self, error: StoreError) -> StoreError:
        self.abandoned = str(error)
        return error

    # ---- definitions, state, key/value

    def insert_doc(self, kind: str, doc: dict[str, Any]) -> None:
        table = self._edit(_kind(kind))
        row = _Doc(doc.get("revision") or 0, _dump(doc))
        if doc["id"] in table:
            raise self._abandon(DuplicateId(f"{kind}/{doc['id']} already exists"))
        table[doc["id"]] = row

    def update_doc(self, kind: str, doc: dict[str, Any], *, expected_revision: int | None) -> None:
        table = self._edit(_kind(kind))
        row = _Doc(doc.get("revision") or 0, _dump(doc))
        stored = table.get(doc["id"])
        if stored is None or (expected_revision is not None and stored.revision != expected_revision):
            raise StaleWrite(f"{kind}/{doc['id']} changed or vanished")
        table[doc["id"]] = row  # keeps its place in insertion order

    def delete_doc(self, kind: str, doc_id: str) -> bool:
        return self._edit(_kind(kind)).pop(doc_id, None) is not None

    def set_event_state(self, event_id: str, state: dict[str, Any]) -> None:
        self._edit("event_state")[event_id] = _dump(state)

    def delete_event_state(self, event_id: str) -> None:
        self._edit("event_state").pop(event_id, None)

    def set_kv(self, key: str, value: Any) -> None:
        self._edit("kv")[key] = _dump(value)

    def delete_kv(self, key: str) -> None:
        self._edit("kv").pop(key, None)

    def insert_kv_once(self, key: str, value: Any) -> bool:
        """Insert unless the key exists (False); a refusal does not abandon the transaction."""
        table = self._edit("kv")
        data = _dump(value)
        if key in table:
            return False
        table[key] = data
        return True

    # ---- activity and sessions

    def add_activity(self, record: dict[str, Any]) -> None:
        """Append a record; its keywords are those of ``record["keywords"]`` as text (cut to
        ``KEYWORD_CHARS``), None and "" left out. A second record with the same id abandons the
        transaction (``SqlStore`` reports it as ``StoreUnavailable``)."""
        ids, table = self._edit("activity_ids"), self._edit("activity")
        row = _Activity(
            id=record["id"],
            action=record["action"],
            epoch=int(record["epoch"]),
            keywords=frozenset(str(k)[:KEYWORD_CHARS] for k in record.get("keywords") or () if k not in (None, "")),
            doc=_dump(record),
        )
        seq = self._store.next_seq()
        if row.id in ids:
            raise self._abandon(StoreUnavailable(f"activity {row.id} already exists"))
        ids[row.id] = seq
        table[seq] = row

    def put_session(self, session: dict[str, Any]) -> None:
        row = _Session(session["username"], float(session["expires"]), _dump(session))
        self._edit("sessions")[session["id"]] = row

    def delete_session(self, session_id: str) -> None:
        self._edit("sessions").pop(session_id, None)

    def delete_user_sessions(self, username: str) -> int:
        table = self._edit("sessions")
        gone = [key for key, row in table.items() if row.username == username]
        for key in gone:
            del table[key]
        return len(gone)

    # ---- jobs and fires

    def record_fire(self, fire: dict[str, Any]) -> None:
        """Insert a fire row (event_id, at, trigger, round, status, job_id, reason, recorded); a fire
        that is already recorded raises ``DuplicateId`` and abandons the transaction."""
        row = {
            "event_id": fire["event_id"],
            "at": int(fire["at"]),
            "trigger": int(fire["trigger"]),
            "round": int(fire.get("round") or 0),
            "status": fire["status"],
            "job_id": fire.get("job_id"),
            "reason": fire.get("reason"),
            "recorded": float(fire["recorded"]),
        }
        table = self._edit("fires")
        key = (row["event_id"], row["at"], row["trigger"], row["round"])
        if key in table:
            raise self._abandon(DuplicateId(f"fire {row['event_id']}@{row['at']}#{row['trigger']} already recorded"))
        table[key] = row

    def put_job(self, job: dict[str, Any]) -> None:
        """Store a job record as the store's ``owner`` (None: as nobody, whoever owned it)."""
        row = _job_row(job)
        owner = self._store.owner
        lease = self._store.now() + self._store.job_lease_s if row.state in ACTIVE_JOB_STATES else None
        jobs = self._edit("jobs")
        stored = jobs.get(job["id"])
        if owner is not None and stored is not None and stored.owner not in (None, owner):
            raise LostJob(f"job {job['id']} belongs to another conductor now")
        jobs[job["id"]] = replace(row, owner=owner, lease=lease)
        if row.state == "complete":  # the history index holds final records only
            self._index(job)

    def edit_job(self, job: dict[str, Any]) -> None:
        """Change a stored record and its columns, keeping its event, owner and lease (a missing
        job stays missing, but a ``complete`` edit is indexed as ``SqlStore`` does)."""
        row = _job_row(job)
        jobs = self._edit("jobs")
        stored = jobs.get(job["id"])
        if stored is not None:
            jobs[job["id"]] = replace(row, event=stored.event, owner=stored.owner, lease=stored.lease)
        if row.state == "complete":
            self._index(job)

    def _index(self, job: dict[str, Any]) -> None:
        index = self._edit("job_index")
        index.pop(job["id"], None)
        if is_searchable(job):
            index[job["id"]] = _indexed(job)

    def delete_job(self, job_id: str) -> bool:
        self._edit("job_index").pop(job_id, None)
        return self._edit("jobs").pop(job_id, None) is not None

    # ---- several conductors

    def check_leader(self, me: str, epoch: int) -> None:
        row = self._read("leases").get(LEADER)
        if row is None or row.holder != me or row.epoch != epoch or row.expires <= self._store.now():
            raise NotLeader(f"conductor {me} no longer holds leader epoch {epoch}")

    def lock_event(self, event_id: str) -> None:
        """Nothing more to do: a transaction holds the store's one writer lock."""
        self._check()

    def jobs_of(self, event_id: str, states: tuple[str, ...]) -> list[dict[str, Any]]:
        jobs = self._read("jobs").values()
        return [_load(row.doc) for row in jobs if row.event == event_id and row.state in states]

    def event_state_for_update(self, event_id: str) -> dict[str, Any]:
        state = self._read("event_state").get(event_id)
        return _load(state) if state is not None else {}

    def take_count(self, name: str, limit: int, lifetime_s: float) -> bool:
        """Add one to counter ``name`` unless it reached ``limit``. A new counter starts at one;
        it is dropped an hour after its ``lifetime_s`` ran out (as ``SqlStore`` keeps it)."""
        now = self._store.now()
        counters = self._edit("counters")
        for stale in [key for key, counter in counters.items() if counter.expires < now - 3600]:
            del counters[stale]
        counter = counters.get(name)
        if counter is None:
            counters[name] = _Counter(1, now + lifetime_s)
            return True
        if counter.value >= limit:
            return False
        counters[name] = replace(counter, value=counter.value + 1)
        return True

    # ---- the store's own transactions (cluster upkeep, purges, trimming)

    def _adopt(self, job_id: str, me: str, lease_s: float, include_own: bool) -> dict[str, Any] | None:
        now = self._store.now()
        jobs = self._edit("jobs")
        row = jobs.get(job_id)
        if row is None or not _orphaned(row, me, now, include_own):
            return None
        jobs[job_id] = replace(row, owner=me, lease=now + lease_s)
        return _load(row.doc)

    def _heartbeat(self, row: dict[str, Any], job_lease_s: float) -> None:
        now = self._store.now()
        table = self._edit("conductors")
        merged = {**table.get(row["id"], {}), **row, "heartbeat": now}
        unknown = set(merged) - set(CONDUCTOR_COLUMNS)
        if unknown:
            raise StoreError(f"unknown conductor fields: {', '.join(sorted(unknown))}")
        merged["started"] = float(merged["started"])
        table[row["id"]] = {column: merged[column] for column in CONDUCTOR_COLUMNS}
        for gone in [cid for cid, r in table.items() if r["heartbeat"] < now - FORGET_AFTER_S]:
            del table[gone]  # long gone (killed, never stopped)
        jobs = self._edit("jobs")
        for job_id, job in jobs.items():
            if job.owner == row["id"] and job.state in ACTIVE_JOB_STATES:
                jobs[job_id] = replace(job, lease=now + job_lease_s)

    def _acquire_leader(self, me: str, epoch: int | None, ttl_s: float) -> Lease | None:
        """The rules of ``sql/cluster.py`` ``acquire_leader``: renew, take over, or None."""
        now = self._store.now()
        leases = self._edit("leases")
        row = leases.get(LEADER)
        if row is None:
            leases[LEADER] = _LeaseRow(me, 1, now + ttl_s, now)
            return Lease(1, now + ttl_s, acquired=True)
        if row.holder == me and epoch is not None and row.epoch == epoch and row.expires > now:
            leases[LEADER] = replace(row, expires=now + ttl_s)
            return Lease(epoch, now + ttl_s, acquired=False)
        if row.expires <= now or (row.holder == me and epoch is None):
            leases[LEADER] = _LeaseRow(me, row.epoch + 1, now + ttl_s, now)
            return Lease(
                row.epoch + 1, now + ttl_s, acquired=True, previous_holder=row.holder, previous_expires=row.expires
            )
        return None


def _job_row(job: dict[str, Any]) -> _Job:
    return _Job(
        event=job.get("event") or "",
        state=job.get("state") or "ready",
        started=job.get("started"),
        completed=job.get("completed"),
        doc=_dump(job),
    )


def _indexed(job: dict[str, Any]) -> _Indexed:
    row, words = index_rows(job)
    return _Indexed(
        id=job["id"],
        completed=row["completed"],
        elapsed=row["elapsed"],
        hour=row["hour"],
        category=row["category"],
        words=frozenset((w["field"], w["word"], w["pos"]) for w in words),
        terms=frozenset((w["field"], w["word"]) for w in words),
    )


def _orphaned(row: _Job, me: str, now: float, include_own: bool) -> bool:
    """An unfinished job ``me`` may adopt: ownerless or its owner's lease ran out, and with
    ``include_own`` also its own (from an earlier process)."""
    if row.state not in ACTIVE_JOB_STATES:
        return False
    free = row.owner is None or row.lease is None or row.lease < now
    return free or (include_own and row.owner == me)


# ---- search_jobs: the query tree of jobquery.py, with the meaning sql/jobsearch.py gives it


def _matches(node: Node, entry: _Indexed) -> bool:
    """Whether an index entry satisfies ``node`` read as positive (its own sign is the caller's)."""
    if isinstance(node, Term):
        if not node.phrase:
            return (node.field, node.words[0]) in entry.terms
        return any(
            all((node.field, word, pos + offset) in entry.words for offset, word in enumerate(node.words[1:], 1))
            for field, first, pos in entry.words
            if field == node.field and first == node.words[0]
        )
    if isinstance(node, Hours):
        return (
            entry.hour is not None
            and (node.low is None or entry.hour >= node.low)
            and (node.high is None or entry.hour <= node.high)
        )
    return _group_matches(node, entry)


def _group_matches(group: Group, entry: _Indexed) -> bool:
    """``and``: every positive item holds, ``or``: one does; and no negative item holds. A group
    without positive items matches nothing."""
    positive = [item for item in group.items if not item.negative]
    if not positive:
        return False
    hits = (_matches(item, entry) for item in positive)
    if not (all(hits) if group.mode == "and" else any(hits)):
        return False
    return not any(_matches(item, entry) for item in group.items if item.negative)


def _in_scope(search: JobSearch, entry: _Indexed) -> bool:
    if search.categories is not None and entry.category not in search.categories:
        return False
    if search.groups is not None:
        words = {ws[0] for group in search.groups if len(ws := word_list(group)) == 1}
        if not any(("groups", word) in entry.terms for word in words):
            return False
    return search.where is None or _group_matches(search.where, entry)


def _sort_key(sort_by: str) -> Callable[[_Indexed], Any]:
    if sort_by == "_id":
        return lambda entry: entry.id
    if sort_by not in ("completed", "elapsed"):
        raise KeyError(sort_by)
    return lambda entry: (_nulls_low(getattr(entry, sort_by)), entry.id)


def _search(tables: Tables, search: JobSearch) -> tuple[list[dict[str, Any]], int]:
    matched = [entry for entry in tables["job_index"].values() if _in_scope(search, entry)]
    total = len(matched)
    offset = max(0, total + search.offset) if search.offset < 0 else search.offset
    if search.limit is not None and search.limit <= 0:
        return [], total
    matched.sort(key=_sort_key(search.sort_by), reverse=search.descending)
    jobs = tables["jobs"]
    page = _page(matched, offset, search.limit)
    return [_load(jobs[entry.id].doc) for entry in page if entry.id in jobs], total


class MemoryStore:
    """``Store`` in this process's memory (see the module docstring); ``clock`` gives the
    wall-clock seconds that leases, counters and job leases are measured in."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        #: the conductor writing through this store (job records carry it), None outside a conductor
        self.owner: str | None = None
        #: how long a job's claim holds without a renewal (``Cluster`` renews it)
        self.job_lease_s = 30.0
        self.now = clock
        self._tables: Tables = {name: {} for name in (*DEFINITION_KINDS, *TABLES)}
        self._lock = threading.Lock()  # one writer at a time; readers take ``_tables`` as it is
        self._writing: int | None = None  # the thread inside write(), to refuse nesting
        self._seq = itertools.count(1)

    @classmethod
    def open(cls, url: str = URL) -> MemoryStore:
        """A new, empty store for ``memory://``."""
        if url != URL:
            raise StoreError(f"Not a memory store URL: {url!r} (use {URL!r})")
        return cls()

    @property
    def dialect(self) -> str:
        return "memory"

    def next_seq(self) -> int:
        """The next activity sequence number (used or not, like an auto-increment)."""
        return next(self._seq)

    # ---- transactions

    @contextmanager
    def write(self) -> Iterator[MemoryWriter]:
        """One transaction: its changes become visible together when the block ends, or never
        when it raises. A ``write()`` inside another on the same thread is refused (on SQLite it
        would wait for itself)."""
        if self._writing == threading.get_ident():
            raise StoreError("A write() inside another write() of the same thread would wait for itself.")
        with self._lock:
            self._writing = threading.get_ident()
            writer = MemoryWriter(self, self._tables)
            try:
                yield writer
                if writer.abandoned is None:
                    self._tables = writer.tables
            finally:
                writer.ended = True
                self._writing = None

    def transact(self, work: Callable[[MemoryWriter], T]) -> T:
        """Run ``work`` in one transaction (a memory store has no transient failures to re-run)."""
        with self.write() as writer:
            return work(writer)

    # ---- reads: each takes the committed tables once, so it sees one consistent version

    def load_docs(self, kind: str) -> list[dict[str, Any]]:
        return [_load(row.doc) for row in self._tables[_kind(kind)].values()]

    def get_doc(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        row = self._tables[_kind(kind)].get(doc_id)
        return _load(row.doc) if row is not None else None

    def get_event_state(self, event_id: str) -> dict[str, Any]:
        state = self._tables["event_state"].get(event_id)
        return _load(state) if state is not None else {}

    def load_event_states(self) -> dict[str, dict[str, Any]]:
        return {event_id: _load(state) for event_id, state in self._tables["event_state"].items()}

    def event_states(self, event_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The states of the given events (absent ones are left out)."""
        table = self._tables["event_state"]
        return {event_id: _load(table[event_id]) for event_id in event_ids if event_id in table}

    def get_kv(self, key: str) -> Any | None:
        value = self._tables["kv"].get(key)
        return _load(value) if value is not None else None

    def kv_with_prefix(self, prefix: str) -> dict[str, Any]:
        return {key: _load(value) for key, value in self._tables["kv"].items() if key.startswith(prefix)}

    def search_activity(self, query: ActivityQuery) -> tuple[list[dict[str, Any]], int]:
        def wanted(row: _Activity) -> bool:
            return (
                (not query.actions or row.action in query.actions)
                and (not query.keywords or not row.keywords.isdisjoint(query.keywords))
                and (query.since is None or row.epoch >= query.since)
                and (query.until is None or row.epoch <= query.until)
            )

        rows = [row for row in self._tables["activity"].values() if wanted(row)]
        if query.newest_first:
            rows.reverse()
        return [_load(row.doc) for row in _page(rows, query.offset, query.limit)], len(rows)

    def get_session(self, session_id: str) -> dict[str, Any] | None:
        row = self._tables["sessions"].get(session_id)
        return _load(row.doc) if row is not None else None

    def purge_sessions(self, before_epoch: float) -> int:
        def purge(w: MemoryWriter) -> int:
            sessions = w._edit("sessions")
            gone = [key for key, row in sessions.items() if row.expires < before_epoch]
            for key in gone:
                del sessions[key]
            return len(gone)

        return self.transact(purge)

    # ---- jobs and fires

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        row = self._tables["jobs"].get(job_id)
        return _load(row.doc) if row is not None else None

    def unfinished_jobs(self, owner: str | None = None, *, exclude_owner: str | None = None) -> list[dict[str, Any]]:
        """Unfinished jobs (not ``complete``), oldest first: all, those of ``owner``, or the others'."""
        rows = [
            row
            for row in self._tables["jobs"].values()
            if row.state != "complete"
            and (owner is None or row.owner == owner)
            and (exclude_owner is None or row.owner != exclude_owner)
        ]
        rows.sort(key=lambda row: _nulls_low(row.started))
        return [_load(row.doc) for row in rows]

    def fires_of(self, event_id: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Recorded fires of an event, newest first, then by trigger (replays of one fire: the
        latest round first, as SQLite answers), and their total."""
        rows = [row for key, row in self._tables["fires"].items() if key[0] == event_id]
        rows.sort(key=lambda row: (-row["at"], row["trigger"], -row["round"]))
        return [dict(row) for row in _page(rows, offset, limit)], len(rows)

    def event_history(self, event_id: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Completed jobs of an event, newest first, and their total."""
        jobs = self._tables["jobs"].values()
        rows = [row for row in jobs if row.event == event_id and row.state == "complete"]
        rows.reverse()  # equal times: the later stored first (SQLite's backward index scan)
        rows.sort(key=lambda row: _nulls_low(row.completed), reverse=True)
        return [_load(row.doc) for row in _page(rows, offset, limit)], len(rows)

    def delete_event_jobs(self, event_id: str, batch: int = 500) -> Iterator[list[str]]:
        """Delete the completed jobs of an event in batches (one transaction each), yielding each
        batch's ids."""

        def delete_batch(w: MemoryWriter) -> list[str]:
            jobs = w._read("jobs")
            ids = [job_id for job_id, row in jobs.items() if row.event == event_id and row.state == "complete"]
            ids = _page(ids, 0, batch)
            for job_id in ids:
                w.delete_job(job_id)
            return ids

        while ids := self.transact(delete_batch):
            yield ids

    def search_jobs(self, search: JobSearch) -> tuple[list[dict[str, Any]], int]:
        """The page of stored job records matching ``search`` and the number of matches."""
        return _search(self._tables, search)

    def trim_jobs(
        self, *, keep: int, completed_before: float | None, batch: int, fence: Fence | None = None
    ) -> list[dict[str, Any]]:
        """Delete up to ``batch`` of the oldest indexed job records beyond the newest ``keep`` (or
        completed before ``completed_before``) in one transaction, which ``fence`` may refuse
        first (``check_leader``); the deleted records, in id order."""

        def trim(w: MemoryWriter) -> list[dict[str, Any]]:
            if fence is not None:
                fence(w)
            index = w._read("job_index")
            oldest = _page(sorted(index.values(), key=lambda e: (_nulls_low(e.completed), e.id)), 0, batch)
            excess = max(0, len(index) - keep)
            ids = sorted(
                entry.id
                for position, entry in enumerate(oldest)
                if position < excess or (completed_before is not None and (entry.completed or 0) < completed_before)
            )
            jobs = w._read("jobs")
            deleted = [_load(jobs[job_id].doc) for job_id in ids if job_id in jobs]
            for job_id in ids:
                w.delete_job(job_id)
            return deleted

        return self.transact(trim)

    def trim_activity(self, *, keep: int, epoch_before: float | None, batch: int, fence: Fence | None = None) -> int:
        """Like ``trim_jobs`` for activity records; how many were deleted."""

        def trim(w: MemoryWriter) -> int:
            if fence is not None:
                fence(w)
            table = w._read("activity")
            oldest = list(itertools.islice(table.items(), batch if batch >= 0 else None))
            excess = max(0, len(table) - keep)
            doomed = [
                (seq, row)
                for position, (seq, row) in enumerate(oldest)
                if position < excess or (epoch_before is not None and row.epoch < epoch_before)
            ]
            if doomed:
                table, ids = w._edit("activity"), w._edit("activity_ids")
                for seq, row in doomed:
                    del table[seq], ids[row.id]
            return len(doomed)

        return self.transact(trim)

    # ---- several conductors

    def job_owner(self, job_id: str) -> tuple[str | None, float | None]:
        row = self._tables["jobs"].get(job_id)
        return (row.owner, row.lease) if row is not None else (None, None)

    def adopt_orphans(self, me: str, lease_s: float, include_own: bool = True) -> list[dict[str, Any]]:
        """Claim every unfinished job that is ownerless or whose owner's lease ran out (with
        ``include_own`` also ``me``'s own), one transaction each, re-checked there; their
        records, oldest first."""
        now = self.now()
        jobs = self._tables["jobs"]
        ids = sorted(
            (job_id for job_id, row in jobs.items() if _orphaned(row, me, now, include_own)),
            key=lambda job_id: _nulls_low(jobs[job_id].started),
        )
        adopted = []
        for job_id in ids:
            with self.write() as w:
                doc = w._adopt(job_id, me, lease_s, include_own)
            if doc is not None:
                adopted.append(doc)
        return adopted

    def adopt_job(self, job_id: str, me: str, lease_s: float) -> dict[str, Any] | None:
        with self.write() as w:
            return w._adopt(job_id, me, lease_s, True)

    def transfer_job(self, job_id: str, owner: str, to: str, lease_s: float) -> bool:
        def transfer(w: MemoryWriter) -> bool:
            jobs = w._edit("jobs")
            row = jobs.get(job_id)
            if row is None or row.owner != owner or row.state == "complete":
                return False
            jobs[job_id] = replace(row, owner=to, lease=self.now() + lease_s)
            return True

        return self.transact(transfer)

    def heartbeat(self, row: dict[str, Any], job_lease_s: float) -> None:
        self.transact(lambda w: w._heartbeat(row, job_lease_s))

    def conductors(self) -> list[dict[str, Any]]:
        table = self._tables["conductors"]
        return [dict(table[conductor_id]) for conductor_id in sorted(table)]

    def claim_conductor(self, conductor_id: str) -> bool:
        return True  # one process: nobody else can hold the id

    def forget_conductor(self, conductor_id: str) -> None:
        """Drop the conductor's row and end the leases of its unfinished jobs (a clean stop)."""

        def forget(w: MemoryWriter) -> None:
            w._edit("conductors").pop(conductor_id, None)
            jobs = w._edit("jobs")
            for job_id, row in list(jobs.items()):
                if row.owner == conductor_id and row.state in ACTIVE_JOB_STATES:
                    jobs[job_id] = replace(row, lease=0.0)

        self.transact(forget)

    def acquire_leader(self, me: str, epoch: int | None, ttl_s: float) -> Lease | None:
        return self.transact(lambda w: w._acquire_leader(me, epoch, ttl_s))

    def release_leader(self, me: str, epoch: int) -> None:
        """Give the lease up at once (a clean stop)."""

        def release(w: MemoryWriter) -> None:
            row = w._read("leases").get(LEADER)
            if row is not None and row.holder == me and row.epoch == epoch:
                w._edit("leases")[LEADER] = replace(row, expires=0.0)

        self.transact(release)

    def leader(self) -> dict[str, Any] | None:
        """The leader lease row: holder, epoch, expires, acquired."""
        row = self._tables["leases"].get(LEADER)
        if row is None:
            return None
        return {"holder": row.holder, "epoch": row.epoch, "expires": row.expires, "acquired": row.acquired}

    # ---- the rest

    def announce(self, message: dict[str, Any]) -> None:
        """Nothing to send: a memory store has no other conductor to tell."""

    def watch(self, on_change: Callable[[dict[str, Any]], None], on_connect: Callable[[], None]) -> None:
        """No change feed: a memory store has no writer in another process."""

    def schema_version(self) -> int:
        """The latest schema version: what a freshly opened ``SqlStore`` reports."""
        return MIGRATIONS[-1].version

    def close(self) -> None:
        """Nothing to release; the store stays usable, as a closed ``SqlStore`` does."""


if TYPE_CHECKING:  # mypy proves the class keeps the whole contract
    _conforms: Store = MemoryStore()
