"""Listing and fetching events (conformance section B) and event history (section G)."""

from __future__ import annotations

from tests.api.helpers import create_event, make_key, uid
from tests.conftest import StartServer
from tests.support.server import Api


def test_empty_server_lists_nothing(server_factory: StartServer) -> None:
    """A fresh install has no events: `rows == []`, `list.length == 0` (case 23)."""
    api = server_factory("sqlite").client()
    body = api.ok("get_events", method="GET")
    assert body["rows"] == [] and body["list"] == {"length": 0}


def test_filter_and_total(api: Api) -> None:
    """Filters select rows by loose equality; `list.length` is the visible total before filters (case 24)."""
    category = uid("cat")
    api.ok("create_category", {"id": category, "title": "Filter Cat"})
    client, _ = make_key(api, {}, categories=[category])
    enabled = create_event(api, category=category, enabled=True)
    disabled = create_event(api, category=category, enabled=False)
    body = client.ok("get_events", {"enabled": False})
    assert [e["id"] for e in body["rows"]] == [disabled["id"]] and body["list"]["length"] == 2
    by_query = client.ok("get_events", method="GET", query={"enabled": "1"})
    assert [e["id"] for e in by_query["rows"]] == [enabled["id"]]
    assert client.ok("get_events", {"enabled": "true"})["rows"] == []  # "true" != true in JS


def test_category_limited_listing(api: Api) -> None:
    """A key limited to categories sees only their events (case 25)."""
    category = uid("cat")
    api.ok("create_category", {"id": category, "title": "Limited"})
    inside = create_event(api, category=category)
    create_event(api)  # in "general"
    client, _ = make_key(api, {}, categories=[category])
    assert [e["id"] for e in client.ok("get_events")["rows"]] == [inside["id"]]


def test_group_limited_listing(api: Api) -> None:
    """A group-limited key sees events with any allowed target (case 26)."""
    g1, g2 = uid("g"), uid("g")
    category = uid("cat")
    api.ok("create_category", {"id": category, "title": "Groups"})
    visible = create_event(api, category=category, targets=[g1, g2, "srv"])
    create_event(api, category=category, targets=["srv"])
    create_event(api, category=category, targets=[g2])
    client, _ = make_key(api, {}, groups=[g1], categories=[category])
    assert [e["id"] for e in client.ok("get_events")["rows"]] == [visible["id"]]


def test_get_event_shape(api: Api) -> None:
    """`get_event` answers the event, `jobs` (array) and `queued` (number) (case 27)."""
    event = create_event(api)
    body = api.ok("get_event", {"id": event["id"]}, method="GET")
    assert body["event"] == event and body["jobs"] == [] and body["queued"] == 0


def test_get_event_out_of_scope(api: Api) -> None:
    """A key limited to another category gets `access` (case 29)."""
    category = uid("cat")
    api.ok("create_category", {"id": category, "title": "Other"})
    event = create_event(api)
    client, _ = make_key(api, {}, categories=[category])
    assert client.error("get_event", {"id": event["id"]})[:2] == (403, "access")


def test_history_newest_first_and_paging(api: Api) -> None:
    """History lists create and updates newest first; `limit` defaults to 1 (cases 115–117)."""
    event = create_event(api)
    api.ok("update_event", {"id": event["id"], "title": "Second"})
    api.ok("update_event", {"id": event["id"], "title": "Third"})
    body = api.ok("get_event_history", {"id": event["id"], "limit": 50})
    assert [r["action"] for r in body["rows"]] == ["event_update", "event_update", "event_create"]
    assert body["list"]["length"] == 3
    assert [r["event"]["revision"] for r in body["rows"]] == [3, 2, 1]
    first = body["rows"][0]
    assert first["description"] == "Third" and first["username"] and isinstance(first["epoch"], int)
    assert first["date"] == first["epoch"] and first["changes"] == ["title"]
    assert not {"ip", "ips", "headers"} & set(first)
    one = api.ok("get_event_history", {"id": event["id"]})
    assert len(one["rows"]) == 1 and one["list"]["length"] == 3 and one["rows"][0] == first
    paged = [api.ok("get_event_history", {"id": event["id"], "offset": i, "limit": 1})["rows"][0] for i in range(3)]
    assert paged == body["rows"]
    oldest = api.ok("get_event_history", {"id": event["id"], "sort_dir": 1, "limit": 1})["rows"][0]
    assert oldest["action"] == "event_create"


def test_history_of_deleted_event(api: Api) -> None:
    """History of a deleted event answers `event` (case 118)."""
    event = create_event(api)
    api.ok("delete_event", {"id": event["id"]})
    assert api.error("get_event_history", {"id": event["id"]})[:2] == (404, "event")


def test_history_bad_paging(api: Api) -> None:
    """Bad `offset`/`limit` values are `api` errors."""
    event = create_event(api)
    for bad in ({"limit": "x"}, {"offset": -1}, {"limit": True}, {"sort_dir": 7}):
        assert api.error("get_event_history", {"id": event["id"], **bad})[:2] == (400, "api"), bad
