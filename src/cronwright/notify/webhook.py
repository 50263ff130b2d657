"""Send one web hook request built from a hook record and the hook data (limits-actions.md §5).

Exactly one request per firing, plus ``retries`` more only after a failure (network error or a
non-2xx answer), with a short pause (≤ 1 s) between attempts. Only the hook's own headers are sent,
plus what HTTP requires (``Host``, ``Content-Length``) and a ``User-Agent`` unless the hook sets one.
Redirects are followed (at most 32) only with ``follow``. ``timeout`` bounds connecting, sending and
each wait for data from the server. The result never raises: every failure is an
``Outcome("webhook", …)`` with a readable description and, when a request was sent, a report.

Every connection (first request, each redirect hop, each retry) goes through the destination policy
of :mod:`.netpolicy`; a refused destination is a failure that is not retried. The server log gets
one line per hook with the method, the URL's origin (no user-info, path or query) and the result;
header values are never echoed, not even in the description of a request httpx refuses.
"""

from __future__ import annotations

import asyncio
import errno
import http
import logging
import math
import re
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from cronwright.logs import fields

from .macros import render_lenient
from .netpolicy import DestinationDenied, NetworkPolicy, web_hook_client
from .outcome import Outcome
from .report import MAX_BODY_BYTES, mask_url, request_section, response_section

DEFAULT_TIMEOUT_S: Final = 30.0
MAX_REDIRECTS: Final = 32
MAX_RETRIES: Final = 10
NO_BODY_METHODS: Final = ("GET", "HEAD")
_METHOD: Final = re.compile(r"^\w+$", re.ASCII)
_DROPPED_HEADERS: Final = ("content-length", "transfer-encoding")
_ERRNO: Final = re.compile(r"^\[Errno -?\d+\]\s*")
_HEADER_VALUE: Final = re.compile(r"header value", re.IGNORECASE)
log = logging.getLogger("cronwright.webhook")


class InvalidHook(Exception):
    """The hook cannot produce a request (bad URL, method or header); ``str`` is the description."""


@dataclass(frozen=True)
class PreparedRequest:
    """The rendered request: method, URL, headers (as configured) and body (None → no body)."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes | None


@dataclass
class _Attempt:
    outcome: Outcome
    failed: bool
    retry: bool = True


def prepare_request(hook: Mapping[str, Any], data: Mapping[str, Any], *, user_agent: str) -> PreparedRequest:
    """Render URL (undefined → "N/A"), header values and body (undefined → "") over ``data``."""
    method = str(hook.get("method") or "POST").strip().upper()
    if not _METHOD.match(method):
        raise InvalidHook(f"Invalid HTTP method: {method}")
    url = render_lenient(str(hook.get("url") or ""), data, undefined="N/A").strip()
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise InvalidHook(f"Invalid URL: {mask_url(url)} ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidHook(f"Invalid URL: {mask_url(url) or '(empty)'}")
    configured = hook.get("headers") or []
    if not isinstance(configured, list):
        raise InvalidHook("Invalid header format for web hook (headers must be an array)")
    headers: list[tuple[str, str]] = []
    for entry in configured:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
            raise InvalidHook("Invalid header format for web hook (each header needs a name and a value)")
        name = entry["name"].strip()
        if name.lower() in _DROPPED_HEADERS:
            continue
        value = render_lenient(str(entry.get("value") if entry.get("value") is not None else ""), data)
        headers.append((name, " ".join(value.split())))
    if user_agent and not any(name.lower() == "user-agent" for name, _ in headers):
        headers.append(("User-Agent", user_agent))
    body_template = hook.get("body")
    body: bytes | None = None
    if method not in NO_BODY_METHODS and isinstance(body_template, str) and body_template.strip():
        body = render_lenient(body_template, data).encode("utf-8")
    return PreparedRequest(method, url, headers, body)


async def fire_web_hook(
    hook: Mapping[str, Any],
    data: Mapping[str, Any],
    *,
    client: httpx.AsyncClient | None = None,
    policy: NetworkPolicy | None = None,
    user_agent: str = "Cronwright",
) -> Outcome:
    """Send the hook's request (with retries); ``Outcome(0, "Success (HTTP 200 OK)", details)`` on 2xx.

    ``client`` is reused when given (its own redirect, header and cookie defaults are not applied)
    and must come from :func:`~.netpolicy.web_hook_client` with the same ``policy``. Without one, and
    for ``ssl_cert_bypass`` hooks (certificate checks skipped), a private client enforcing ``policy``
    (default: every destination allowed) is used.
    """
    started = time.monotonic()
    try:
        prepared = prepare_request(hook, data, user_agent=user_agent)
    except InvalidHook as exc:
        return Outcome("webhook", str(exc), "", _elapsed_ms(started))
    except Exception as exc:  # a bug must not break the action runner
        return Outcome("webhook", f"Failed to prepare web hook request: {type(exc).__name__}: {exc}")
    timeout_s = _timeout(hook.get("timeout"))
    retries = _retries(hook.get("retries"))
    follow = bool(hook.get("follow"))
    bypass = bool(hook.get("ssl_cert_bypass"))
    own = client is None or bypass
    try:
        http_client = web_hook_client(policy or NetworkPolicy(), verify=not bypass) if own or client is None else client
    except Exception as exc:  # e.g. the destination check cannot be installed: send nothing
        return Outcome("webhook", f"Cannot send web hooks: {type(exc).__name__}: {exc}")
    earlier: list[str] = []
    try:
        for attempt in range(retries + 1):
            if attempt:
                await asyncio.sleep(min(1.0, 0.25 * attempt))
            result = await _attempt(http_client, prepared, timeout_s, follow)
            if not result.failed or not result.retry or attempt == retries:
                break
            earlier.append(result.outcome.description)
    finally:
        if own:
            await http_client.aclose()
    outcome = result.outcome
    if earlier:
        tries = "\n".join(f"{number}. {text}" for number, text in enumerate(earlier, 1))
        outcome.details = f"**Attempts:** {len(earlier) + 1}; earlier failures:\n\n{tries}\n\n{outcome.details}"
    outcome.elapsed_ms = _elapsed_ms(started)
    log.log(
        logging.INFO if outcome.ok else logging.WARNING,
        "Web hook %s %s: %s",
        prepared.method,
        origin(prepared.url),
        outcome.description,
        extra=fields(
            method=prepared.method,
            origin=origin(prepared.url),
            code=outcome.code,
            attempts=len(earlier) + 1,
            elapsed_ms=outcome.elapsed_ms,
        ),
    )
    return outcome


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: what the log may show (paths and queries can hold secrets)."""
    parsed = httpx.URL(url)
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{parsed.scheme}://{host}" + (f":{parsed.port}" if parsed.port is not None else "")


async def _attempt(client: httpx.AsyncClient, prepared: PreparedRequest, timeout_s: float, follow: bool) -> _Attempt:
    """One attempt, following redirects by hand when ``follow`` (httpx builds each next request)."""
    try:
        request = httpx.Request(
            prepared.method,
            prepared.url,
            headers=[(name.encode("latin-1", "replace"), value.encode("utf-8")) for name, value in prepared.headers],
            content=prepared.body,
            extensions={"timeout": httpx.Timeout(timeout_s).as_dict()},
        )
    except Exception as exc:  # e.g. a header httpx refuses: report it like any other failure
        return _Attempt(Outcome("webhook", f"Invalid request: {type(exc).__name__}: {exc}"), True)
    hops: list[str] = []
    sent_at = time.monotonic()
    try:
        while True:
            sent_at = time.monotonic()
            response = await client.send(request, auth=_auth_for(request), follow_redirects=False, stream=True)
            try:
                body, truncated = await _read_limited(response)
            finally:
                await response.aclose()
            if follow and response.next_request is not None:
                if len(hops) >= MAX_REDIRECTS:
                    return _failure(request, f"Too many redirects (more than {MAX_REDIRECTS})", hops)
                hops.append(f"HTTP {response.status_code} → {mask_url(str(response.next_request.url))}")
                request = response.next_request
                continue
            break
    except DestinationDenied as exc:
        return _failure(request, str(exc), hops, retry=False)
    except httpx.HTTPError as exc:
        return _failure(request, describe_error(exc, timeout_s), hops)
    except Exception as exc:  # anything unexpected from the transport is still a failed attempt
        return _failure(request, f"{type(exc).__name__}: {exc}", hops)
    status = response.status_code
    reason = response.reason_phrase or _standard_reason(status)
    details = "\n\n".join(
        [
            _request_report(request),
            *(["**Redirects:**\n\n" + "\n".join(f"- {hop}" for hop in hops)] if hops else []),
            response_section(
                status,
                reason,
                [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw],
                body,
                truncated=truncated,
                elapsed_ms=(time.monotonic() - sent_at) * 1000,
            ),
        ]
    )
    if 200 <= status < 300:
        return _Attempt(Outcome(0, f"Success (HTTP {status} {reason})".replace(" )", ")"), details), False)
    return _Attempt(Outcome("webhook", f"HTTP {status} {reason}".rstrip(), details), True)


async def _read_limited(response: httpx.Response) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return b"".join(chunks)[:MAX_BODY_BYTES], True
    return b"".join(chunks), False


def _auth_for(request: httpx.Request) -> httpx.Auth:
    """Basic auth from the URL's user-info unless the hook sets Authorization itself; never the
    client's own auth (a hook is self-contained)."""
    url = request.url
    if (url.username or url.password) and "authorization" not in request.headers:
        return httpx.BasicAuth(url.username, url.password)
    return httpx.Auth()


def _request_report(request: httpx.Request) -> str:
    headers = [(k.decode("latin-1"), v.decode("utf-8", "replace")) for k, v in request.headers.raw]
    try:
        body = request.content
    except httpx.RequestNotRead:  # a redirect re-sends the original body as a stream
        body = b"".join(request.stream) if isinstance(request.stream, httpx.ByteStream) else b""
    return request_section(request.method, str(request.url), headers, body or None)


def _failure(request: httpx.Request, description: str, hops: list[str], *, retry: bool = True) -> _Attempt:
    parts = [_request_report(request)]
    if hops:
        parts.append("**Redirects:**\n\n" + "\n".join(f"- {hop}" for hop in hops))
    parts.append(f"**Error:** {description}")
    return _Attempt(Outcome("webhook", description, "\n\n".join(parts)), True, retry)


def describe_error(exc: httpx.HTTPError, timeout_s: float) -> str:
    """A readable reason for a transport failure."""
    text = _ERRNO.sub("", str(exc)).strip()
    if isinstance(exc, httpx.ConnectTimeout):
        return f"Timed out after {timeout_s:g} s (connecting)"
    if isinstance(exc, httpx.WriteTimeout):
        return f"Timed out after {timeout_s:g} s (sending the request)"
    if isinstance(exc, httpx.TimeoutException):
        return f"Timed out after {timeout_s:g} s (waiting for the response)"
    if isinstance(exc, httpx.ConnectError):
        return _connect_reason(exc, text)
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"Invalid HTTP response: {text}" if text else "Invalid HTTP response"
    if isinstance(exc, httpx.LocalProtocolError):
        if _HEADER_VALUE.search(text):  # h11 quotes the whole value, which may be a credential
            return "Invalid request: a header value holds a character HTTP does not allow"
        return f"Invalid request: {text}"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"Invalid URL: {text}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _connect_reason(exc: httpx.ConnectError, text: str) -> str:
    """Name the underlying cause (refused, TLS, DNS) found in the exception chain."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
            return "Connection refused"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {getattr(cause, 'verify_message', None) or cause.reason or cause}"
        if isinstance(cause, socket.gaierror):
            return f"Host not found: {cause.strerror or cause}"
        cause = cause.__cause__ or cause.__context__
    lowered = text.lower()
    if "refused" in lowered:
        return "Connection refused"
    if "certificate" in lowered or "ssl" in lowered:
        return f"TLS error: {text}"
    return f"Connection failed: {text or type(exc).__name__}"


def _standard_reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _timeout(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return float(value)
    return DEFAULT_TIMEOUT_S


def _retries(value: Any) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return max(0, min(MAX_RETRIES, int(value)))
    return 0


def _elapsed_ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)
