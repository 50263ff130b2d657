"""The HTTP connection guard: uvicorn's httptools protocol with the limits it lacks.

uvicorn closes a keep-alive connection that stays idle after a response, but it never times out
a request whose headers or body trickle in, never limits the size of request headers, waits
forever for a client that stops reading, and its ``limit_concurrency`` answers 503 only once a
request's headers are complete — a slowloris client holds its socket (and a file descriptor the
server's jobs need) for as long as it likes. ``guarded_protocol(limits)`` returns a protocol class
that, per connection:

- refuses the connection at once (503, closed) when ``max_connections`` are already open;
- closes it when complete request headers have not arrived ``header_timeout_s`` after it opened,
  or after the first byte of a later request on a kept-alive connection (a total, so trickling
  bytes does not extend it; 408 when part of a request arrived);
- answers 400 and closes it when one request's line and headers exceed ``MAX_HEADER_BYTES``;
- ends a request whose body stalls for ``body_timeout_s`` between two pieces (408, closed) —
  unless the server itself paused reading because the application has not consumed the body yet;
- aborts it when the client accepted no response data for ``send_timeout_s`` (the transport's
  write buffer stayed full);
- closes it after ``keepalive_timeout_s`` idle between requests (uvicorn's own timer).

Time spent by the application on a request (a long ``/wait``, a stream) is never limited here.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from cronwright import jsonutil

log = logging.getLogger("cronwright.http")

#: the most bytes of request line plus headers accepted for one request
MAX_HEADER_BYTES = 64 * 1024
#: the soft RLIMIT_NOFILE is raised to the hard limit at start, but not beyond this
OPEN_FILES_TARGET = 65536
#: seconds between two warnings about refused connections
_WARN_EVERY_S = 10.0


@dataclass(frozen=True)
class HttpLimits:
    header_timeout_s: float
    body_timeout_s: float
    send_timeout_s: float
    keepalive_timeout_s: float
    max_connections: int


def guarded_protocol(limits: HttpLimits) -> type[GuardedHttpProtocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` enforcing ``limits``."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), {"limits": limits, "refused": _RefusalLog()})


def raise_open_files_limit(target: int = OPEN_FILES_TARGET) -> int:
    """Raise the soft limit of open files towards the hard limit (at most ``target``); returns the
    soft limit now in force. Job processes inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = target if hard == resource.RLIM_INFINITY else min(hard, target)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open files limit from %d to %d: %s", soft, wanted, exc)
    return target if soft == resource.RLIM_INFINITY else soft


def connection_budget(max_connections: int, open_files: int) -> int:
    """The connection cap that leaves a quarter of the process's file descriptors (at least
    ``min(256, half)``) to job pipes, log files and the database."""
    reserve = max(open_files // 4, min(256, open_files // 2))
    return max(1, min(max_connections, open_files - reserve))


def _response(status: HTTPStatus, description: str) -> bytes:
    body = jsonutil.dumps({"code": "api", "description": description})
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _RefusalLog:
    """Counts refused connections and logs them at most every ``_WARN_EVERY_S`` seconds."""

    def __init__(self) -> None:
        self.count = 0
        self._last = 0.0

    def note(self, cap: int) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self._last >= _WARN_EVERY_S:
            self._last = now
            log.warning("connection cap reached (%d): %d connection(s) refused so far", cap, self.count)


class _HeadersTooLarge(Exception):
    """Raised from a parser callback: httptools turns it into ``HttpParserCallbackError``."""


class GuardedHttpProtocol(HttpToolsProtocol):
    limits: ClassVar[HttpLimits]
    refused: ClassVar[_RefusalLog]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn's keep-alive timer, in seconds (uvicorn types it as int; call_later takes a float)
        self.timeout_keep_alive = self.limits.keepalive_timeout_s  # type: ignore[assignment]
        self._refused = False
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._send_timer: asyncio.TimerHandle | None = None
        self._partial_request = False  # part of a request arrived, its headers are not complete
        self._header_bytes = 0
        self._answered = False  # this protocol already wrote its own error response

    # ---- connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self._refused = True
            self.transport = transport
            self.refused.note(self.limits.max_connections)
            transport.write(_response(HTTPStatus.SERVICE_UNAVAILABLE, "Too many connections; try again later."))
            transport.close()
            return
        super().connection_made(transport)
        self._header_timer = self.loop.call_later(self.limits.header_timeout_s, self._headers_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._header_timer, self._body_timer, self._send_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._body_timer = self._send_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused or self._answered:
            return
        if self.timeout_keep_alive_task is not None and self._header_timer is None:
            # the first bytes after an idle keep-alive period: the next headers are due from now,
            # even when these bytes are only blank lines that start no request
            self._arm_header_timer()
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        if self._answered:
            return
        self._answered = True
        if self._header_bytes > MAX_HEADER_BYTES:
            msg = f"Request headers are too large (limit {MAX_HEADER_BYTES} bytes)."
        super().send_400_response(msg)

    # ---- parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._partial_request = True
        self._header_bytes = 0
        if self._header_timer is None:
            self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        self._count_header_bytes(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._partial_request = False
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().on_headers_complete()
        self._arm_body_timer()

    def on_body(self, body: bytes) -> None:
        self._arm_body_timer()
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    # ---- flow control

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self.limits.send_timeout_s, self._send_timed_out)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    # ---- timers

    def _count_header_bytes(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES:
            raise _HeadersTooLarge

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.limits.header_timeout_s, self._headers_timed_out)

    def _arm_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
        self._body_timer = self.loop.call_later(self.limits.body_timeout_s, self._body_timed_out)

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        idle = self.cycle is None or self.cycle.response_complete
        if self._partial_request and idle:
            text = f"Request headers not received within {self.limits.header_timeout_s:g} s."
            self.transport.write(_response(HTTPStatus.REQUEST_TIMEOUT, text))
        self._answered = True
        self.transport.close()

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused and self.cycle is not None and not self.cycle.response_complete:
            self._arm_body_timer()  # the application has not read what arrived: not the client's stall
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            text = f"Request body stalled for more than {self.limits.body_timeout_s:g} s."
            self.transport.write(_response(HTTPStatus.REQUEST_TIMEOUT, text))
        if cycle is not None:
            cycle.disconnected = True  # the application sees a disconnect; its late answer is dropped
            cycle.message_event.set()
        self._answered = True
        self.transport.close()

    def _send_timed_out(self) -> None:
        self._send_timer = None
        if not self.transport.is_closing():
            log.info("dropping a client that accepted no data for %g s", self.limits.send_timeout_s)
            self.transport.abort()
