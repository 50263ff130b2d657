"""The catalog seen through the validation layer's ``Lookup`` protocol."""

from __future__ import annotations

from typing import Any

from cronwright.engine.catalog import Catalog


class CatalogLookup:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def get_category(self, doc_id: Any) -> dict[str, Any] | None:
        return self._catalog["categories"].get(doc_id)

    def get_plugin(self, doc_id: Any) -> dict[str, Any] | None:
        return self._catalog["plugins"].get(doc_id)

    def get_tag(self, doc_id: Any) -> dict[str, Any] | None:
        return self._catalog["tags"].get(doc_id)

    def get_event(self, doc_id: Any) -> dict[str, Any] | None:
        return self._catalog["events"].get(doc_id)
