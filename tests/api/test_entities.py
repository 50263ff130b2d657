"""Supporting entities: categories, groups, plugins, tags, roles, API keys, servers, state, activity."""

from __future__ import annotations

import pytest

from cronwright.store.base import ActivityQuery
from cronwright.store.sql.store import SqlStore
from tests.api.helpers import create_event, make_key, uid
from tests.support.server import ADMIN_KEY, Api, Server

ENTITIES = [
    ("category", "categories", {}),
    ("group", "groups", {"hostname_match": "^nothing$"}),
    ("plugin", "plugins", {"type": "event", "command": "/bin/true"}),
    ("tag", "tags", {}),
    ("role", "roles", {}),
]


def test_fresh_install_records(api: Api) -> None:
    """The fresh install has shellplug, role `all`, category `general`, group `main`, two tags (case 196)."""
    assert "shellplug" in [p["id"] for p in api.ok("get_plugins")["rows"]]
    assert "all" in [r["id"] for r in api.ok("get_roles")["rows"]]
    assert "general" in [c["id"] for c in api.ok("get_categories")["rows"]]
    assert "main" in [g["id"] for g in api.ok("get_groups")["rows"]]
    assert {"important", "flag"} <= {t["id"] for t in api.ok("get_tags")["rows"]}
    script = next(p for p in api.ok("get_plugins")["rows"] if p["id"] == "shellplug")["params"][0]
    assert script["id"] == "script" and script["locked"] and script["required"]


@pytest.mark.parametrize(("one", "many", "extra"), ENTITIES)
def test_crud_cycle(api: Api, one: str, many: str, extra: dict[str, object]) -> None:
    """Create → get → list → update → delete, with stamps, revisions and activity (common pattern)."""
    doc_id = uid(one[:3])
    created = api.ok(f"create_{one}", {"id": doc_id, "title": "First", **extra})[one]
    assert created["id"] == doc_id and created["revision"] == 1 and created["created"] == created["modified"]
    assert api.ok(f"get_{one}", {"id": doc_id})[one] == created
    assert doc_id in [d["id"] for d in api.ok(f"get_{many}")["rows"]]
    body = api.ok(f"update_{one}", {"id": doc_id, "title": "Second"})
    assert (one in body) == (one == "plugin")
    updated = api.ok(f"get_{one}", {"id": doc_id})[one]
    assert updated["title"] == "Second" and updated["revision"] == 2
    status, code, desc = api.error(f"create_{one}", {"id": doc_id, "title": "Dup", **extra})
    assert (status, code) == (409, one) and "already exists" in desc
    assert api.ok(f"get_{one}", {"id": doc_id})[one]["title"] == "Second"
    api.ok(f"delete_{one}", {"id": doc_id})
    assert api.error(f"get_{one}", {"id": doc_id})[:2] == (404, "notfound")
    actions = [r["action"] for r in api.ok("search_activity", {"query": f"keywords:{doc_id}", "limit": 10})["rows"]]
    assert actions == [f"{one}_delete", f"{one}_update", f"{one}_create"]


@pytest.mark.parametrize(("one", "many", "extra"), [*ENTITIES, ("api_key", "api_keys", {})])
def test_unknown_id_on_update_and_delete(api: Api, one: str, many: str, extra: dict[str, object]) -> None:
    """Updating or deleting an unknown id is an entity error (404) and creates nothing (case 213)."""
    expected_code = "api" if one == "plugin" else one
    assert api.error(f"update_{one}", {"id": "nope_nope", "title": "x"})[:2] == (404, expected_code)
    assert api.error(f"delete_{one}", {"id": "nope_nope"})[:2] == (404, one)
    assert api.error(f"get_{one}", {"id": "nope_nope"})[:2] == (404, "notfound")


def test_bad_ids_and_titles(api: Api) -> None:
    """Upper case, spaces or dashes in ids and blank titles are `api` errors (case 200)."""
    for bad in ("Bad ID", "UPPER", "with-dash", "dot.ted"):
        assert api.error("create_tag", {"id": bad, "title": "x"})[:2] == (400, "api")
    assert api.error("create_tag", {"id": uid("tag"), "title": " "})[:2] == (400, "api")


def test_new_tag_usable_in_events(api: Api) -> None:
    """A created tag is accepted in event `tags` (case 200)."""
    tag_id = uid("tag")
    api.ok("create_tag", {"id": tag_id, "title": "Fresh"})
    assert create_event(api, tags=[tag_id])["tags"] == [tag_id]


def test_category_validation_and_in_use(api: Api) -> None:
    """Invalid category limits are `api`; deleting a used category is `category` / 409 (case 197)."""
    bad = {"title": "x", "limits": [{"enabled": True, "type": "bogus"}]}
    assert api.error("create_category", bad)[:2] == (400, "api")
    cat_id = uid("cat")
    api.ok("create_category", {"id": cat_id, "title": "Used"})
    create_event(api, category=cat_id)
    status, code, desc = api.error("delete_category", {"id": cat_id})
    assert (status, code) == (409, "category") and "Still in use" in desc


def test_category_defaults(api: Api) -> None:
    """A category created without `enabled` is enabled, with empty limits/actions and a sort order."""
    category = api.ok("create_category", {"title": "Defaults"})["category"]
    assert category["enabled"] is True and category["limits"] == [] and category["actions"] == []
    assert category["id"].startswith("ca") and isinstance(category["sort_order"], int)


def test_group_validation(api: Api) -> None:
    """A group needs `hostname_match` (`api`); an invalid regex is `group` (case 198)."""
    assert api.error("create_group", {"title": "x"})[:2] == (400, "api")
    assert api.error("create_group", {"title": "x", "hostname_match": "(("})[1] == "group"


def test_group_membership_of_local_server(api: Api) -> None:
    """A new group matching every host name gains the local server; a non-matching one does not."""
    match_all, match_none = uid("g"), uid("g")
    api.ok("create_group", {"id": match_all, "title": "All", "hostname_match": ".*"})
    api.ok("create_group", {"id": match_none, "title": "None", "hostname_match": "^$"})
    server = api.ok("get_active_servers")["rows"][0]
    assert match_all in server["groups"] and match_none not in server["groups"] and "main" in server["groups"]
    assert server["info"]["cpu"]["cores"] >= 1
    assert api.ok("get_active_server", {"id": server["id"]})["server"]["id"] == server["id"]
    api.ok("delete_group", {"id": match_all})
    assert match_all not in api.ok("get_active_servers")["rows"][0]["groups"]


def test_plugin_validation(api: Api) -> None:
    """Bad plugin type or missing title is `api`; a bad param id on update is `api` (case 199)."""
    assert api.error("create_plugin", {"title": "x", "type": "bogus", "command": "x"})[:2] == (400, "api")
    assert api.error("create_plugin", {"type": "event", "command": "x"})[:2] == (400, "api")
    plugin = api.ok("create_plugin", {"title": "P", "type": "event", "command": "/bin/true"})["plugin"]
    assert plugin["enabled"] is True and plugin["id"].startswith("p")
    bad_params = {"id": plugin["id"], "params": [{"id": "9bad", "type": "text", "title": "x"}]}
    assert api.error("update_plugin", bad_params)[:2] == (400, "api")
    assert api.ok("get_plugin", {"id": plugin["id"]})["plugin"]["revision"] == 1


def test_entity_privileges(api: Api) -> None:
    """Each entity write needs its privilege; reads need only an identity."""
    client, _ = make_key(api, {})
    for one in ("category", "group", "plugin", "tag", "role"):
        assert client.error(f"create_{one}", {"title": "x", "hostname_match": ".*", "type": "event", "command": "x"})[
            :2
        ] == (403, "access")
    client.ok("get_categories")
    client.ok("get_roles")


def test_category_scoped_listing(api: Api) -> None:
    """A category-limited key lists and reads only its categories."""
    mine, other = uid("cat"), uid("cat")
    for cat in (mine, other):
        api.ok("create_category", {"id": cat, "title": cat})
    client, _ = make_key(api, {}, categories=[mine])
    assert [c["id"] for c in client.ok("get_categories")["rows"]] == [mine]
    assert client.error("get_category", {"id": other})[:2] == (403, "access")


def test_api_key_listing_hides_nothing_it_should_not(api: Api) -> None:
    """`get_api_keys` lists records newest first, with hash and mask but never a plain key."""
    _, first = make_key(api, {})
    _, second = make_key(api, {})
    rows = api.ok("get_api_keys")["rows"]
    ids = [r["id"] for r in rows]
    assert ids.index(second["id"]) < ids.index(first["id"])
    assert all(len(r["key"]) == 64 and "plain_key" not in r for r in rows)


def test_deleted_key_stops_working(api: Api) -> None:
    """A deleted API key is rejected at once."""
    client, key = make_key(api, {})
    client.ok("get_events")
    api.ok("delete_api_key", {"id": key["id"]})
    assert client.error("get_events")[1] == "session"


def test_global_state(api: Api) -> None:
    """Admins change dot paths of the global state; reserved words are rejected (case 203)."""
    assert api.ok("get_global_state")["state"]["scheduler"]["enabled"] is True
    api.ok("update_global_state", {"scheduler.enabled": False})
    assert api.ok("get_global_state")["state"]["scheduler"]["enabled"] is False
    api.ok("update_global_state", {"scheduler.enabled": True})
    assert api.error("update_global_state", {"constructor": 1})[:2] == (400, "api")
    client, _ = make_key(api, {"edit_events": True})
    assert client.error("update_global_state", {"scheduler.enabled": False})[:2] == (403, "access")


def test_search_activity(api: Api) -> None:
    """Admins search activity by action; non-admins get `access` (case 202)."""
    create_event(api)
    rows = api.ok("search_activity", {"query": "action:event_create", "limit": 3})["rows"]
    assert rows and all(r["action"] == "event_create" for r in rows)
    assert all("headers" not in r and "useragent" in r for r in rows)
    assert api.error("search_activity", {"query": "bogus:1"})[:2] == (400, "api")
    client, _ = make_key(api, {"edit_events": True})
    assert client.error("search_activity", {"query": "*"})[:2] == (403, "access")


def test_activity_never_records_credentials(api: Api, server: Server) -> None:
    """Stored activity rows keep request headers but never the API key or a session id."""
    tag_id = uid("tag")
    api.ok("create_tag", {"id": tag_id, "title": "Headers"}, headers={"X-Session-ID": ""})
    store = SqlStore.open(server.database_url)
    try:
        rows, _ = store.search_activity(ActivityQuery(keywords=(tag_id,), limit=5))
    finally:
        store.close()
    assert rows and rows[0]["headers"].get("user-agent")
    assert ADMIN_KEY not in repr(rows) and "x-api-key" not in rows[0]["headers"]
