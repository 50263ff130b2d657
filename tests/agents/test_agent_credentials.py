"""What a real agent's credential (the ``auth_token`` of its ``agent.json``) can and cannot do
(fleet.md "Enrolment and credentials", servers-agents.md §6.3, §6.5): it is never an API key, and
it reports only on jobs of its own server."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.agents.conftest import Agent, Fleet
from tests.api.helpers import event_payload, script_event, start_job, wait_job, wait_state
from tests.support.server import Api


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    made = Fleet(tmp_path_factory.mktemp("creds"))
    try:
        made.start_agent("cred-owner")
        made.start_agent("cred-other")
        yield made
    finally:
        made.close()


def credential(agent: Agent) -> str:
    token = json.loads((agent.data_dir / "agent.json").read_text())["auth_token"]
    assert isinstance(token, str) and len(token) == 64
    return token


def post(fleet: Fleet, name: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{fleet.server.url}/api/app/{name}", json=body, timeout=10)
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("get_events", {}),
        ("get_active_servers", {}),
        ("create_event", event_payload(id="made_by_agent")),
        ("run_event", {"id": "ev_by_agent"}),
    ],
)
def test_an_agent_credential_is_not_an_api_key(fleet: Fleet, name: str, params: dict[str, Any]) -> None:
    """The agent's token as ``X-API-Key`` is refused with a ``session`` error and no data; nothing is
    created or run."""
    api = fleet.api
    if name == "run_event":
        api.ok("create_event", event_payload(id="ev_by_agent", targets=[fleet.agents[0].server_id]))
    agent_api: Api = api.with_key(credential(fleet.agents[0]))
    status, body = agent_api.call(name, params)
    assert body["code"] == "session", (status, body)
    assert set(body) <= {"code", "description"}, body
    assert status in (401, 403)
    if name == "create_event":
        assert "made_by_agent" not in {e["id"] for e in api.ok("get_events")["rows"]}
    if name == "run_event":
        assert all(job["event"] != "ev_by_agent" for job in api.ok("get_active_jobs")["rows"])


def test_an_install_token_is_not_an_api_key(fleet: Fleet) -> None:
    """An install token (what enrols agents) is no API key either."""
    token = fleet.api.ok("get_satellite_token", {})["token"]
    status, body = fleet.api.with_key(token).call("get_events", {})
    assert body["code"] == "session" and "rows" not in body, (status, body)


def test_an_agent_cannot_finish_or_upload_for_another_agents_job(fleet: Fleet) -> None:
    """While the owner's job runs, another agent's credential is refused by ``finish_job`` (with its
    own server id, with the owner's id, without a server) and by ``upload_job_file``; the job runs
    on and ends as its own agent reports it."""
    api = fleet.api
    owner, other = fleet.agents
    event = script_event(api, "echo running\nsleep 60", targets=[owner.server_id])
    job_id = start_job(api, event["id"])
    wait_state(api, job_id, "active")
    other_auth = credential(other)
    report = {"code": 0, "description": "forged", "state": "complete", "complete": True}
    attempts = [
        {"id": job_id, "server": other.server_id, "auth": other_auth, "job": report},
        {"id": job_id, "server": owner.server_id, "auth": other_auth, "job": report},
        {"id": job_id, "auth": other_auth, "job": report},
    ]
    for body in attempts:
        answer = post(fleet, "finish_job", body)
        assert (answer.get("code"), answer.get("description")) == ("auth", "Authentication failure"), (body, answer)
    upload = httpx.post(
        f"{fleet.server.url}/api/app/upload_job_file",
        data={"id": job_id, "auth": other_auth, "server": other.server_id},
        files={"file1": ("forged.txt", io.BytesIO(b"forged"))},
        timeout=10,
    ).json()
    assert upload.get("code") == "auth", upload
    live = api.ok("get_job", {"id": job_id})["job"]
    assert live["state"] == "active" and live["server"] == owner.server_id
    api.ok("abort_job", {"id": job_id})
    final = wait_job(api, job_id)
    assert final["code"] == "abort" and final["description"].startswith("Manually aborted by")
    assert not any(f.get("filename") == "forged.txt" for f in final.get("files") or [])
