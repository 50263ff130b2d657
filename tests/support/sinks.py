"""Local peers for the notification, action and network-policy tests, all on a loopback address and
port 0, usable as context managers or with ``start()``/``stop()``.

- :class:`SmtpSink`: an aiosmtpd server that records every delivered message (optionally requiring
  a login, or speaking TLS); recipients ``@refused.test`` are refused.
- :class:`HttpReceiver`: a threaded HTTP(S) server that records requests and answers by path.
- :class:`SilentServer`: accepts TCP connections and never sends a byte.
- :func:`closed_port`: a port nobody listens on; :func:`wait_until`: poll a predicate with a deadline.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import http.server
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

REFUSED_DOMAIN = "@refused.test"


def wait_until(predicate: Callable[[], object], timeout_s: float = 3.0) -> bool:
    """Poll ``predicate`` until it is true or ``timeout_s`` passes; returns its last verdict."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


# ---- SMTP


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

    @property
    def sender(self) -> str:
        return self.mail_from

    @property
    def recipients(self) -> list[str]:
        return self.rcpt_tos

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str:
        """The plain-text part, or the whole body of a single-part message."""
        part = self.message.get_body(preferencelist=("plain",)) or self.message
        return str(part.get_content())


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
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def _check_login(server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"robot", b"s3cret")
    return AuthResult(success=ok, handled=False)


class SmtpSink:
    """A recording SMTP server on 127.0.0.1; ``auth=True`` requires the login robot/s3cret (no TLS
    needed), ``ssl_context`` makes it speak implicit TLS. ``port`` is known once started."""

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
        """Every message received so far, oldest first (the live list)."""
        return self.handler.deliveries

    @property
    def mails(self) -> list[Delivery]:
        """The same list as :attr:`deliveries`."""
        return self.handler.deliveries

    def wait(self, count: int, timeout_s: float = 10) -> list[Delivery]:
        """Wait until ``count`` messages have arrived (or ``timeout_s`` passed); a copy of them all."""
        wait_until(lambda: len(self.deliveries) >= count, timeout_s)
        return list(self.deliveries)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- HTTP


@dataclass
class Request:
    """One request as the HTTP receiver saw it: ``path`` keeps the query string, ``headers`` has
    lower-case names (the first value of a repeated header), ``raw_headers`` every header as sent."""

    method: str
    path: str
    raw_headers: list[tuple[str, str]]
    body: bytes
    headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.headers = {}
        for name, value in self.raw_headers:
            self.headers.setdefault(name.lower(), value)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def header_names(self) -> set[str]:
        return set(self.headers)


class ReceiverUrl(str):
    """A receiver's base URL (``http://127.0.0.1:PORT``, no trailing slash): add a path to it, or
    call it — ``url("/x")`` — optionally naming the server by another ``host`` or ``scheme``."""

    scheme: str
    host: str
    port: int

    def __new__(cls, scheme: str, host: str, port: int) -> ReceiverUrl:
        url = super().__new__(cls, f"{scheme}://{_url_host(host)}:{port}")
        url.scheme, url.host, url.port = scheme, host, port
        return url

    def __call__(self, path: str = "/", host: str | None = None, scheme: str | None = None) -> str:
        return f"{scheme or self.scheme}://{_url_host(host or self.host)}:{self.port}{path}"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@dataclass
class _Behaviour:
    requests: list[Request] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Routes: ``/status/<code>``, ``/flaky`` (500 once, then 200), ``/redirect`` (302 to its ``to``
    query value, else to ``/status/200``), ``/loop`` (302 to itself), ``/garbage`` (not HTTP),
    ``/big`` (100 KB), ``/slow`` (answers after 5 s), anything else 200 "ok" with a session cookie."""

    behaviour: _Behaviour
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        path = split.path
        with self.behaviour.lock:
            self.behaviour.requests.append(Request(self.command, self.path, list(self.headers.items()), body))
            hit = self.behaviour.hits[path] = self.behaviour.hits.get(path, 0) + 1
        if path == "/garbage":
            self.wfile.write(b"THIS IS NOT HTTP\r\n\r\n")
            self.close_connection = True
            return
        if path.startswith("/status/"):
            code = path.rsplit("/", 1)[1]
            self._reply(int(code), f"status {code}".encode())
        elif path == "/flaky":
            self._reply(500 if hit == 1 else 200, b"flaky")
        elif path == "/redirect":
            target = parse_qs(split.query).get("to", ["/status/200"])[0]
            self._reply(302, b"", [("Location", target)])
        elif path == "/loop":
            self._reply(302, b"", [("Location", "/loop")])
        elif path == "/big":
            self._reply(200, b"x" * 100_000)
        elif path == "/slow":
            time.sleep(5)
            self._reply(200, b"slow")
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
    # a peer may keep a connection open (HTTP/1.1) for as long as it likes: stopping must not wait for it
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # aborted handshakes, clients that hang up on /slow: expected, not worth a traceback


class HttpReceiver:
    """A recording HTTP(S) server on ``host`` (a loopback address, ``::1`` included) and port 0.

    ``url`` is the base URL (``receiver.url + "/x"`` or ``receiver.url("/x")``); ``requests`` the
    requests received so far, oldest first. With ``ssl_context`` it speaks HTTPS; the handshake
    happens in the handler thread, so a client that aborts it cannot block the others.
    """

    def __init__(self, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None) -> None:
        self.behaviour = _Behaviour()
        handler = type("Handler", (_Handler,), {"behaviour": self.behaviour})
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("Server", (_Server,), {"address_family": family})
        self._server = server_class((host, 0), handler)
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self.port = int(self._server.server_address[1])
        self.url = ReceiverUrl("https" if ssl_context else "http", host, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def requests(self) -> list[Request]:
        with self.behaviour.lock:
            return list(self.behaviour.requests)

    def matching(self, fragment: str) -> list[Request]:
        """The requests whose path (query included) contains ``fragment``."""
        return [r for r in self.requests if fragment in r.path]

    def wait(self, fragment: str, count: int, timeout_s: float = 10) -> list[Request]:
        """Wait until ``count`` requests match ``fragment`` (or ``timeout_s`` passed); return the matches."""
        wait_until(lambda: len(self.matching(fragment)) >= count, timeout_s)
        return self.matching(fragment)

    def start(self) -> HttpReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()

    def __enter__(self) -> HttpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- plain TCP


class SilentServer:
    """Accepts connections on 127.0.0.1 and holds them open without ever answering."""

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
