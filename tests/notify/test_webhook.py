"""Web hook requests (limits-actions.md §5) against a recording HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any

import httpx

from cronwright.notify import Outcome, fire_web_hook, message_text
from tests.notify.samples import hook_data
from tests.support.sinks import HttpReceiver, SilentServer, closed_port


def fire(
    hook: dict[str, Any], data: dict[str, Any] | None = None, *, shared_client: bool = False
) -> tuple[Outcome, float]:
    async def main() -> Outcome:
        if not shared_client:
            return await fire_web_hook(hook, data or hook_data())
        async with httpx.AsyncClient(trust_env=False) as client:  # a shared client, as the engine passes
            return await fire_web_hook(hook, data or hook_data(), client=client, user_agent="Cronwright/test")

    started = time.monotonic()
    outcome = asyncio.run(main())
    return outcome, time.monotonic() - started


def test_macros_render_in_url_headers_and_body(receiver: HttpReceiver) -> None:
    """Case 211: query, header value and body carry the rendered values (``code=0`` for success)."""
    hook = {
        "method": "POST",
        "url": receiver.url("/tpl?job={{job.id}}&event={{event.id}}"),
        "headers": [{"name": "X-Event", "value": "{{event.id}}"}, {"name": "Content-Type", "value": "text/plain"}],
        "body": "code={{job.code}}|param={{job.params.greeting}}|data={{job.data.answer}}",
    }
    outcome, _ = fire(hook)
    assert (outcome.code, outcome.description) == (0, "Success (HTTP 200 OK)")
    [request] = receiver.requests
    assert request.method == "POST"
    assert request.path == "/tpl?job=jtest1&event=etest1"
    assert request.header("X-Event") == "etest1"
    assert request.header("Content-Type") == "text/plain"
    assert request.body == b"code=0|param=hello|data=42"


def test_only_configured_headers_are_sent(receiver: HttpReceiver) -> None:
    """Besides the hook's headers only Host, Content-Length and User-Agent go out, even on a shared client."""
    hook = {"method": "POST", "url": receiver.url("/h"), "body": "{}",
            "headers": [{"name": "Content-Type", "value": "application/json"}]}  # fmt: skip
    outcome, _ = fire(hook, shared_client=True)
    assert outcome.code == 0
    [request] = receiver.requests
    assert request.header_names == {"host", "content-length", "content-type", "user-agent"}
    assert request.header("Content-Type") == "application/json"
    assert request.header("User-Agent") == "Cronwright/test"


def test_no_content_type_is_invented(receiver: HttpReceiver) -> None:
    """A hook without a Content-Type header sends its body without one."""
    outcome, _ = fire({"method": "PUT", "url": receiver.url("/plain"), "body": "raw text"})
    assert outcome.code == 0
    [request] = receiver.requests
    assert request.header("Content-Type") is None and request.body == b"raw text"


def test_get_and_head_send_no_body(receiver: HttpReceiver) -> None:
    """Case 211: a GET (or HEAD) hook sends no body at all, even when one is configured."""
    for method in ("GET", "HEAD"):
        outcome, _ = fire({"method": method, "url": receiver.url("/get"), "body": "ignored {{job.id}}"})
        assert outcome.code == 0
    assert [(r.method, r.body, r.header("Content-Length")) for r in receiver.requests] == [
        ("GET", b"", None),
        ("HEAD", b"", None),
    ]


def test_text_ends_with_the_action_text(receiver: HttpReceiver) -> None:
    """Case 210: ``{{text}}`` is the message text followed by the action's text."""
    data = hook_data()
    data["text"] = message_text(data, None) + " T"
    outcome, _ = fire({"method": "POST", "url": receiver.url("/t"), "body": "{{text}}"}, data)
    assert outcome.code == 0
    [request] = receiver.requests
    assert request.body.decode().startswith("Cronwright Job completed successfully on box.local: Nightly Backup")
    assert request.body.endswith(b" T")


def test_undefined_values(receiver: HttpReceiver) -> None:
    """Undefined values render "N/A" in the URL and nothing in headers and body."""
    hook = {"method": "POST", "url": receiver.url("/u?x={{nope}}"), "body": "[{{nope}}]",
            "headers": [{"name": "X-Nope", "value": "a{{nope}}b"}]}  # fmt: skip
    assert fire(hook)[0].code == 0
    [request] = receiver.requests
    assert (request.path, request.body, request.header("X-Nope")) == ("/u?x=N/A", b"[]", "ab")


def test_non_2xx_is_a_webhook_error(receiver: HttpReceiver) -> None:
    """HTTP 500 gives code "webhook" with the status as description and the response in the details."""
    outcome, _ = fire({"method": "POST", "url": receiver.url("/status/500"), "body": "x"})
    assert (outcome.code, outcome.description) == ("webhook", "HTTP 500 Internal Server Error")
    assert "**Response:** HTTP 500 Internal Server Error" in outcome.details
    assert "status 500" in outcome.details


def test_connection_refused_fails_fast() -> None:
    """A closed port gives code "webhook" "Connection refused" quickly."""
    outcome, took = fire({"method": "POST", "url": f"http://127.0.0.1:{closed_port()}/x", "timeout": 10})
    assert (outcome.code, outcome.description) == ("webhook", "Connection refused")
    assert "**Error:** Connection refused" in outcome.details
    assert took < 2.0


def test_silent_receiver_times_out(silent_server: SilentServer) -> None:
    """A server that never answers fails within the hook's ``timeout``."""
    url = f"http://127.0.0.1:{silent_server.port}/x"
    outcome, took = fire({"method": "POST", "url": url, "timeout": 1, "body": "x"})
    assert outcome.code == "webhook"
    assert outcome.description == "Timed out after 1 s (waiting for the response)"
    assert 0.9 <= took < 2.5


def test_garbage_response_is_a_webhook_error(receiver: HttpReceiver) -> None:
    """Bytes that are not HTTP give code "webhook" with "Invalid HTTP response"."""
    outcome, _ = fire({"method": "POST", "url": receiver.url("/garbage"), "timeout": 5})
    assert outcome.code == "webhook" and outcome.description.startswith("Invalid HTTP response")


def test_retry_after_a_failure(receiver: HttpReceiver) -> None:
    """With ``retries: 1`` a failing first attempt is followed by one more, which succeeds."""
    outcome, _ = fire({"method": "POST", "url": receiver.url("/flaky"), "retries": 1})
    assert (outcome.code, outcome.description) == (0, "Success (HTTP 200 OK)")
    assert len(receiver.requests) == 2
    assert "**Attempts:** 2" in outcome.details and "HTTP 500 Internal Server Error" in outcome.details


def test_retries_are_only_spent_on_failures(receiver: HttpReceiver) -> None:
    """A success sends exactly one request; a persistent failure sends 1 + ``retries``."""
    assert fire({"method": "POST", "url": receiver.url("/status/204"), "retries": 3})[0].code == 0
    outcome, took = fire({"method": "POST", "url": receiver.url("/status/503"), "retries": 2})
    assert outcome.code == "webhook"
    assert [r.path for r in receiver.requests] == ["/status/204"] + ["/status/503"] * 3
    assert took < 3.0


def test_redirects_followed_only_with_follow(receiver: HttpReceiver) -> None:
    """Without ``follow`` a 302 is a failure; with it the target answers and the hop is reported."""
    refused, _ = fire({"method": "GET", "url": receiver.url("/redirect")})
    assert (refused.code, refused.description) == ("webhook", "HTTP 302 Found")
    followed, _ = fire({"method": "GET", "url": receiver.url("/redirect"), "follow": True})
    assert followed.code == 0 and "**Redirects:**" in followed.details
    assert [r.path for r in receiver.requests] == ["/redirect", "/redirect", "/status/200"]


def test_redirect_loop_stops(receiver: HttpReceiver) -> None:
    """An endless redirect loop stops after 32 hops with a clear description."""
    outcome, _ = fire({"method": "GET", "url": receiver.url("/loop"), "follow": True})
    assert (outcome.code, outcome.description) == ("webhook", "Too many redirects (more than 32)")
    assert len(receiver.requests) == 33


def test_details_mask_secrets(receiver: HttpReceiver) -> None:
    """The report (shown to every reader of the job) masks every request header value but plain
    protocol ones, and the URL's user-info, path and query values (docs/security.md)."""
    hook = {
        "method": "POST",
        "url": receiver.url("/s?token=qs-secret-value&job={{job.id}}").replace("http://", "http://user:url-secret@"),
        "headers": [
            {"name": "Authorization", "value": "Bearer header-secret-value"},
            {"name": "X-API-Key", "value": "key-secret-value"},
            {"name": "X-Visible", "value": "shown"},
        ],
        "body": "hello",
    }
    outcome, _ = fire(hook)
    assert outcome.code == 0
    assert receiver.requests[0].header("Authorization") == "Bearer header-secret-value"
    details = outcome.details
    for secret in ("qs-secret-value", "url-secret", "header-secret-value", "key-secret-value", "cookie-secret-value"):
        assert secret not in details
    assert "Authorization: ********" in details and "X-Visible: ********" in details
    assert "User-Agent: " in details and "User-Agent: ********" not in details
    assert "/********?token=********&job=********" in details and "/s?" not in details
    assert details.startswith("**Request:** POST http://********@127.0.0.1:")
    assert "**Request Body:** (5 bytes)" in details and "hello" in details


def test_large_response_is_truncated_in_details(receiver: HttpReceiver) -> None:
    """Response bodies are cut at 32 KB in the report."""
    outcome, _ = fire({"method": "GET", "url": receiver.url("/big")})
    assert outcome.code == 0
    assert "x" * 32768 in outcome.details and "x" * 32769 not in outcome.details
    assert "truncated" in outcome.details


def test_invalid_urls_never_send() -> None:
    """A URL that renders to something unusable gives "Invalid URL" without any request."""
    for url in ("{{job.params.hook_url}}", "ftp://x.test/", "http://", "http://[::1"):
        outcome, _ = fire({"method": "POST", "url": url})
        assert outcome.code == "webhook" and outcome.description.startswith("Invalid URL"), url
    assert fire({"method": "POST", "url": "{{nope}}"})[0].description == "Invalid URL: N/A"


def test_self_signed_certificate(server_tls: ssl.SSLContext) -> None:
    """HTTPS with an untrusted certificate fails unless ``ssl_cert_bypass`` is set."""
    with HttpReceiver(ssl_context=server_tls) as secure:
        checked, _ = fire({"method": "GET", "url": secure.url("/tls"), "timeout": 5}, shared_client=True)
        bypassed, _ = fire({"method": "GET", "url": secure.url("/tls"), "ssl_cert_bypass": True}, shared_client=True)
        assert len(secure.requests) == 1
    assert checked.code == "webhook" and checked.description.startswith("TLS error")
    assert bypassed.code == 0


def test_url_credentials_become_basic_auth_unless_a_header_is_set(receiver: HttpReceiver) -> None:
    """``http://user:pass@host`` sends Basic auth; a configured Authorization header wins over it."""
    url = receiver.url("/auth").replace("http://", "http://user:pw@")
    assert fire({"method": "GET", "url": url})[0].code == 0
    own = [{"name": "Authorization", "value": "Token abc"}]
    assert fire({"method": "GET", "url": url, "headers": own})[0].code == 0
    assert [r.header("Authorization") for r in receiver.requests] == ["Basic dXNlcjpwdw==", "Token abc"]


def test_unusable_hook_definitions_fail_without_raising(receiver: HttpReceiver) -> None:
    """Bad methods, header lists or header names give "webhook" outcomes and send nothing."""
    url = receiver.url("/x")
    cases = {
        "Invalid HTTP method: P OST": {"method": "P OST", "url": url},
        "Invalid header format for web hook (headers must be an array)": {"method": "POST", "url": url, "headers": "x"},
        "Invalid request: Illegal header name b'Bad Name'": {
            "method": "POST",
            "url": url,
            "headers": [{"name": "Bad Name", "value": "v"}],
        },
    }
    for description, hook in cases.items():
        outcome, _ = fire(hook)
        assert (outcome.code, outcome.description) == ("webhook", description)
    assert receiver.requests == []
