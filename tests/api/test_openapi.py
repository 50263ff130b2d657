"""The OpenAPI document, and a bounded property-based fuzzing run against it (schemathesis).

The fuzzing server is a fresh one of its own (fuzzing as an administrator changes global state).
Every generated request must answer a JSON envelope below HTTP 500 with no traceback in it.
"""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def fuzz_server(server_factory: StartServer) -> Server:
    return server_factory("sqlite")


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
#: would end the fuzzing identity's access or pause the scheduler
SKIPPED = ("/logout", "/update_global_state")
#: endpoints that answer plain text (logs) or an event stream on success or token failure
RAW_BODY = (
    "/view_job_log/v1",
    "/download_job_log/v1",
    "/get_job_log/v1",
    "/stream_job/v1",
    "/form/v1",
)


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_fuzz_no_server_errors(operation: schemathesis.APIOperation, data: st.DataObject, fuzz_server: Server) -> None:
    """Generated requests (valid and invalid) never get a 5xx or a traceback."""
    if operation.path.endswith(SKIPPED):
        return
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))
    case = data.draw(strategy)
    response = case.call(base_url=fuzz_server.url, headers={"X-API-Key": ADMIN_KEY}, timeout=30)
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


def test_fuzzing_left_no_internal_errors_in_the_log(fuzz_server: Server) -> None:
    """After fuzzing (runs after the tests above), the server log holds no internal error."""
    log = "".join(fuzz_server.output)
    assert "internal error" not in log and "Traceback" not in log, log[-3000:]
