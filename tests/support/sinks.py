"""Local peers for action tests: an SMTP sink and an HTTP receiver, both on 127.0.0.1 only."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",)) or self.message
        return str(part.get_content())


class _SmtpHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.sink.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


class SmtpSink:
    """An SMTP server that keeps every message it receives."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.port = free_port()
        self._controller = Controller(_SmtpHandler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def wait(self, count: int, timeout_s: float = 10) -> list[Mail]:
        deadline = time.time() + timeout_s
        while len(self.mails) < count and time.time() < deadline:
            time.sleep(0.02)
        return list(self.mails)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpReceiver:
    """An HTTP server that records requests; ``/status/NNN`` answers NNN, ``/slow`` never answers in time."""

    requests: list[Request] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    url: str = ""

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                receiver.requests.append(
                    Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                status = 200
                if self.path.startswith("/status/"):
                    status = int(self.path.split("/")[2])
                if self.path.startswith("/slow"):
                    time.sleep(5)
                payload = b'{"ok":true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def matching(self, fragment: str) -> list[Request]:
        return [r for r in self.requests if fragment in r.path]

    def wait(self, fragment: str, count: int, timeout_s: float = 10) -> list[Request]:
        deadline = time.time() + timeout_s
        while len(self.matching(fragment)) < count and time.time() < deadline:
            time.sleep(0.02)
        return self.matching(fragment)
