"""Issue 8 point 5 (server log part): web hook URLs, headers and bodies never reach the server log.

A real server at log level ``info`` and ``debug`` fires a hook whose URL carries user-info, a secret
path and a ``token=`` query, with an ``Authorization`` header and a secret body; the receiver answers
with a secret response header. After the hook completed, the server's whole output holds none of them.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cronwright.notify import fire_web_hook
from tests.api.helpers import create_event, run_wait, uid
from tests.conftest import StartServer
from tests.support.server import Server

SECRETS = {
    "url password": "UrlPassw0rdSecret",
    "path": "PathSegmentSecret",
    "query token": "QueryTokenSecret",
    "other query": "PlainQueryValueSecret",
    "header": "HeaderBearerSecret",
    "custom header": "CustomHeaderSecret",
    "body": "BodyContentSecret",
    "response header": "ReplyHeaderSecret",
}


class Receiver:
    """An HTTP server on 127.0.0.1 counting requests; its answer carries a secret response header."""

    def __init__(self) -> None:
        self.count = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.count += 1
                self.send_response(200)
                self.send_header("Set-Cookie", f"session={SECRETS['response header']}")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """The module's receiver."""
    server = Receiver()
    yield server
    server.close()


def secret_hook(port: int) -> dict[str, Any]:
    """A web hook definition carrying every secret of :data:`SECRETS` except the response header."""
    s = SECRETS
    return {
        "title": "Secret hook",
        "method": "POST",
        "url": f"http://robot:{s['url password']}@127.0.0.1:{port}/hooks/{s['path']}"
        f"?token={s['query token']}&channel={s['other query']}",
        "headers": [
            {"name": "Authorization", "value": f"Bearer {s['header']}"},
            {"name": "X-Custom", "value": s["custom header"]},
        ],
        "body": f"payload={s['body']}",
        "timeout": 5,
    }


def leaked(output: list[str]) -> list[str]:
    """The names of the secrets that appear anywhere in the server's output."""
    text = "".join(output)
    return [name for name, value in SECRETS.items() if value in text]


def wait_for_log(server: Server, marker: str, timeout_s: float = 15) -> None:
    """Wait until ``marker`` (the hook's own log line) or any secret shows up in the output."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if marker in "".join(server.output) or leaked(server.output):
            return
        time.sleep(0.05)


@pytest.mark.parametrize("level", ["info", "debug"])
def test_hook_secrets_never_reach_the_server_log(server_factory: StartServer, receiver: Receiver, level: str) -> None:
    """``test_web_hook`` and a job's web hook action log only method, origin and result, at info and debug."""
    server = server_factory("sqlite", env={"CRONWRIGHT_LOG_LEVEL": level})
    api = server.client()
    before = receiver.count
    hook = secret_hook(receiver.port)
    result = api.ok("test_web_hook", hook)["result"]
    assert result["code"] == 0, result
    hook_id = uid("hook")
    api.ok("create_web_hook", {"id": hook_id, **hook})
    actions = [{"enabled": True, "condition": "success", "type": "web_hook", "web_hook": hook_id}]
    job = run_wait(api, create_event(api, params={"script": "#!/bin/sh\necho ok\n"}, actions=actions)["id"])
    assert job["actions"][0]["code"] == 0, job["actions"]
    assert receiver.count == before + 2
    marker = f"Web hook POST http://127.0.0.1:{receiver.port}: Success (HTTP 200 OK)"
    wait_for_log(server, marker)
    assert leaked(server.output) == []
    assert "".join(server.output).count(marker) == 2


def test_invalid_header_value_is_not_echoed(receiver: Receiver) -> None:
    """A header value the HTTP library refuses is reported without its (possibly secret) content."""
    hook = {"method": "POST", "url": f"http://127.0.0.1:{receiver.port}/x",
            "headers": [{"name": "Authorization", "value": f"Bearer {SECRETS['header']}\x00"}]}  # fmt: skip
    outcome = asyncio.run(fire_web_hook(hook, {}))
    assert outcome.code == "webhook"
    assert outcome.description == "Invalid request: a header value holds a character HTTP does not allow"
    assert SECRETS["header"] not in outcome.description + outcome.details
