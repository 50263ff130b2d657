"""Mistakes a newcomer makes get an answer they can act on (issue 9): bodies without a
Content-Type, `warnings` on saved events, the manual-run refusal, an empty file input, huge
params and scripts."""

from __future__ import annotations

import json
import sys
import uuid

import httpx
import pytest

from tests.api.helpers import create_event, event_payload, run_wait, script_event, uid, wait_job
from tests.support.server import ADMIN_KEY, Api, Server

# -- request bodies -----------------------------------------------------------------------------


def test_json_body_without_content_type(server: Server, api: Api) -> None:
    """A JSON body without `Content-Type` (as many xyOps clients send it) is read as JSON."""
    payload = {"id": uid("ev"), **event_payload()}
    response = httpx.post(
        f"{server.url}/api/app/create_event/v1", content=json.dumps(payload).encode(), headers={"X-API-Key": ADMIN_KEY}
    )
    assert "content-type" not in response.request.headers
    assert response.status_code == 200 and response.json()["event"]["id"] == payload["id"]


def test_json_body_sent_as_a_form(server: Server, api: Api) -> None:
    """`curl -d '{...}'` labels a JSON body as a urlencoded form; a body starting with `{` is JSON."""
    payload = {"id": uid("ev"), **event_payload()}
    response = httpx.post(
        f"{server.url}/api/app/create_event/v1",
        content=json.dumps(payload).encode(),
        headers={"X-API-Key": ADMIN_KEY, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200 and response.json()["event"]["targets"] == ["main"]


def test_body_without_content_type_that_is_not_json(server: Server) -> None:
    """A body that has no `Content-Type` and is not JSON gets an error saying exactly that."""
    response = httpx.post(
        f"{server.url}/api/app/create_event/v1", content=b"title=x&enabled=1", headers={"X-API-Key": ADMIN_KEY}
    )
    body = response.json()
    assert response.status_code == 400 and body["code"] == "api"
    assert "no Content-Type header and is not JSON" in body["description"]
    assert "application/json" in body["description"]


# -- warnings on create_event / update_event ----------------------------------------------------


def _create(api: Api, **overrides: object) -> dict[str, object]:
    return api.ok("create_event", event_payload(id=uid("ev"), **overrides))


def test_clean_event_has_no_warnings(api: Api) -> None:
    """An event without mistakes answers exactly as xyOps does: no `warnings` key."""
    body = _create(api)
    assert "warnings" not in body
    assert "warnings" not in api.ok("update_event", {"id": body["event"]["id"], "title": "Renamed"})  # type: ignore[index]


def test_misspelt_key_warns(api: Api) -> None:
    """A top-level key close to a known one is saved, with "did you mean"."""
    body = _create(api, trigers=[{"type": "manual", "enabled": True}])
    assert body["warnings"] == ["Unknown key 'trigers': did you mean 'triggers'?"]
    event_id = body["event"]["id"]  # type: ignore[index]
    update = api.ok("update_event", {"id": event_id, "catagory": "general"})
    assert update["warnings"] == ["Unknown key 'catagory': did you mean 'category'?"]


def test_unknown_target_warns(api: Api) -> None:
    """A target that is neither a server nor a group is saved with a warning naming it."""
    body = _create(api, targets=["main", "mian_x"])
    [warning] = body["warnings"]  # type: ignore[misc]
    assert warning.startswith("Unknown target 'mian_x': no server or group has this id")
    assert "'main'" in warning


def test_unknown_algo_warns(api: Api) -> None:
    """An algo no selection knows is saved with a warning listing the real ones."""
    body = _create(api, algo="randon")
    [warning] = body["warnings"]  # type: ignore[misc]
    assert warning.startswith("Unknown algo 'randon'") and "did you mean 'random'?" in warning
    assert "round_robin" in warning


def test_timezone_in_wrong_case_is_corrected(api: Api) -> None:
    """`america/new_york` (refused before) is saved as `America/New_York`, with a warning."""
    trigger = {"type": "schedule", "enabled": True, "hours": [3], "minutes": [0], "timezone": "america/new_york"}
    body = _create(api, triggers=[{"type": "manual", "enabled": True}, trigger])
    assert body["event"]["triggers"][1]["timezone"] == "America/New_York"  # type: ignore[index]
    assert body["warnings"] == [
        "Trigger #2: time zone 'america/new_york' saved as 'America/New_York' (zone names are case-sensitive)."
    ]
    assert api.error("create_event", event_payload(triggers=[{**trigger, "timezone": "Mars/Base"}]))[1] == "api"


# -- run_event refusal --------------------------------------------------------------------------


def test_manual_refusal_says_how_to_allow_it(api: Api) -> None:
    """The refusal keeps the xyOps code and names the trigger to add."""
    event = create_event(api, triggers=[])
    status, code, description = api.error("run_event", {"id": event["id"]})
    assert (status, code) == (409, "event")
    assert description.startswith(f"Event does not allow manual job runs: {event['id']}")
    assert '{"type": "manual", "enabled": true}' in description


# -- an empty file input ------------------------------------------------------------------------


def _form_with_empty_file(fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart body as a browser sends a form whose file input was left empty."""
    boundary = "----cronwright" + uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename=""\r\n'
        "Content-Type: application/octet-stream\r\n\r\n\r\n".encode()
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_form_with_empty_file_input_runs(server: Server, api: Api) -> None:
    """The magic-link form page posted without a file starts the job (the empty file part is ignored)."""
    key = "form-" + uuid.uuid4().hex
    event = script_event(
        api,
        'echo "hi $who"',
        triggers=[{"type": "magic", "enabled": True, "key": key}],
        fields=[{"id": "who", "type": "text", "value": "nobody"}],
    )
    body, content_type = _form_with_empty_file({"who": "form"})
    response = httpx.post(f"{server.url}/api/app/magic/v1/{key}", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 200 and response.json()["code"] == 0, response.text
    job = wait_job(api, response.json()["id"])
    assert job["event"] == event["id"] and job["code"] == 0 and "hi form" in job["output"]
    assert not (job.get("input") or {}).get("files")


# -- params and scripts too large ---------------------------------------------------------------

_CHECK_BIG_PARAM = f"""#!/bin/sh
if [ -n "$big" ]; then echo "big is in the environment"; exit 1; fi
exec {sys.executable} -c '
import json, sys
job = json.loads(sys.stdin.readline())
print("big param", len(job["params"]["big"]))
'
"""


def test_param_too_large_for_the_environment(api: Api) -> None:
    """A 200 KiB param (over Linux's 128 KiB per variable) reaches the job in its JSON only; the job
    succeeds and its meta log says why the variable is missing."""
    event = create_event(api, params={"script": _CHECK_BIG_PARAM, "annotate": False})
    job = run_wait(api, event["id"], params={"big": "x" * (200 * 1024)})
    assert job["code"] == 0, (job.get("description"), job.get("output"))
    assert "big param 204800" in job["output"]
    notes = [row["msg"] for row in api.ok("get_job", {"id": job["id"]})["job"].get("activity", [])]
    assert any("too large for environment variables" in n and "big" in n for n in notes), notes


@pytest.mark.parametrize("size", [1024 * 1024 + 1])
def test_script_too_large_is_refused(api: Api, size: int) -> None:
    """A Shell-plugin script over `max_script_bytes` (1 MiB) is refused on create and update."""
    script = "#!/bin/sh\n" + "#" * (size - 10)
    status, code, description = api.error("create_event", event_payload(params={"script": script}))
    assert (status, code) == (400, "api")
    assert description.startswith(f"Shell script is too large: {size} bytes (the limit is 1048576 bytes")
    event = create_event(api)
    assert "too large" in api.error("update_event", {"id": event["id"], "params": {"script": script}})[2]
