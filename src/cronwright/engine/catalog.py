"""The in-memory cache of every definition, written through to the store.

Reads (``catalog["events"].get(id)``) never touch the database. Writes go through
``catalog.transaction()``: the store commits first and only then does the cache change, so the
cache never shows a write the database does not hold. Cached documents are shared: callers must
treat them as read-only and build a new document for every change (updates are shallow merges, so
a shallow copy with the changed keys replaced is enough).

Each document's JSON encoding is cached too, so listing 10,000 events is a join of bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cronwright import jsonutil
from cronwright.store.base import DEFINITION_KINDS, Store, StoreWriter


class Collection:
    """The cached documents of one kind, in stored order."""

    def __init__(self, kind: str, docs: list[dict[str, Any]]) -> None:
        self.kind = kind
        self._docs: dict[str, dict[str, Any]] = {}
        self._json: dict[str, bytes] = {}
        self._reset(docs)

    def _reset(self, docs: list[dict[str, Any]]) -> None:
        self._docs = {doc["id"]: doc for doc in docs}
        self._json = {}

    def get(self, doc_id: Any) -> dict[str, Any] | None:
        return self._docs.get(doc_id) if isinstance(doc_id, str) else None

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._docs

    def __len__(self) -> int:
        return len(self._docs)

    def values(self) -> list[dict[str, Any]]:
        return list(self._docs.values())

    def json(self, doc_id: str) -> bytes:
        """The JSON encoding of one cached document."""
        data = self._json.get(doc_id)
        if data is None:
            # copied to an exact-size object: orjson's result keeps its whole working buffer
            # (about 8 KB) allocated, which would cost ~80 MB for 10,000 cached events
            data = self._json[doc_id] = bytes(memoryview(jsonutil.dumps(self._docs[doc_id])))
        return data

    def _put(self, doc: dict[str, Any]) -> None:
        self._docs[doc["id"]] = doc
        self._json.pop(doc["id"], None)

    def _remove(self, doc_id: str) -> None:
        self._docs.pop(doc_id, None)
        self._json.pop(doc_id, None)


class Transaction:
    """Writes of one store transaction; cache changes are applied after the commit."""

    def __init__(self, writer: StoreWriter) -> None:
        self.writer = writer
        #: cache changes in commit order: (kind, doc) to put or (kind, id) to remove
        self.changes: list[tuple[str, dict[str, Any] | str]] = []

    def insert(self, kind: str, doc: dict[str, Any]) -> None:
        self.writer.insert_doc(kind, doc)
        self.changes.append((kind, doc))

    def update(self, kind: str, doc: dict[str, Any], *, expected_revision: int | None) -> None:
        self.writer.update_doc(kind, doc, expected_revision=expected_revision)
        self.changes.append((kind, doc))

    def delete(self, kind: str, doc_id: str) -> None:
        self.writer.delete_doc(kind, doc_id)
        self.changes.append((kind, doc_id))


class Catalog:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._collections = {kind: Collection(kind, store.load_docs(kind)) for kind in DEFINITION_KINDS}

    def __getitem__(self, kind: str) -> Collection:
        return self._collections[kind]

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self.store.write() as writer:
            tx = Transaction(writer)
            yield tx
        for kind, change in tx.changes:
            if isinstance(change, str):
                self._collections[kind]._remove(change)
            else:
                self._collections[kind]._put(change)

    def reload(self, kind: str) -> None:
        """Re-read a whole kind from the store (picks up writes of other processes, e.g. the CLI)."""
        self._collections[kind]._reset(self.store.load_docs(kind))

    def refresh(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        """Re-read one document from the store (after a ``StaleWrite``)."""
        doc = self.store.get_doc(kind, doc_id)
        if doc is None:
            self._collections[kind]._remove(doc_id)
        else:
            self._collections[kind]._put(doc)
        return doc
