"""Local servers for the notification tests, all bound to 127.0.0.1 on port 0.

- :class:`SmtpSink`: an aiosmtpd server that records every delivered message.
- :class:`HttpReceiver`: a threaded HTTP server that records requests and answers by path.
- :class:`SilentServer`: accepts TCP connections and never sends a byte.
- :func:`closed_port`: a port nobody listens on.
"""

from __future__ import annotations

import email
import email.policy
import http.server
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

REFUSED_DOMAIN = "@refused.test"


@dataclass
class Delivery:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def part(self, subtype: str) -> str:
        """The decoded ``text/<subtype>`` part of the message."""
        found = self.message.get_body(preferencelist=(subtype,))
        assert found is not None, f"no text/{subtype} part"
        return str(found.get_content())


class _SinkHandler:
    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []

    async def handle_RCPT(self, server: Any, session: Session, envelope: Envelope, address: str, options: Any) -> str:
        if address.endswith(REFUSED_DOMAIN):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.deliveries.append(Delivery(str(envelope.mail_from), list(envelope.rcpt_tos), message))
        return "250 Message accepted"


class _PortZeroController(Controller):
    """aiosmtpd's threaded controller, learning the real port when bound to port 0."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def _check_login(server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"robot", b"s3cret")
    return AuthResult(success=ok, handled=False)


class SmtpSink:
    """A recording SMTP server; ``auth=True`` requires the login robot/s3cret (no TLS needed)."""

    def __init__(self, *, auth: bool = False, ssl_context: ssl.SSLContext | None = None) -> None:
        self.handler = _SinkHandler()
        extra: dict[str, Any] = {}
        if auth:
            extra = {"authenticator": _check_login, "auth_required": True, "auth_require_tls": False}
        self._controller = _PortZeroController(
            self.handler,
            hostname="127.0.0.1",
            port=0,
            ssl_context=ssl_context,
            ready_timeout=10,
            server_hostname="sink.localhost",  # else aiosmtpd asks DNS for the host's FQDN
            **extra,
        )

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def deliveries(self) -> list[Delivery]:
        return self.handler.deliveries

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


class SilentServer:
    """Accepts connections and holds them open without ever answering."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self.port = self._listener.getsockname()[1]

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._connections.append(connection)

    @property
    def accepted(self) -> int:
        return len(self._connections)

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for connection in self._connections:
            connection.close()
        self._listener.close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was just released)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


@dataclass
class Request:
    """One request as the HTTP receiver saw it."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    @property
    def header_names(self) -> set[str]:
        return {key.lower() for key, _ in self.headers}


@dataclass
class _Behaviour:
    requests: list[Request] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Routes: /status/<code>, /flaky (500 once, then 200), /redirect (→ /status/200), /loop (→ itself),
    /garbage (not HTTP), /big (100 KB), anything else 200 "ok" with a session cookie."""

    behaviour: _Behaviour
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        with self.behaviour.lock:
            self.behaviour.requests.append(Request(self.command, self.path, list(self.headers.items()), body))
            hit = self.behaviour.hits[path] = self.behaviour.hits.get(path, 0) + 1
        if path == "/garbage":
            self.wfile.write(b"THIS IS NOT HTTP\r\n\r\n")
            self.close_connection = True
            return
        if path.startswith("/status/"):
            self._reply(int(path.rsplit("/", 1)[1]), f"status {path.rsplit('/', 1)[1]}".encode())
        elif path == "/flaky":
            self._reply(500 if hit == 1 else 200, b"flaky")
        elif path in ("/redirect", "/loop"):
            self._reply(302, b"", [("Location", "/status/200" if path == "/redirect" else "/loop")])
        elif path == "/big":
            self._reply(200, b"x" * 100_000)
        else:
            self._reply(200, b"ok", [("Set-Cookie", "session=cookie-secret-value")])

    def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers or []:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = _handle


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class HttpReceiver:
    """A recording HTTP(S) server on 127.0.0.1:0; ``url(path)`` gives its address."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.behaviour = _Behaviour()
        handler = type("Handler", (_Handler,), {"behaviour": self.behaviour})
        self._server = _Server(("127.0.0.1", 0), handler)
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self._scheme = "https" if ssl_context else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    def url(self, path: str = "/") -> str:
        return f"{self._scheme}://127.0.0.1:{self._server.server_address[1]}{path}"

    @property
    def requests(self) -> list[Request]:
        with self.behaviour.lock:
            return list(self.behaviour.requests)

    def __enter__(self) -> HttpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()


def wait_until(predicate: Any, timeout_s: float = 3.0) -> bool:
    """Poll ``predicate`` until it is true or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())
