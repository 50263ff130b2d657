"""Error wording clients match (sdk-wire.md §5): the exact ``code`` and ``description`` of each
not-found, duplicate and wrong-state answer, called the way the xyOps SDK calls (unversioned URL,
``X-API-Key``, GET with a query string for ``get_*``, POST JSON otherwise), plus HTTP statuses on ``/v1``.

Parameters and descriptions may name fixture objects as ``<event>``, ``<used_category>`` or
``<running>`` (an active job); ``things`` supplies them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.helpers import create_event, event_payload, make_key, script_event, start_job, uid, wait_state
from tests.support.server import ADMIN_KEY, Api

MISSING = "nope_missing"
FETCH = "Error: Failed to fetch key: unbase/records/jobs/jnope: Not found"

#: (entity, word in messages, error code of update/delete, create payload besides id and title)
ENTITIES = [
    ("category", "category", "category", {}),
    ("group", "group", "group", {"hostname_match": "^nothing$"}),
    ("plugin", "plugin", "plugin", {"type": "event", "command": "/bin/true"}),
    ("role", "role", "role", {}),
    ("tag", "tag", "tag", {}),
    ("web_hook", "web hook", "web_hook", {"method": "POST", "url": "http://127.0.0.1:9/x"}),
    ("api_key", "API Key", "api_key", {}),
]


def _entity_rows() -> Iterator[Any]:
    """§5.1: get / update / delete of an unknown id for every supporting entity."""
    for one, word, code, _ in ENTITIES:
        yield pytest.param(
            f"get_{one}", {"id": MISSING}, "notfound", f"Failed to locate {word}: {MISSING}", id=f"get_{one}"
        )
        if one == "plugin":
            update = ("api", f"Plugin not found: {MISSING}")
        else:
            update = (code, f"Failed to update {word}: Error: Item not found")
        yield pytest.param(f"update_{one}", {"id": MISSING, "title": "x"}, *update, id=f"update_{one}")
        yield pytest.param(
            f"delete_{one}",
            {"id": MISSING},
            code,
            f"Failed to delete {word}: Error: Item not found",
            id=f"delete_{one}",
        )


ROWS = [
    *_entity_rows(),
    # §5.1 events
    pytest.param("get_event", {"id": MISSING}, "notfound", f"Failed to locate event: {MISSING}", id="get_event"),
    pytest.param(
        "update_event", {"id": MISSING, "title": "x"}, "event", f"Event not found: {MISSING}", id="update_event"
    ),
    pytest.param("delete_event", {"id": MISSING}, "event", f"Event not found: {MISSING}", id="delete_event"),
    pytest.param(
        "create_event",
        event_payload(id="<event>"),
        "event",
        "That Event ID already exists: <event>",
        id="create_event_duplicate",
    ),
    pytest.param("get_event_history", {"id": MISSING}, "event", f"Event not found: {MISSING}", id="get_event_history"),
    pytest.param("flush_event_queue", {"id": MISSING}, "event", f"Event not found: {MISSING}", id="flush_event_queue"),
    pytest.param("run_event", {"id": MISSING}, "event", f"Event not found: {MISSING}", id="run_event_unknown"),
    pytest.param("run_event", {}, "event", "Failed to locate event: No criteria specified", id="run_event_no_criteria"),
    pytest.param(
        "delete_category",
        {"id": "<used_category>"},
        "category",
        "Failed to delete category: Still in use by one or more events.",
        id="delete_category_in_use",
    ),
    # §5.1 servers
    pytest.param(
        "get_active_server", {"id": MISSING}, "notfound", f"Failed to locate server: {MISSING}", id="get_active_server"
    ),
    # §5.2 jobs
    pytest.param("get_job", {"id": "jnope"}, "notfound", f"Failed to load job details: jnope: {FETCH}", id="get_job"),
    pytest.param("get_jobs", {}, "job", "Missing or malformed ids parameter.", id="get_jobs_no_ids"),
    pytest.param("abort_job", {"id": "jnope"}, "job", "Job not found or is no longer active: jnope", id="abort_job"),
    pytest.param("resume_job", {"id": "jnope"}, "job", "Job not found or is no longer active: jnope", id="resume_job"),
    pytest.param("job_skip_delay", {"id": "jnope"}, "job", "Job not found: jnope", id="job_skip_delay_unknown"),
    pytest.param(
        "job_skip_delay",
        {"id": "<running>"},
        "job",
        "Job is not in a delay state: <running>",
        id="job_skip_delay_running",
    ),
    pytest.param(
        "delete_job",
        {"id": "<running>"},
        "job",
        "Cannot delete a job that is still active: <running>",
        id="delete_job_active",
    ),
    pytest.param(
        "delete_job", {"id": "jnope"}, "job", f"Failed to load job details: jnope: {FETCH}", id="delete_job_missing"
    ),
    pytest.param(
        "update_job",
        {"id": "jnope", "label": "x"},
        "job",
        f"Failed to update job: jnope: {FETCH}",
        id="update_job_missing",
    ),
    pytest.param(
        "manage_job_tags",
        {"id": "jnope", "tags": []},
        "job",
        f"Failed to update job: jnope: {FETCH}",
        id="tags_missing",
    ),
    pytest.param(
        "manage_job_tags",
        {"id": "<running>", "tags": []},
        "job",
        "Cannot update tags of running job.",
        id="tags_running",
    ),
    pytest.param(
        "manage_job_tags",
        {"id": "jnope", "tags": [], "x": 1},
        "job",
        "Too many properties in params",
        id="tags_extra_key",
    ),
]

#: (call, params, HTTP status on /v1, code)
V1_ROWS = [
    pytest.param("get_category", {"id": MISSING}, 404, "notfound", id="get_category"),
    pytest.param("update_category", {"id": MISSING, "title": "x"}, 404, "category", id="update_category"),
    pytest.param("update_plugin", {"id": MISSING, "title": "x"}, 404, "api", id="update_plugin"),
    pytest.param("delete_web_hook", {"id": MISSING}, 404, "web_hook", id="delete_web_hook"),
    pytest.param("create_tag", {"id": "important", "title": "x"}, 409, "tag", id="create_tag_duplicate"),
    pytest.param("delete_category", {"id": "<used_category>"}, 409, "category", id="delete_category_in_use"),
    pytest.param("get_job", {"id": "jnope"}, 404, "notfound", id="get_job"),
    pytest.param("get_jobs", {}, 400, "job", id="get_jobs_no_ids"),
    pytest.param("job_skip_delay", {"id": "jnope"}, 404, "job", id="job_skip_delay"),
    pytest.param("delete_job", {"id": "<running>"}, 409, "job", id="delete_job_active"),
    pytest.param("delete_job", {"id": "jnope"}, 404, "job", id="delete_job_missing"),
    pytest.param("manage_job_tags", {"id": "<running>", "tags": []}, 409, "job", id="tags_running"),
    pytest.param("run_event", {}, 404, "event", id="run_event_no_criteria"),
]


@pytest.fixture(scope="module")
def things(api: Api) -> Iterator[dict[str, str]]:
    """An event, a category in use by an event, and a running job (aborted afterwards)."""
    category = uid("cat")
    api.ok("create_category", {"id": category, "title": "Used"})
    create_event(api, category=category)
    running = start_job(api, script_event(api, "sleep 60")["id"])
    wait_state(api, running, "active")
    yield {"event": create_event(api)["id"], "used_category": category, "running": running}
    api.ok("abort_job", {"id": running})


def _fill(value: Any, things: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, real in things.items():
            value = value.replace(f"<{name}>", real)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, things) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, things) for v in value]
    return value


def sdk_call(api: Api, name: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """What ``lib/api.js`` sends: unversioned, GET with a query string for ``get_*``, else POST JSON."""
    method = "GET" if name.startswith(("get_", "search_", "stream_")) else "POST"
    return api.call(name, params, method=method, versioned=False)


@pytest.mark.parametrize(("call", "params", "code", "description"), ROWS)
def test_sdk_sees_xyops_wording(
    api: Api, things: dict[str, str], call: str, params: dict[str, Any], code: str, description: str
) -> None:
    """Through the SDK's URL and method, each failure is HTTP 200 with xyOps' exact code and description."""
    status, body = sdk_call(api, call, _fill(params, things))
    assert (status, body.get("code"), body.get("description")) == (200, code, _fill(description, things))


@pytest.mark.parametrize(("call", "params", "status", "code"), V1_ROWS)
def test_v1_status(api: Api, things: dict[str, str], call: str, params: dict[str, Any], status: int, code: str) -> None:
    """On ``/v1`` the same failures keep their code with a 4xx status from the error class."""
    assert api.error(call, _fill(params, things))[:2] == (status, code)


@pytest.mark.parametrize(("one", "word", "code", "extra"), ENTITIES)
def test_duplicate_id(api: Api, one: str, word: str, code: str, extra: dict[str, Any]) -> None:
    """Creating a taken id answers "That <Title> ID already exists: ID" (tags without "That"; keys
    always get a generated id, so a second create simply succeeds)."""
    doc_id = uid(one[:3])
    first = api.ok(f"create_{one}", {"id": doc_id, "title": "First", **extra})[one]
    status, body = sdk_call(api, f"create_{one}", {"id": first["id"], "title": "Again", **extra})
    if one == "api_key":
        assert body["code"] == 0 and body[one]["id"] != first["id"]
        api.ok("delete_api_key", {"id": body[one]["id"]})
    else:
        title = {"web_hook": "Web Hook"}.get(one, one.capitalize())
        expected = f"Tag ID already exists: {doc_id}" if one == "tag" else f"That {title} ID already exists: {doc_id}"
        assert (status, body["code"], body["description"]) == (200, code, expected)
    api.ok(f"delete_{one}", {"id": first["id"]})


@pytest.mark.parametrize(("one", "word", "code", "extra"), ENTITIES)
def test_get_after_delete(api: Api, one: str, word: str, code: str, extra: dict[str, Any]) -> None:
    """Check 14 of sdk-wire.md §7: ``get_<x>`` of a deleted entity is "Failed to locate <word>: ID"."""
    doc = api.ok(f"create_{one}", {"id": uid(one[:3]), "title": "Short-lived", **extra})[one]
    api.ok(f"delete_{one}", {"id": doc["id"]})
    status, body = sdk_call(api, f"get_{one}", {"id": doc["id"]})
    assert (status, body["code"], body["description"]) == (200, "notfound", f"Failed to locate {word}: {doc['id']}")


def test_get_jobs_marks_unknown_ids(api: Api) -> None:
    """``get_jobs`` by GET query answers ``{"err": "Failed to locate job: ID"}`` for an unknown id."""
    status, body = sdk_call(api, "get_jobs", {"ids": "jnope"})
    assert (status, body) == (200, {"code": 0, "jobs": [{"err": "Failed to locate job: jnope"}]})


def test_tail_of_unknown_job_is_empty(api: Api) -> None:
    """``tail_live_job_log`` of an unknown job is ``{code:0, text:""}``, not an error."""
    assert sdk_call(api, "tail_live_job_log", {"id": "jnope"}) == (200, {"code": 0, "text": ""})


def test_get_api_key_reads_the_query(api: Api) -> None:
    """§5.4: ``get_api_key`` by GET with a query string (the SDK's ``getApiKey({id})``) finds the key."""
    _, key = make_key(api)
    status, body = sdk_call(api, "get_api_key", {"id": key["id"]})
    assert (status, body["code"], body["api_key"]["id"]) == (200, 0, key["id"])


@pytest.mark.parametrize(
    ("username", "stored"),
    [("nobody_here", "nobody_here"), ("No.Body-Here", "nobodyhere")],
    ids=["plain", "normalized"],
)
def test_admin_get_user_unknown(server_url: str, username: str, stored: str) -> None:
    """``/api/user/admin_get_user`` of an unknown user is ``user`` "Failed to load user: Error: Failed to
    fetch key: users/<name lower-cased without non-word characters>: Not found" (404 on ``/v1``)."""
    expected = f"Failed to load user: Error: Failed to fetch key: users/{stored}: Not found"
    headers = {"X-API-Key": ADMIN_KEY}
    plain = httpx.post(f"{server_url}/api/user/admin_get_user", json={"username": username}, headers=headers)
    assert (plain.status_code, plain.json()) == (200, {"code": "user", "description": expected})
    versioned = httpx.post(f"{server_url}/api/user/admin_get_user/v1", json={"username": username}, headers=headers)
    assert (versioned.status_code, versioned.json()["code"]) == (404, "user")
