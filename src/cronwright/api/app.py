"""``create_app()``: the HTTP face of the conductor.

All ``/api/app/NAME[/vN][/SUFFIX]`` and ``/api/user/NAME`` requests go through ``dispatch``,
which parses the call, finds the endpoint, runs it and maps any ``CwError`` to the
``{code, description}`` envelope (with the HTTP status only on versioned URLs). Anything else
that goes wrong becomes a JSON ``internal`` error with a reference id; the traceback goes to the
server log, never to the client.
"""

from __future__ import annotations

import errno
import inspect
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from cronwright import jsonutil, ui
from cronwright.api import openapi
from cronwright.api.observe import RequestObserver, metrics_endpoint
from cronwright.api.registry import Ctx, Endpoint, RawJSON, check_csrf
from cronwright.api.request import is_versioned, parse_call
from cronwright.api.routes import all_endpoints
from cronwright.config import Settings
from cronwright.engine.conductor import Conductor
from cronwright.errors import CwError
from cronwright.store.base import StoreError

log = logging.getLogger("cronwright.api")

_HEADERS = {"cache-control": "no-store"}


def json_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type="application/json", headers={**_HEADERS, **(headers or {})})


def error_response(error: CwError, versioned: bool) -> Response:
    body = jsonutil.dumps({"code": error.code, "description": error.description})
    return json_response(body, error.status if versioned else 200)


def render(result: Any) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, RawJSON):
        return json_response(bytes(result))
    body = {"code": 0}
    if result:
        body.update(result)
    return json_response(jsonutil.dumps(body))


class Dispatcher:
    def __init__(self, endpoints: list[Endpoint]) -> None:
        self._endpoints = {(e.namespace, e.name): e for e in endpoints}

    async def handle(self, request: Request) -> Response:
        versioned = is_versioned(request.url.path)
        try:
            conductor: Conductor = request.app.state.conductor
            settings = conductor.settings
            call = await parse_call(
                request,
                max_body_bytes=settings.max_body_bytes,
                max_upload_bytes=settings.max_upload_bytes,
                trusted_proxies=settings.trusted_proxies,
            )
            endpoint = self._endpoints.get((call.namespace, call.name))
            if endpoint is None:
                raise CwError("api", f"Unsupported API: {call.name}", 404)
            if call.suffix and not endpoint.suffix:
                raise CwError("api", f"Unsupported API path: {request.url.path}", 404)
            check_csrf(call, endpoint, settings.base_url)
            result = endpoint.handler(Ctx(call, conductor, endpoint.style))
            if inspect.isawaitable(result):
                result = await result
            return render(result)
        except CwError as exc:
            return error_response(exc, versioned)
        except StoreError as exc:  # its message is generic: the store logged the driver's
            log.error("storage failure on %s: %s", request.url.path, exc)
            return error_response(_store_failure(exc), versioned)
        except OSError as exc:  # a full disk is the host's fault, not the request's
            if exc.errno in _DISK_FAULTS:
                log.error("storage failure on %s: %s", request.url.path, exc)
                return error_response(_disk_failure(exc), versioned)
            ref = secrets.token_hex(6)
            log.exception("internal error %s on %s", ref, request.url.path)
            return error_response(CwError("internal", f"Internal server error (reference {ref})."), versioned)
        except Exception:
            ref = secrets.token_hex(6)
            log.exception("internal error %s on %s", ref, request.url.path)
            return error_response(CwError("internal", f"Internal server error (reference {ref})."), versioned)


async def _file(request: Request) -> Response:
    """``GET /files/<key>``: a stored input or output file (the random path segment is the secret)."""
    key = "files/" + request.path_params["path"]
    path = request.app.state.conductor.jobs.files.path_of(key)
    try:
        found = path is not None and path.is_file()
    except OSError:  # e.g. a name longer than the file system allows
        found = False
    if path is None or not found:
        return json_response(jsonutil.dumps({"code": "api", "description": f"File not found: {key}"}), 404)
    headers = {"cache-control": "private, max-age=3600", "x-content-type-options": "nosniff"}
    return FileResponse(path, filename=path.name, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    if status == 404:
        text = f"Not found: {request.url.path}"
    elif status == 405:
        text = f"Method not allowed: {request.method}"
    else:
        text = exc.detail if isinstance(exc, HTTPException) else "Bad request"
    return json_response(jsonutil.dumps({"code": "api", "description": text}), status)


#: errors of the host's storage (not of the request): answered ``db`` 503
_DISK_FAULTS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


def _store_failure(exc: StoreError) -> CwError:
    return CwError("db", str(exc) or "Database unavailable, please retry.", 503)


def _disk_failure(exc: OSError) -> CwError:
    """A full (or read-only, failing) disk: its OS message only, no path."""
    reason = exc.strerror or "I/O error"
    return CwError("db", f"Storage unavailable: {reason}. Please retry later.", 503)


async def _internal(request: Request, exc: Exception) -> Response:
    if isinstance(exc, StoreError) or (isinstance(exc, OSError) and exc.errno in _DISK_FAULTS):
        log.error("storage failure on %s: %s", request.url.path, exc)
        failure = _store_failure(exc) if isinstance(exc, StoreError) else _disk_failure(exc)
        return error_response(failure, versioned=True)
    ref = secrets.token_hex(6)
    log.error("internal error %s on %s", ref, request.url.path, exc_info=exc)
    body = {"code": "internal", "description": f"Internal server error (reference {ref})."}
    return json_response(jsonutil.dumps(body), 500)


def _health(request: Request) -> Response:
    """``GET /health`` (multi-conductor.md §10.1): 200 ``{"code":0,"master":true,"leader":BOOL}`` on
    a conductor ready to serve (every conductor serves everything), 503 while it starts or stops
    or while its last heartbeat could not reach the database."""
    conductor = getattr(request.app.state, "conductor", None)
    if conductor is None or not conductor.serving or not conductor.cluster.database_ok:
        return Response(status_code=503)  # starting, stopping, or its database out of reach
    return json_response(jsonutil.dumps({"code": 0, "master": True, "leader": conductor.leading}))


async def _agent_socket(ws: WebSocket) -> None:
    """``ws://HOST:PORT/``: an agent's connection (docs/fleet.md, engine/fleet/hub.py)."""
    conductor = getattr(ws.app.state, "conductor", None)
    if conductor is None or not conductor.serving:
        await ws.close(code=1013)  # try again later: starting or stopping
        return
    await conductor.hub.serve(ws)


def create_app(
    settings: Settings, conductor: Conductor | None = None, on_ready: Callable[[], None] | None = None
) -> Starlette:
    """Build the ASGI app; without ``conductor`` one is opened in the lifespan. ``on_ready`` runs
    once the conductor has started (the CLI prints where the server listens)."""
    endpoints = all_endpoints()
    dispatch = Dispatcher(endpoints)
    spec = openapi.build_document(endpoints, settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.conductor = conductor or Conductor.open(settings)
        await app.state.conductor.start()
        if on_ready:
            on_ready()
        try:
            yield
        finally:
            await app.state.conductor.stop()

    methods = ["GET", "POST", "HEAD"]
    routes = [
        Route("/api/app/{rest:path}", dispatch.handle, methods=methods),
        Route("/api/user/{rest:path}", dispatch.handle, methods=methods),
        Route("/api/openapi.json", lambda r: json_response(jsonutil.dumps(spec)), methods=["GET"]),
        Route("/files/{path:path}", _file, methods=["GET", "HEAD"]),
        Route(
            "/api/docs",
            lambda r: Response(openapi.DOCS_PAGE, media_type="text/html", headers=openapi.DOCS_HEADERS),
            methods=["GET"],
        ),
        Mount("/api/docs/static", StaticFiles(directory=openapi.static_dir()), name="docs-static"),
        *ui.routes(),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/health", _health, methods=["GET", "HEAD"]),
        WebSocketRoute("/", _agent_socket),
    ]
    observer = Middleware(
        RequestObserver,
        known=frozenset((e.namespace, e.name) for e in endpoints),
        access=bool(settings.access_log),
        trusted_proxies=settings.trusted_proxies,
    )
    return Starlette(
        routes=routes,
        middleware=[observer],
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _internal},
    )
