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


class SchemaTooNew(StoreError):
    """The database was written by a newer Cronwright; refuse to touch it."""


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
    def add_activity(self, record: dict[str, Any]) -> None: ...
    def put_session(self, session: dict[str, Any]) -> None: ...
    def delete_session(self, session_id: str) -> None: ...
    def delete_user_sessions(self, username: str) -> int: ...
    def put_job(self, job: dict[str, Any]) -> None: ...
    def delete_job(self, job_id: str) -> bool: ...
    def record_fire(self, fire: dict[str, Any]) -> None: ...


class Store(Protocol):
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
    def search_activity(self, query: ActivityQuery) -> tuple[list[dict[str, Any]], int]: ...
    def get_session(self, session_id: str) -> dict[str, Any] | None: ...
    def purge_sessions(self, before_epoch: float) -> int: ...
    def get_job(self, job_id: str) -> dict[str, Any] | None: ...
    def unfinished_jobs(self) -> list[dict[str, Any]]: ...
    def fires_of(self, event_id: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]: ...
    def event_history(self, event_id: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]: ...
    def delete_event_jobs(self, event_id: str, batch: int = 500) -> Iterator[list[str]]: ...
    def search_jobs(self, search: JobSearch) -> tuple[list[dict[str, Any]], int]:
        """Stored final job records matching ``search`` (answered from the history index, which
        ``put_job`` keeps in step with each record) in sort order, paged, and the match count."""
        ...

    def trim_jobs(self, *, keep: int, completed_before: float | None, batch: int) -> list[dict[str, Any]]: ...
    def trim_activity(self, *, keep: int, epoch_before: float | None, batch: int) -> int: ...
    def schema_version(self) -> int: ...
    def close(self) -> None: ...
