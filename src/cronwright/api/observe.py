"""The HTTP side of observability: request metrics, the optional access log, and ``/metrics``.

Requests are named by what they call, never by their raw path: ``/api/app/NAME[/vN][/SUFFIX]``
is ``NAME`` when such an endpoint exists (``unknown`` otherwise), and magic-link tokens, file keys
and query strings (which may carry ``api_key``) appear neither in a label nor in the access log.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cronwright import forwarded
from cronwright.logs import ACCESS_LOGGER, fields

log = logging.getLogger("cronwright.api")
access_log = logging.getLogger(ACCESS_LOGGER)

_API_PATH = re.compile(r"^/api/(app|user)/(\w+)(/v\d+)?(?:/(.*))?$")
#: path suffixes that carry no secret (everything else after the version is masked)
_PLAIN_SUFFIXES = frozenset({"", "wait"})
_MASK = "***"
_MAX_PATH_CHARS = 200
_FIXED_ROUTES = {"/": "root", "/metrics": "metrics", "/api/openapi.json": "openapi", "/api/docs": "docs"}


def endpoint_name(path: str, known: frozenset[tuple[str, str]]) -> str:
    """The label of a request: an API call name, a fixed route name, ``unknown`` for the rest."""
    match = _API_PATH.match(path)
    if match:
        return match.group(2) if (match.group(1), match.group(2)) in known else "unknown"
    fixed = _FIXED_ROUTES.get(path)
    if fixed:
        return fixed
    if path.startswith("/api/docs/"):
        return "docs"
    if path.startswith("/files/"):
        return "files"
    return "unknown"


def safe_path(path: str) -> str:
    """``path`` as the access log shows it: a token suffix or a file key replaced by ``***``."""
    match = _API_PATH.match(path)
    if match:
        namespace, name, version, suffix = match.groups()
        shown = f"/api/{namespace}/{name}{version or ''}"
        if suffix is not None:
            shown += "/" + (suffix if suffix in _PLAIN_SUFFIXES else _MASK)
        return shown
    if path.startswith("/files/"):
        return "/files/" + _MASK
    for prefix in ("/api/app/", "/api/user/"):
        if path.startswith(prefix):
            return prefix + _MASK
    return path[:_MAX_PATH_CHARS]


class RequestObserver:
    """ASGI middleware: counts every HTTP request by endpoint name and status, times it, and
    writes the access log line when ``access_log`` is on. It never fails a request."""

    def __init__(
        self, app: ASGIApp, *, known: frozenset[tuple[str, str]], access: bool, trusted_proxies: str = ""
    ) -> None:
        self.app = app
        self._known = known
        self._access = access
        self._proxies = forwarded.parse_networks(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answer = {"status": 0, "bytes": 0}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = int(message["status"])
            elif message["type"] == "http.response.body":
                answer["bytes"] += len(message.get("body") or b"")
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except asyncio.CancelledError:
            answer["status"] = answer["status"] or 499  # the client went away before the answer
            raise
        except BaseException:
            answer["status"] = answer["status"] or 500
            raise
        finally:
            try:
                self._record(scope, answer["status"] or 500, answer["bytes"], time.perf_counter() - started)
            except Exception:
                log.debug("recording a request failed", exc_info=True)

    def _record(self, scope: Scope, status: int, sent: int, elapsed_s: float) -> None:
        path = str(scope.get("path") or "")
        name = endpoint_name(path, self._known)
        app = scope.get("app")
        conductor = getattr(getattr(app, "state", None), "conductor", None)
        if conductor is not None:
            conductor.metrics.http_request(name, status, elapsed_s)
        if self._access and access_log.isEnabledFor(logging.INFO):
            method = str(scope.get("method") or "")
            shown = safe_path(path)
            access_log.info(
                "%s %s %d",
                method,
                shown,
                status,
                extra=fields(
                    method=method,
                    path=shown,
                    endpoint=name,
                    status=status,
                    elapsed_ms=round(elapsed_s * 1000, 1),
                    bytes=sent,
                    ip=self._client(scope) or None,
                ),
            )

    def _client(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = str(client[0]) if client else ""
        if not self._proxies:
            return peer
        chain = ",".join(
            value.decode("latin-1") for key, value in scope.get("headers") or () if key == b"x-forwarded-for"
        )
        return forwarded.resolve(peer, chain, self._proxies).client


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics``: the Prometheus text format. ``metrics = "off"``: 404; ``"token"``:
    ``Authorization: Bearer <metrics_token>`` (compared in constant time), else 401 (missing)
    or 403 (wrong), without details."""
    conductor: Any = request.app.state.conductor
    settings = conductor.settings
    if settings.metrics == "off":
        return Response('{"code":"api","description":"Not found: /metrics"}', 404, media_type="application/json")
    if settings.metrics != "open":
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return Response("Unauthorized\n", 401, headers={"WWW-Authenticate": "Bearer"}, media_type="text/plain")
        if not hmac.compare_digest(token.encode(), settings.metrics_token.encode()):
            return Response("Forbidden\n", 403, media_type="text/plain")
    body, content_type = conductor.metrics.render()
    return Response(body, headers={"cache-control": "no-store", "content-type": content_type})
