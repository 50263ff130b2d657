"""The storage contract: the one interface the engine uses to persist anything.

Definitions (events, categories, groups, servers, plugins, tags, API keys, roles, users, web
hooks) are JSON documents keyed by ``(kind, id)`` and kept in insertion order. Per-event state,
global key/value state, activity records, sessions and job records sit beside them. Every write
happens inside ``Store.write()``: the writes of one block commit together or not at all.

``update_doc`` is a compare-and-set on the stored ``revision``: two writers that both read
revision N cannot both store revision N+1; the loser gets ``StaleWrite`` and must re-read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from cronwright.store.jobquery import JobSearch

T = TypeVar("T")

DEFINITION_KINDS = (
    "events",
    "categories",
    "groups",
    "servers",
    "plugins",
    "tags",
    "api_keys",
    "roles",
    "users",
    "web_hooks",
)

ACTIVE_JOB_STATES = ("start_delay", "retry_delay", "ready", "queued", "starting", "suspended", "active", "finishing")


class StoreError(Exception):
    """The storage backend failed (connection lost, disk full, ...).

    Its message may be shown to a client: it never carries SQL text, parameters or a driver's
    message (the store logs those). The API answers it as ``db`` (503)."""


class StoreUnavailable(StoreError):
    """The database could not be reached or refused the work (after transient failures were
    retried): "Database unavailable, please retry." or, on a full disk, a message saying so."""


class DuplicateId(StoreError):
    """A document with that id already exists."""


class StaleWrite(StoreError):
    """The stored revision differs from the expected one (or the document is gone)."""


class NotLeader(StoreError):
    """A leader-only write was refused: the writer no longer holds the leader lease (fencing)."""


class LostJob(StoreError):
    """A job record was not written: another conductor owns the job now (it adopted it after this
    conductor's lease on it ran out)."""


class SchemaTooNew(StoreError):
    """The database was written by a newer Cronwright; refuse to touch it."""


@dataclass(frozen=True)
class Lease:
    """The leader lease as a conductor holds it after an acquire or renew (``Store.acquire_leader``)."""

    epoch: int
    expires: float
    #: True when this call took the lease over (a new epoch), False when it renewed it
    acquired: bool
    #: on a take-over: who held it before and when that lease ran out (None: nobody ever)
    previous_holder: str | None = None
    previous_expires: float | None = None


@dataclass(frozen=True)
class ActivityQuery:
    """Which activity records to return: every listed criterion must hold."""

    actions: tuple[str, ...] = ()  # any of these actions (empty: all)
    keywords: tuple[str, ...] = ()  # any of these keywords (empty: all)
    since: int | None = None  # epoch >= since (inclusive; None: open)
    until: int | None = None  # epoch <= until (inclusive; None: open)
    offset: int = 0
    limit: int = 1
    newest_first: bool = True


class StoreWriter(Protocol):
    def insert_doc(self, kind: str, doc: dict[str, Any]) -> None: ...
    def update_doc(self, kind: str, doc: dict[str, Any], *, expected_revision: int | None) -> None: ...
    def delete_doc(self, kind: str, doc_id: str) -> bool: ...
    def set_event_state(self, event_id: str, state: dict[str, Any]) -> None: ...
    def delete_event_state(self, event_id: str) -> None: ...
    def set_kv(self, key: str, value: Any) -> None: ...
    def insert_kv_once(self, key: str, value: Any) -> bool: ...
    def delete_kv(self, key: str) -> None: ...
    def add_activity(self, record: dict[str, Any]) -> None: ...
    def put_session(self, session: dict[str, Any]) -> None: ...
    def delete_session(self, session_id: str) -> None: ...
    def delete_user_sessions(self, username: str) -> int: ...
    def put_job(self, job: dict[str, Any]) -> None:
        """Store a job record as its owner (the store's ``owner``); raises ``LostJob`` when another
        conductor owns the job now."""
        ...

    def edit_job(self, job: dict[str, Any]) -> None:
        """Store an edit of a job record (tags, files of a finished job) whoever owns it."""
        ...

    def delete_job(self, job_id: str) -> bool: ...
    def record_fire(self, fire: dict[str, Any]) -> None: ...
    def check_leader(self, me: str, epoch: int) -> None:
        """Raise ``NotLeader`` unless ``me`` holds the leader lease with ``epoch`` (fencing: call it
        first in the transaction of every leader-only write)."""
        ...

    def lock_event(self, event_id: str) -> None:
        """Serialize admission decisions on one event until this transaction ends."""
        ...

    def jobs_of(self, event_id: str, states: tuple[str, ...]) -> list[dict[str, Any]]:
        """The stored unfinished jobs of an event in ``states`` (every conductor's), in this transaction."""
        ...

    def event_state_for_update(self, event_id: str) -> dict[str, Any]:
        """An event's state, locked until this transaction ends (read-modify-write counters)."""
        ...

    def take_count(self, name: str, limit: int, lifetime_s: float) -> bool:
        """Add one to a cluster-wide counter unless it reached ``limit`` (False)."""
        ...


class Store(Protocol):
    #: the conductor writing through this store: ``put_job`` records it as the job's owner
    owner: str | None
    #: how long a job's claim holds without a renewal, seconds
    job_lease_s: float

    def write(self) -> AbstractContextManager[StoreWriter]:
        """One transaction (committed when the block ends). Opening it is retried on transient
        failures; a failure inside the block raises ``StoreError`` (the block cannot be re-run)."""
        ...

    def transact(self, work: Callable[[StoreWriter], T]) -> T:
        """Run ``work`` in one transaction; on a transient failure (dropped connection, lock
        timeout) the whole transaction is re-run, so ``work`` must do nothing but store writes,
        and they should be idempotent (upserts): a commit whose answer was lost may have landed."""
        ...

    def load_docs(self, kind: str) -> list[dict[str, Any]]: ...
    def get_doc(self, kind: str, doc_id: str) -> dict[str, Any] | None: ...
    def get_event_state(self, event_id: str) -> dict[str, Any]: ...
    def load_event_states(self) -> dict[str, dict[str, Any]]: ...
    def event_states(self, event_ids: list[str]) -> dict[str, dict[str, Any]]: ...
    def get_kv(self, key: str) -> Any | None: ...
    def kv_with_prefix(self, prefix: str) -> dict[str, Any]:
        """Every global value whose key starts with ``prefix`` (e.g. pending ``abort:`` requests)."""
        ...

    def search_activity(self, query: ActivityQuery) -> tuple[list[dict[str, Any]], int]: ...
    def get_session(self, session_id: str) -> dict[str, Any] | None: ...
    def purge_sessions(self, before_epoch: float) -> int: ...
    def get_job(self, job_id: str) -> dict[str, Any] | None: ...
    def unfinished_jobs(self, owner: str | None = None, *, exclude_owner: str | None = None) -> list[dict[str, Any]]:
        """Unfinished job records, oldest first: all, those of ``owner``, or those not of ``exclude_owner``."""
        ...

    def job_owner(self, job_id: str) -> tuple[str | None, float | None]:
        """Who owns a job and until when its lease holds."""
        ...

    def adopt_orphans(self, me: str, lease_s: float, include_own: bool = True) -> list[dict[str, Any]]:
        """Claim every unfinished job whose owner's lease ran out (and, with ``include_own``, those
        owned by ``me`` from an earlier process); their records."""
        ...

    def adopt_job(self, job_id: str, me: str, lease_s: float) -> dict[str, Any] | None:
        """Claim one unfinished job that is ownerless, whose owner's lease ran out, or that is
        ``me``'s already; its record, None when another live conductor owns it or it finished."""
        ...

    def transfer_job(self, job_id: str, owner: str, to: str, lease_s: float) -> bool:
        """Hand an unfinished job ``owner`` holds to conductor ``to`` (the lease renewed for it);
        False when ``owner`` no longer holds it."""
        ...

    def claim_conductor(self, conductor_id: str) -> bool:
        """Hold ``conductor_id`` for this process's life; False when another live process holds it
        (stores without other writers always answer True)."""
        ...

    def heartbeat(self, row: dict[str, Any], job_lease_s: float) -> None:
        """Renew this conductor's row (``id``, ``address``, ``version``, ``started``, ``instance``)
        and the leases of the jobs it owns."""
        ...

    def conductors(self) -> list[dict[str, Any]]: ...
    def forget_conductor(self, conductor_id: str) -> None:
        """Drop the conductor's row and end the leases of its unfinished jobs (a clean stop)."""
        ...

    def acquire_leader(self, me: str, epoch: int | None, ttl_s: float) -> Lease | None:
        """Renew or take over the leader lease, or None while another conductor holds it."""
        ...

    def release_leader(self, me: str, epoch: int) -> None: ...
    def leader(self) -> dict[str, Any] | None:
        """The leader lease row: holder, epoch, expires, acquired."""
        ...

    def fires_of(self, event_id: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]: ...
    def event_history(self, event_id: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]: ...
    def delete_event_jobs(self, event_id: str, batch: int = 500) -> Iterator[list[str]]: ...
    def search_jobs(self, search: JobSearch) -> tuple[list[dict[str, Any]], int]:
        """Stored final job records matching ``search`` (answered from the history index, which
        ``put_job`` keeps in step with each record) in sort order, paged, and the match count."""
        ...

    def trim_jobs(
        self,
        *,
        keep: int,
        completed_before: float | None,
        batch: int,
        fence: Callable[[StoreWriter], None] | None = None,
    ) -> list[dict[str, Any]]: ...
    def trim_activity(
        self,
        *,
        keep: int,
        epoch_before: float | None,
        batch: int,
        fence: Callable[[StoreWriter], None] | None = None,
    ) -> int: ...
    def schema_version(self) -> int: ...
    def announce(self, message: dict[str, Any]) -> None:
        """Send ``message`` to the other conductors' change feeds (nothing without other writers)."""
        ...

    def watch(self, on_change: Callable[[dict[str, Any]], None], on_connect: Callable[[], None]) -> Any:
        """A change feed of the other conductors' writes (``start()``/``stop()``), or None when the
        store has no other writer (SQLite, memory)."""
        ...

    def close(self) -> None: ...
