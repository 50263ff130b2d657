"""Several conductors on one database: the conductor list, the leader lease, job ownership,
admission counts and cluster-wide counters (docs/ha.md).

Times are wall-clock seconds (``time.time()`` of the writing host): conductors must keep their
clocks in step (NTP); a skew eats into the lease margins. Every function runs on a connection
inside the caller's transaction, so what it decides commits together with what it writes. On
PostgreSQL the rows decided on are locked (``FOR UPDATE``, advisory transaction locks); on SQLite
the whole database is (``BEGIN IMMEDIATE``), and a second conductor on one file is refused.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cronwright import jsonutil
from cronwright.store.base import ACTIVE_JOB_STATES, Lease, NotLeader
from cronwright.store.sql import tables

LEADER = "leader"
#: a conductor without a heartbeat for this long is dropped from the list, seconds
FORGET_AFTER_S = 3600.0


def _is_pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def heartbeat(conn: Connection, row: dict[str, Any], now: float, job_lease_s: float) -> None:
    """Upsert this conductor's row and extend the leases of the jobs it owns."""
    t = tables.conductors
    changed = conn.execute(update(t).where(t.c.id == row["id"]).values(**row, heartbeat=now)).rowcount
    if not changed:
        conn.execute(insert(t).values(**row, heartbeat=now))
    conn.execute(delete(t).where(t.c.heartbeat < now - FORGET_AFTER_S))  # long gone (killed, never stopped)
    j = tables.jobs
    conn.execute(
        update(j).where(j.c.owner == row["id"], j.c.state.in_(ACTIVE_JOB_STATES)).values(lease=now + job_lease_s)
    )


def conductors(conn: Connection) -> list[dict[str, Any]]:
    t = tables.conductors
    rows = conn.execute(select(t).order_by(t.c.id)).mappings()
    return [{str(k): v for k, v in r.items()} for r in rows]


def forget_conductor(conn: Connection, conductor_id: str) -> None:
    """Drop the conductor's row and end the leases of its unfinished jobs (a clean stop: the
    leader adopts its waiting jobs at once)."""
    conn.execute(delete(tables.conductors).where(tables.conductors.c.id == conductor_id))
    j = tables.jobs
    conn.execute(update(j).where(j.c.owner == conductor_id, j.c.state.in_(ACTIVE_JOB_STATES)).values(lease=0.0))


def leader_row(conn: Connection, *, lock: bool = False) -> Any:
    t = tables.leases
    query = select(t).where(t.c.name == LEADER)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).first()


def acquire_leader(conn: Connection, me: str, epoch: int | None, now: float, ttl_s: float) -> Lease | None:
    """Renew the lease (``epoch`` is the one this conductor holds) or take it over when it is
    free, expired, or held by this conductor's id from an earlier process (``epoch`` None: the
    conductor id is held by one live process at a time, see ``Cluster``). None: another holds it."""
    t = tables.leases
    row = leader_row(conn, lock=True)
    if row is None:  # the first conductor ever; several may start at once: one insert wins
        dialect_insert = pg_insert if _is_pg(conn) else sqlite_insert
        created = conn.execute(
            dialect_insert(t)
            .values(name=LEADER, holder=me, epoch=1, expires=now + ttl_s, acquired=now)
            .on_conflict_do_nothing(index_elements=[t.c.name])
            .returning(t.c.epoch)
        ).first()
        if created is not None:
            return Lease(1, now + ttl_s, acquired=True)
        row = leader_row(conn, lock=True)
        if row is None:
            return None
    if row.holder == me and epoch is not None and row.epoch == epoch and row.expires > now:
        conn.execute(update(t).where(t.c.name == LEADER).values(expires=now + ttl_s))
        return Lease(epoch, now + ttl_s, acquired=False)
    if row.expires <= now or (row.holder == me and epoch is None):
        new_epoch = int(row.epoch) + 1
        conn.execute(
            update(t).where(t.c.name == LEADER).values(holder=me, epoch=new_epoch, expires=now + ttl_s, acquired=now)
        )
        return Lease(new_epoch, now + ttl_s, acquired=True, previous_holder=row.holder, previous_expires=row.expires)
    return None


def release_leader(conn: Connection, me: str, epoch: int) -> None:
    """Give the lease up at once (a clean stop), so another conductor need not wait for it to expire."""
    t = tables.leases
    conn.execute(update(t).where(t.c.name == LEADER, t.c.holder == me, t.c.epoch == epoch).values(expires=0.0))


def check_leader(conn: Connection, me: str, epoch: int, now: float) -> None:
    """Raise ``NotLeader`` unless ``me`` holds the lease with ``epoch`` and it has not run out. On
    PostgreSQL the row is share-locked until the transaction ends, so a take-over waits for this
    transaction: a write it guards commits only while its writer leads."""
    t = tables.leases
    query = select(t).where(t.c.name == LEADER)
    if _is_pg(conn):
        query = query.with_for_update(read=True)
    row = conn.execute(query).first()
    if row is None or row.holder != me or int(row.epoch) != epoch or row.expires <= now:
        raise NotLeader(f"conductor {me} no longer holds leader epoch {epoch}")


#: the longest a transaction waits for an event's lock before failing (transiently, so retried):
#: admission holds it for milliseconds, so a longer wait means something is wrong, and the caller
#: must not hang on it
LOCK_TIMEOUT = "2s"


def advisory_key(purpose: str, name: str) -> int:
    """A 64-bit PostgreSQL advisory-lock key for ``name`` within ``purpose``: a cryptographic hash,
    so no caller can choose an id (an event id, say) whose lock collides with another lock."""
    return int.from_bytes(hashlib.sha256(f"cronwright\0{purpose}\0{name}".encode()).digest()[:8], "big", signed=True)


def lock_event(conn: Connection, event_id: str, purpose: str = "event") -> None:
    """Serialize admission decisions on one event until the transaction ends (PostgreSQL: an
    advisory transaction lock, waited for at most ``LOCK_TIMEOUT``; SQLite holds the database
    write lock already)."""
    if _is_pg(conn):
        conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": advisory_key(purpose, event_id)})


def count_jobs(conn: Connection, event_id: str, states: tuple[str, ...], exclude: str | None = None) -> int:
    j = tables.jobs
    where = [j.c.event == event_id, j.c.state.in_(states)]
    if exclude is not None:
        where.append(j.c.id != exclude)
    return int(conn.execute(select(func.count()).select_from(j).where(*where)).scalar_one())


def job_states(conn: Connection, event_id: str, states: tuple[str, ...]) -> list[dict[str, Any]]:
    """The unfinished jobs of one event in ``states``, with the fields queue order needs."""
    j = tables.jobs
    rows = conn.execute(select(j.c.doc).where(j.c.event == event_id, j.c.state.in_(states))).scalars()
    return [jsonutil.loads(doc) for doc in rows]


def _orphan(me: str, now: float, include_own: bool) -> Any:
    j = tables.jobs
    free = or_(j.c.owner.is_(None), j.c.lease.is_(None), j.c.lease < now)
    return and_(j.c.state.in_(ACTIVE_JOB_STATES), or_(j.c.owner == me, free) if include_own else free)


def orphaned_jobs(conn: Connection, me: str, now: float, include_own: bool) -> list[str]:
    """Unfinished jobs this conductor may adopt: those whose owner's lease ran out (or that never
    had an owner) and, with ``include_own`` (at start), its own from an earlier process."""
    j = tables.jobs
    return list(conn.execute(select(j.c.id).where(_orphan(me, now, include_own)).order_by(j.c.started)).scalars())


def adopt_job(
    conn: Connection, job_id: str, me: str, now: float, lease_s: float, include_own: bool
) -> dict[str, Any] | None:
    """Claim one orphaned job (the test of ``orphaned_jobs``, applied atomically); its record, or
    None when another conductor claimed it first or it finished."""
    j = tables.jobs
    claimed = conn.execute(
        update(j).where(j.c.id == job_id, _orphan(me, now, include_own)).values(owner=me, lease=now + lease_s)
    ).rowcount
    if not claimed:
        return None
    doc = conn.execute(select(j.c.doc).where(j.c.id == job_id)).scalar()
    return jsonutil.loads(doc) if doc is not None else None


def transfer_job(conn: Connection, job_id: str, owner: str, to: str, now: float, lease_s: float) -> bool:
    """Hand an unfinished job from ``owner`` to ``to``; False when ``owner`` does not hold it."""
    j = tables.jobs
    moved = conn.execute(
        update(j)
        .where(j.c.id == job_id, j.c.owner == owner, j.c.state.in_(ACTIVE_JOB_STATES))
        .values(owner=to, lease=now + lease_s)
    ).rowcount
    return bool(moved)


def job_owner(conn: Connection, job_id: str) -> tuple[str | None, float | None]:
    j = tables.jobs
    row = conn.execute(select(j.c.owner, j.c.lease).where(j.c.id == job_id)).first()
    return (row.owner, row.lease) if row is not None else (None, None)


def take_count(conn: Connection, name: str, limit: int, now: float, lifetime_s: float) -> bool:
    """Add one to counter ``name`` unless it reached ``limit``; False when it had. The counter
    starts at 1 with its first use and is dropped ``lifetime_s`` after it. One upsert: the row is
    created, or incremented while below the limit (the database locks it meanwhile)."""
    t = tables.counters
    conn.execute(delete(t).where(t.c.expires < now - 3600))  # keep the table small
    dialect_insert = pg_insert if _is_pg(conn) else sqlite_insert
    stmt = (
        dialect_insert(t)
        .values(name=name, value=1, expires=now + lifetime_s)
        .on_conflict_do_update(index_elements=[t.c.name], set_={"value": t.c.value + 1}, where=t.c.value < limit)
        .returning(t.c.value)
    )
    return conn.execute(stmt).first() is not None
