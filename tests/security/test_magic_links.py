"""Issue 8 point 11: magic link keys are long enough to be unguessable, and magic links and forms are
rate-limited per link and per client address."""

from __future__ import annotations

import httpx
import pytest

from tests.api.helpers import create_event, event_payload, uid
from tests.conftest import StartServer
from tests.support.server import Api, Server


def test_short_magic_keys_are_refused_at_save(api: Api) -> None:
    """A magic key under 16 characters (or with characters a URL token cannot carry) is an `api` error
    on create and update; nothing is stored."""
    event_id = uid("ev")
    for key in ("short", "fifteen-chars-x", "sixteen chars ok"):
        payload = event_payload(id=event_id, triggers=[{"type": "magic", "enabled": True, "key": key}])
        status, code, text = api.error("create_event", payload)
        assert (status, code) == (400, "api") and "at least 16 characters" in text
    assert api.error("get_event", {"id": event_id})[1] == "notfound"
    event = create_event(api)
    status, code, _ = api.error(
        "update_event", {"id": event["id"], "triggers": [{"type": "magic", "enabled": True, "key": "abc"}]}
    )
    assert (status, code) == (400, "api")


@pytest.fixture
def limited_server(server_factory: StartServer) -> Server:
    """A private server (the limits count per process, per client address)."""
    return server_factory(
        "sqlite", env={"CRONWRIGHT_MAGIC_MAX_PER_MIN_LINK": "3", "CRONWRIGHT_MAGIC_MAX_PER_MIN_IP": "8"}
    )


def test_magic_link_is_rate_limited_per_link(limited_server: Server) -> None:
    """The fourth call of one link within a minute answers 429 `rate` and starts no job."""
    api = limited_server.client()
    key = "per-link-" + uid("k").replace("_", "-")
    event = create_event(api, triggers=[{"type": "magic", "enabled": True, "key": key}])
    url = f"{limited_server.url}/api/app/magic/v1/{key}"
    answers = [httpx.post(url, timeout=30) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert answers[3].status_code == 429 and answers[3].json()["code"] == "rate"
    assert "try again in" in answers[3].json()["description"]
    started = {a.json()["id"] for a in answers[:3]}
    history = api.ok("get_jobs", {"event": event["id"]})["rows"]
    active = api.ok("get_active_jobs", {"event": event["id"]})["rows"]
    assert {j["id"] for j in history + active} <= started


def test_guessing_tokens_is_rate_limited_per_address(limited_server: Server) -> None:
    """Wrong tokens from one address are answered "Authentication failed." until the address's budget
    is spent, then 429 — the form page included."""
    base = f"{limited_server.url}/api/app"
    codes = [httpx.get(f"{base}/magic/v1/guess-{n:020d}", timeout=30).json()["code"] for n in range(8)]
    assert codes == ["api"] * 8
    blocked = httpx.get(f"{base}/magic/v1/guess-final-000000000000", timeout=30)
    assert blocked.status_code == 429 and blocked.json()["code"] == "rate"
    page = httpx.get(f"{base}/form/v1/guess-form-0000000000000", timeout=30)
    assert page.status_code == 429 and "Too many" in page.text
