"""The read-only view of stored entities that validation needs, and an in-memory implementation.

Validation never touches a store: callers hand it a ``Lookup`` (the engine adapts its store to it;
tests use ``DictLookup``). Records are the plain JSON dicts as stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

Record = dict[str, Any]


class Lookup(Protocol):
    """Find categories, plugins, tags and events by id; ``None`` when there is no such record."""

    def get_category(self, id: Any) -> Record | None: ...

    def get_plugin(self, id: Any) -> Record | None: ...

    def get_tag(self, id: Any) -> Record | None: ...

    def get_event(self, id: Any) -> Record | None: ...


@dataclass(frozen=True)
class DictLookup:
    """A ``Lookup`` over plain ``id → record`` mappings (for tests and fixtures)."""

    categories: Mapping[str, Record] = field(default_factory=dict)
    plugins: Mapping[str, Record] = field(default_factory=dict)
    tags: Mapping[str, Record] = field(default_factory=dict)
    events: Mapping[str, Record] = field(default_factory=dict)

    def get_category(self, id: Any) -> Record | None:
        return _get(self.categories, id)

    def get_plugin(self, id: Any) -> Record | None:
        return _get(self.plugins, id)

    def get_tag(self, id: Any) -> Record | None:
        return _get(self.tags, id)

    def get_event(self, id: Any) -> Record | None:
        return _get(self.events, id)


def _get(records: Mapping[str, Record], ident: object) -> Record | None:
    return records.get(ident) if isinstance(ident, str) else None
