"""Creating API keys: the plain key is generated here, stored only as a hash, and returned once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cronwright.engine.activity import Origin
from cronwright.engine.auth import hash_api_key, mask_key, new_plain_key
from cronwright.engine.entities import EntityService
from cronwright.engine.identity import Identity
from cronwright.engine.kinds import API_KEYS


def create_api_key(
    entities: EntityService, params: dict[str, Any], authenticate: Callable[[], Identity], origin: Origin
) -> tuple[dict[str, Any], str]:
    """Store a new key (always with a generated id); returns (record, plain key)."""
    plain = new_plain_key()

    def prepare(doc: dict[str, Any]) -> None:
        doc["key"], doc["mask"] = hash_api_key(plain, doc["id"]), mask_key(plain)

    doc = entities.create(API_KEYS, params, authenticate, origin, generated_id=True, prepare=prepare)
    return doc, plain
