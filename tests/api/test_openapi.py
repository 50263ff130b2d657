"""The OpenAPI document, and a bounded property-based fuzzing run against it (schemathesis).

The fuzzing server is a fresh one of its own (fuzzing as an administrator changes global state);
the operations that could end the fuzzing identity's access or pause the scheduler each get a fresh
server of their own. Every generated request must answer a JSON envelope below HTTP 500 with no
traceback in it, and each operation's run must leave no internal error in the server's log.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from cronwright.api.openapi import build_document
from cronwright.api.routes import all_endpoints
from cronwright.config import load_settings
from tests.conftest import StartServer
from tests.support.server import ADMIN_KEY, Server

#: every request is access-logged, so a request of our own marks how far the log has been read
FUZZ_ENV = {"CRONWRIGHT_ACCESS_LOG": "1"}


@pytest.fixture(scope="session")
def fuzz_server(server_factory: StartServer) -> Server:
    return server_factory("sqlite", env=FUZZ_ENV)


@pytest.fixture
def own_server(server_factory: StartServer) -> Iterator[Server]:
    """A fresh server for one operation whose side effects must not reach the other operations."""
    server = server_factory("sqlite", env=FUZZ_ENV)
    yield server
    server.stop()


def test_document_lists_every_endpoint(fuzz_server: Server) -> None:
    """The served document describes the seed endpoints with request and error schemas."""
    doc = httpx.get(fuzz_server.url + "/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    seed = ["get_events", "get_event", "create_event", "update_event", "delete_event", "run_event", "get_event_history"]
    for name in seed:
        operation = doc["paths"][f"/api/app/{name}/v1"]["post"]
        assert operation["summary"] and "400" in operation["responses"] and "403" in operation["responses"]
    assert "/api/app/get_events/v1" in doc["paths"] and "get" in doc["paths"]["/api/app/get_events/v1"]
    assert "Event" in doc["components"]["schemas"] and "Error" in doc["components"]["schemas"]


def test_interactive_docs_are_local(fuzz_server: Server) -> None:
    """`/api/docs` serves Swagger UI from the server itself (no external assets, no inline script)."""
    page = httpx.get(fuzz_server.url + "/api/docs")
    assert page.status_code == 200 and "https://" not in page.text and "<script>" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for asset in ("swagger-ui/swagger-ui-bundle.js", "swagger-ui/swagger-ui.css", "docs.js"):
        assert httpx.get(f"{fuzz_server.url}/api/docs/static/{asset}").status_code == 200, asset
    assert "/api/openapi.json" in httpx.get(fuzz_server.url + "/api/docs/static/docs.js").text


def _operations() -> list[schemathesis.APIOperation]:
    """The operations of the document the server serves, built in-process for test collection."""
    document = build_document(all_endpoints(), load_settings(environ={}))
    schema = schemathesis.openapi.from_dict(document)
    return [result.ok() for result in schema.get_all_operations()]


OPERATIONS = _operations()
#: fuzzed on a server of their own: logout could end the fuzzing identity's access, and
#: update_global_state could pause the scheduler for everything fuzzed after it
ISOLATED = ("/api/user/logout", "/api/app/update_global_state/v1")
SHARED_OPERATIONS = [op for op in OPERATIONS if op.path not in ISOLATED]
ISOLATED_OPERATIONS = [op for op in OPERATIONS if op.path in ISOLATED]
#: endpoints that answer plain text (logs) or an event stream on success or token failure
RAW_BODY = (
    "/view_job_log/v1",
    "/download_job_log/v1",
    "/get_job_log/v1",
    "/stream_job/v1",
    "/form/v1",
)


def wait_for_log_marker(server: Server, timeout_s: float = 10) -> None:
    """Make one request the access log records and wait until its line is read, so every line the
    server wrote before it is in ``server.output`` too."""
    marker = f"log_marker_{uuid.uuid4().hex}"
    read_before = len(server.output)
    httpx.get(f"{server.url}/api/app/{marker}/v1", timeout=30)
    deadline = time.monotonic() + timeout_s
    while not any(marker in line for line in server.output[read_before:]):
        assert time.monotonic() < deadline, f"the access log never showed {marker}"
        time.sleep(0.02)


def fuzz(operation: schemathesis.APIOperation, server: Server) -> None:
    """Send generated requests (valid and invalid) to ``operation``: none gets a 5xx, a traceback or a
    body of the wrong kind, and the server logs no internal error meanwhile."""
    logged_before = len(server.output)
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
    @given(case=strategy)
    def answers_cleanly(case: schemathesis.Case) -> None:
        response = case.call(base_url=server.url, headers={"X-API-Key": ADMIN_KEY}, timeout=30)
        assert response.status_code < 500, (operation.label, response.status_code, response.text[:500])
        assert "Traceback" not in response.text
        content_type = (response.headers.get("content-type") or [""])[0]
        if operation.path.endswith(RAW_BODY):
            assert (
                content_type.startswith(("text/plain", "text/html", "text/event-stream", "application/json"))
                or not response.content
            )
        else:
            assert content_type.startswith("application/json")
            assert "code" in response.json()

    answers_cleanly()
    wait_for_log_marker(server)
    errors = [line for line in server.output[logged_before:] if "internal error" in line or "Traceback" in line]
    assert not errors, "".join(errors)[:3000]


def test_isolated_operations_exist() -> None:
    """Each operation fuzzed on a server of its own is one the document has (a renamed path must not
    silently drop out of fuzzing)."""
    assert sorted(op.path for op in ISOLATED_OPERATIONS) == sorted(ISOLATED)
    assert len(SHARED_OPERATIONS) + len(ISOLATED_OPERATIONS) == len(OPERATIONS)


@pytest.mark.parametrize("operation", SHARED_OPERATIONS, ids=[op.label for op in SHARED_OPERATIONS])
def test_fuzz_no_server_errors(operation: schemathesis.APIOperation, fuzz_server: Server) -> None:
    """Generated requests (valid and invalid) never get a 5xx or a traceback, nor log an internal error."""
    fuzz(operation, fuzz_server)


@pytest.mark.parametrize("operation", ISOLATED_OPERATIONS, ids=[op.label for op in ISOLATED_OPERATIONS])
def test_fuzz_isolated_operation(operation: schemathesis.APIOperation, own_server: Server) -> None:
    """Fuzzing an operation with global side effects never gets a 5xx, and the administrator's key
    still works afterwards."""
    fuzz(operation, own_server)
    assert own_server.client().ok("get_events")["code"] == 0
