"""`multi_update_category` / `multi_update_group`: reordering in one call, and list order by `sort_order`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import make_key, uid
from tests.support.server import Api

KINDS = [
    ("category", "categories", {}),
    ("group", "groups", {"hostname_match": "^nothing$"}),
]


def create_many(api: Api, one: str, extra: dict[str, Any], count: int) -> list[dict[str, Any]]:
    return [api.ok(f"create_{one}", {"id": uid(one[:3]), "title": f"{one} {i}", **extra})[one] for i in range(count)]


def order_of(api: Api, many: str, ids: list[str]) -> list[str]:
    """The given ids in the order `get_<many>` lists them."""
    return [d["id"] for d in api.ok(f"get_{many}")["rows"] if d["id"] in ids]


@pytest.mark.parametrize(("one", "many", "extra"), KINDS)
def test_reorder_shows_in_list_order(api: Api, one: str, many: str, extra: dict[str, Any]) -> None:
    """New `sort_order` values change the list order; changed records get `modified` and `revision+1`."""
    docs = create_many(api, one, extra, 3)
    ids = [d["id"] for d in docs]
    assert order_of(api, many, ids) == ids
    items = [
        {"id": ids[0], "sort_order": -1000},
        {"id": ids[1], "sort_order": -3000},
        {"id": ids[2], "sort_order": -2000},
    ]
    api.ok(f"multi_update_{one}", {"items": items})
    assert order_of(api, many, ids) == [ids[1], ids[2], ids[0]]
    for doc in docs:
        stored = api.ok(f"get_{one}", {"id": doc["id"]})[one]
        assert stored["revision"] == 2 and stored["modified"] >= doc["modified"] and stored["title"] == doc["title"]
    rows = api.ok("search_activity", {"query": f"action:{one}_multi_update keywords:{ids[0]}", "limit": 5})["rows"]
    assert len(rows) == 1 and rows[0]["updated"] == ["sort_order"] and set(ids) <= set(rows[0]["keywords"])


def test_unchanged_records_keep_revision(api: Api) -> None:
    """An item whose values equal the stored ones leaves that record untouched."""
    first, second = create_many(api, "category", {}, 2)
    items = [{"id": first["id"], "sort_order": first["sort_order"]}, {"id": second["id"], "sort_order": -5000}]
    api.ok("multi_update_category", {"items": items})
    assert api.ok("get_category", {"id": first["id"]})["category"]["revision"] == 1
    assert api.ok("get_category", {"id": second["id"]})["category"]["revision"] == 2


def test_ties_keep_stored_order(api: Api) -> None:
    """Records with equal `sort_order` list in stored (creation) order."""
    docs = create_many(api, "category", {}, 3)
    ids = [d["id"] for d in docs]
    api.ok("multi_update_category", {"items": [{"id": i, "sort_order": -7000} for i in reversed(ids)]})
    assert order_of(api, "categories", ids) == ids


def test_category_enabled_via_multi_update(api: Api) -> None:
    """Categories also accept `enabled` in items."""
    (doc,) = create_many(api, "category", {}, 1)
    api.ok("multi_update_category", {"items": [{"id": doc["id"], "enabled": False}]})
    assert api.ok("get_category", {"id": doc["id"]})["category"]["enabled"] is False


@pytest.mark.parametrize(("one", "many", "extra"), KINDS)
def test_unknown_id_changes_nothing(api: Api, one: str, many: str, extra: dict[str, Any]) -> None:
    """An unknown id is a `<entity>` 404 error and no listed record changes (one transaction)."""
    (doc,) = create_many(api, one, extra, 1)
    items = [{"id": doc["id"], "sort_order": -9000}, {"id": "no_such_thing", "sort_order": 1}]
    status, code, desc = api.error(f"multi_update_{one}", {"items": items})
    assert (status, code) == (404, one) and desc.endswith("not found: no_such_thing")
    stored = api.ok(f"get_{one}", {"id": doc["id"]})[one]
    assert stored["revision"] == 1 and stored["sort_order"] == doc["sort_order"]


@pytest.mark.parametrize(
    ("one", "items", "needle"),
    [
        ("category", [{"id": "general", "title": "Renamed"}], "title"),
        ("group", [{"id": "main", "enabled": False}], "enabled"),
        ("group", [{"id": "main", "hostname_match": "x"}], "hostname_match"),
        ("category", [{"id": "general", "sort_order": "first"}], "sort_order"),
        ("category", [{"id": "general", "enabled": "yes"}], "enabled"),
        ("category", [{"sort_order": 1}], "id"),
        ("category", ["general"], "items[0]"),
        ("category", [], "items"),
        ("category", None, "items"),
        ("group", "main", "items"),
    ],
)
def test_bad_items_are_api_errors(api: Api, one: str, items: Any, needle: str) -> None:
    """Keys other than the allowed ones, bad values and a missing or empty `items` are `api` 400 errors."""
    params = {} if items is None else {"items": items}
    status, code, desc = api.error(f"multi_update_{one}", params)
    assert (status, code) == (400, "api") and needle in desc


@pytest.mark.parametrize(("one", "many", "extra"), KINDS)
def test_privileges(api: Api, one: str, many: str, extra: dict[str, Any]) -> None:
    """`edit_<many>` is required, and a caller restricted to some of them may not reorder (`access`)."""
    (doc,) = create_many(api, one, extra, 1)
    params = {"items": [{"id": doc["id"], "sort_order": -100}]}
    creator, _ = make_key(api, {f"create_{many}": True})
    assert creator.error(f"multi_update_{one}", params)[:2] == (403, "access")
    limited, _ = make_key(api, {f"edit_{many}": True}, **{many: [doc["id"]]})
    assert limited.error(f"multi_update_{one}", params)[:2] == (403, "access")
    editor, _ = make_key(api, {f"edit_{many}": True})
    editor.ok(f"multi_update_{one}", params)
    assert api.ok(f"get_{one}", {"id": doc["id"]})[one]["sort_order"] == -100
