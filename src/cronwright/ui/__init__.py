"""The web UI (docs/ui.md): static pages served by the conductor at ``/`` and under ``/ui/``.

Plain ES modules and CSS shipped inside the package (no build step, no CDN): ``index.html`` is the
shell; ``js/app.js`` checks the session (``/api/user/resume_session``), shows the login form or
the page the URL's hash names (``#/events``, ``#/job/ID``, ...); every page is a client of the
public API. Responses carry a Content-Security-Policy without inline scripts or styles.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"

#: what a page may load: its own scripts, styles, images and API; no inline script or style, no
#: frames of or by other sites
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def _index(request: Request) -> Response:
    body = (STATIC / "index.html").read_bytes()
    return Response(body, media_type="text/html; charset=utf-8", headers={**HEADERS, "cache-control": "no-cache"})


class _Assets(StaticFiles):
    """The UI's files, revalidated on every load (an upgrade shows at once), with the UI's headers."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                headers += [(k.encode(), v.encode()) for k, v in HEADERS.items()]
                headers.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


def routes() -> list[BaseRoute]:
    return [
        Route("/", _index, methods=["GET", "HEAD"]),
        Mount("/ui", _Assets(directory=STATIC), name="ui"),
    ]
