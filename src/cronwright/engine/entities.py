"""Create, read, update and delete for the supporting entities (supporting-apis.md, common pattern).

Categories, groups, plugins, tags, roles and API keys share one flow; a ``Kind`` describes what
differs (id prefix, error code, privileges, scope, defaults, field validation, side effects).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from cronwright.clock import Clock
from cronwright.engine import activity
from cronwright.engine.activity import Origin
from cronwright.engine.catalog import Catalog, Transaction
from cronwright.engine.common import SERVER_SET_KEYS
from cronwright.engine.identity import Identity
from cronwright.engine.permits import Permits
from cronwright.engine.validation import ID_RE, require_params, strip_html_fields
from cronwright.errors import Conflict, NotFound, api_error
from cronwright.ids import generate_id
from cronwright.store.base import StaleWrite

Authenticate = Callable[[], Identity]
#: (document after the change, catalog, creating?) → raises ``CwError`` when invalid
Validator = Callable[[dict[str, Any], Catalog, bool], None]
#: (permits, caller, document after the change or None when deleting, document before or None when
#: creating) → raises ``access`` when the caller may not make this change (may adjust "after")
Authorizer = Callable[[Permits, Identity, dict[str, Any] | None, dict[str, Any] | None], None]


@dataclass(frozen=True)
class Kind:
    kind: str  # store kind, e.g. "categories"
    one: str  # singular, e.g. "category" (endpoint names, response key)
    many: str  # plural, e.g. "categories"
    title: str  # capitalized, e.g. "Category" ("That Category ID already exists")
    noun: str  # the word of not-found messages, e.g. "category", "web hook" (xyOps: lower case but "API Key")
    prefix: str  # generated id prefix
    code: str  # error code of entity failures
    activity: str  # activity action prefix, e.g. "category" → category_create
    privileges: tuple[str, str, str] | None  # create, edit, delete; None = administrators only
    scope: Literal["category", "group"] | None = None
    required: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    sort_order: bool = False
    validate: Validator | None = None
    #: fields a client never sets (besides id and the server-set ones)
    immutable: tuple[str, ...] = ()
    #: update answers ``{code:0, <one>: doc}`` (xyOps does so for plugins only)
    update_returns_doc: bool = False
    #: unknown id on update answers this code with "<title> not found: ID" instead of the storage
    #: miss "Failed to update <noun>: Error: Item not found" (xyOps: plugins answer ``api``)
    update_missing_code: str | None = None
    #: what a create with a taken id answers before "ID already exists: ID" (xyOps: tags drop "That")
    duplicate_prefix: str = "That "
    #: raises when the document may not be deleted (e.g. a category still in use)
    delete_check: Callable[[dict[str, Any], Catalog], None] | None = None
    newest_first: bool = False
    #: what the caller may set beyond the privilege (roles: no escalation; categories: actions)
    authorize: Authorizer | None = None
    #: how a document is shown to a caller (e.g. web hook secrets masked); None = as stored
    present: Callable[[dict[str, Any], Identity], dict[str, Any]] | None = None


class EntityService:
    """The shared CRUD flow; ``on_change(kind)`` runs after every committed change."""

    def __init__(
        self,
        catalog: Catalog,
        clock: Clock,
        on_change: Callable[[Kind], None] | None = None,
        permits: Permits | None = None,
    ) -> None:
        self._catalog = catalog
        self._clock = clock
        self._on_change = on_change or (lambda kind: None)
        self._permits = permits or Permits(catalog, clock.now)

    # reading

    def visible(self, kind: Kind, who: Identity) -> list[dict[str, Any]]:
        self._require_read(kind, who)
        docs = self._catalog[kind.kind].values()
        if kind.scope == "category":
            docs = [d for d in docs if who.can_category(d["id"])]
        elif kind.scope == "group":
            docs = [d for d in docs if who.can_group(d["id"])]
        if kind.present is not None:
            present = kind.present
            docs = [present(d, who) for d in docs]
        return docs[::-1] if kind.newest_first else docs

    def get(self, kind: Kind, params: dict[str, Any], authenticate: Authenticate) -> dict[str, Any]:
        require_params(params, {"id": ID_RE})
        who = authenticate()
        self._require_read(kind, who)
        doc = self._catalog[kind.kind].get(params["id"])
        if doc is None:
            raise NotFound("notfound", f"Failed to locate {kind.noun}: {params['id']}")
        self._require_scope(kind, who, doc["id"])
        return kind.present(doc, who) if kind.present is not None else doc

    # writing

    def create(
        self,
        kind: Kind,
        params: dict[str, Any],
        authenticate: Authenticate,
        origin: Origin,
        *,
        generated_id: bool = False,
        prepare: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        doc = dict(params)
        _drop(doc, SERVER_SET_KEYS + kind.immutable + ("revision",))
        if generated_id or "id" not in doc:
            doc["id"] = generate_id(kind.prefix)
        require_params(doc, {"id": ID_RE, "title": r"\S", **kind.required})
        strip_html_fields(doc)
        for key, value in kind.defaults.items():
            doc.setdefault(key, copy.deepcopy(value))
        if kind.validate:
            kind.validate(doc, self._catalog, True)
        who = authenticate()
        self._require(kind, who, 0)
        self._require_scope(kind, who, doc["id"])
        collection = self._catalog[kind.kind]
        if doc["id"] in collection:
            raise Conflict(kind.code, f"{kind.duplicate_prefix}{kind.title} ID already exists: {doc['id']}")
        if kind.authorize:
            kind.authorize(self._permits, who, doc, None)
        if kind.sort_order:
            doc["sort_order"] = 1 + max((_number(d.get("sort_order")) for d in collection.values()), default=-1)
        if prepare:
            prepare(doc)
        now = int(self._clock.now())
        doc.update(username=who.username, created=now, modified=now, revision=1)
        with self._catalog.transaction() as tx:
            tx.insert(kind.kind, doc)
            self._record(tx, kind, "create", doc, who, origin, now)
        self._on_change(kind)
        return doc

    def update(self, kind: Kind, params: dict[str, Any], authenticate: Authenticate, origin: Origin) -> dict[str, Any]:
        require_params(params, {"id": ID_RE})
        request = dict(params)
        _drop(request, SERVER_SET_KEYS + kind.immutable + ("revision",))
        strip_html_fields(request)
        who = authenticate()
        self._require(kind, who, 1)
        for attempt in range(3):
            current = self._find(kind, request["id"], "update")
            self._require_scope(kind, who, current["id"])
            merged = {**current, **request}
            require_params(merged, {"title": r"\S", **kind.required})
            if kind.validate:
                kind.validate(merged, self._catalog, False)
            if kind.authorize:
                kind.authorize(self._permits, who, merged, current)
            now = int(self._clock.now())
            merged.update(modified=now, revision=_number(current.get("revision")) + 1)
            try:
                with self._catalog.transaction() as tx:
                    tx.update(kind.kind, merged, expected_revision=current.get("revision"))
                    self._record(tx, kind, "update", merged, who, origin, now)
            except StaleWrite:
                if attempt == 2:
                    raise Conflict(kind.code, f"{kind.title} was changed concurrently, please retry.") from None
                self._catalog.refresh(kind.kind, request["id"])
                continue
            self._on_change(kind)
            return merged
        raise AssertionError("unreachable")

    def delete(self, kind: Kind, params: dict[str, Any], authenticate: Authenticate, origin: Origin) -> dict[str, Any]:
        require_params(params, {"id": ID_RE})
        who = authenticate()
        self._require(kind, who, 2)
        doc = self._find(kind, params["id"], "delete")
        self._require_scope(kind, who, doc["id"])
        if kind.delete_check:
            kind.delete_check(doc, self._catalog)
        if kind.authorize:
            kind.authorize(self._permits, who, None, doc)
        now = int(self._clock.now())
        with self._catalog.transaction() as tx:
            tx.delete(kind.kind, doc["id"])
            self._record(tx, kind, "delete", doc, who, origin, now)
        self._on_change(kind)
        return doc

    # checks

    def _find(self, kind: Kind, doc_id: str, verb: Literal["update", "delete"]) -> dict[str, Any]:
        doc = self._catalog[kind.kind].get(doc_id)
        if doc is None:
            raise missing_error(kind, verb, doc_id)
        return doc

    def _require(self, kind: Kind, who: Identity, which: int) -> None:
        if kind.privileges is None:
            who.require_admin()
        else:
            who.require(kind.privileges[which])

    def _require_read(self, kind: Kind, who: Identity) -> None:
        if kind.privileges is None:
            who.require_admin()

    def _require_scope(self, kind: Kind, who: Identity, doc_id: str) -> None:
        if kind.scope == "category":
            who.require_category(doc_id)
        elif kind.scope == "group":
            who.require_group(doc_id)

    def _record(
        self, tx: Transaction, kind: Kind, verb: str, doc: dict[str, Any], who: Identity, origin: Origin, now: int
    ) -> None:
        snapshot = {k: v for k, v in doc.items() if k not in ("key", "password")}
        activity.record(
            tx.writer,
            f"{kind.activity}_{verb}",
            epoch=now,
            description=str(doc.get("title") or doc["id"]),
            who=who,
            origin=origin,
            keywords=[doc["id"]],
            **{kind.one: snapshot},
        )


#: the storage error xyOps appends when a list has no item with the id (``<err>`` of sdk-wire.md §5)
ITEM_NOT_FOUND = "Error: Item not found"


def missing_error(kind: Kind, verb: Literal["update", "delete"], doc_id: str) -> NotFound:
    """xyOps' answer to an update or delete of an unknown id (sdk-wire.md §5.1):
    ``<code>`` "Failed to update category: Error: Item not found", or for plugin updates
    ``api`` "Plugin not found: ID"."""
    if verb == "update" and kind.update_missing_code:
        return NotFound(kind.update_missing_code, f"{kind.title} not found: {doc_id}")
    return NotFound(kind.code, f"Failed to {verb} {kind.noun}: {ITEM_NOT_FOUND}")


def _drop(doc: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        doc.pop(key, None)


def _number(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def invalid(field_name: str, why: str) -> Exception:
    return api_error(f"Malformed parameter: {field_name} ({why})")
