"""The endpoint registry: every ``/api/app/NAME`` handler, with what the OpenAPI document needs.

A handler takes a ``Ctx`` and returns a dict (``code: 0`` is added), ``RawJSON`` (pre-encoded
success body) or a Starlette ``Response`` (raw-body endpoints). It raises ``CwError`` on failure.

``check_csrf`` is the rule for requests a browser sends by itself with the session cookie: only
the calls of ``READ_ONLY_ENDPOINTS`` may be a cookie-authenticated GET, and no cookie request
that changes state may come from another site.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel

from cronwright.api.request import Call
from cronwright.engine.activity import Origin
from cronwright.engine.identity import Identity
from cronwright.errors import Forbidden

if TYPE_CHECKING:
    from cronwright.engine.conductor import Conductor

#: how a handler combines query and body (api-conventions.md §2)
ParamStyle = Literal["read", "write", "run", "none"]


class RawJSON(bytes):
    """A success body already encoded as JSON (used by list endpoints on their hot path)."""


class Ctx:
    """What a handler gets: the parsed call, the conductor, merged params and lazy auth."""

    __slots__ = ("_identity", "call", "conductor", "params")

    def __init__(self, call: Call, conductor: Conductor, style: ParamStyle) -> None:
        self.call = call
        self.conductor = conductor
        if style == "read":
            self.params = {**call.body, **call.query}
        elif style == "write":
            self.params = dict(call.body)
        elif style == "run":
            self.params = {**call.query, **call.body}
        else:
            self.params = {}
        self._identity: Identity | None = None

    def authenticate(self) -> Identity:
        """The caller's identity; raises ``session``/``rate`` errors. Cached per request."""
        if self._identity is None:
            self._identity = self.conductor.auth.authenticate(
                self.call.session_id, self.call.api_key, ip=self.call.origin.ip
            )
        return self._identity

    @property
    def origin(self) -> Origin:
        return self.call.origin


Handler = Callable[[Ctx], "dict[str, Any] | RawJSON | Any | Awaitable[Any]"]


@dataclass(frozen=True)
class Endpoint:
    name: str
    handler: Handler
    style: ParamStyle
    summary: str
    tag: str
    namespace: str = "app"
    request_model: type[BaseModel] | None = None
    response_model: type[BaseModel] | None = None
    #: extra keys of a multipart request, for documentation
    multipart: bool = False
    #: accepts a path suffix such as ``/wait`` or a token
    suffix: bool = False
    auth: bool = True
    #: success answers a raw body (text, HTML), not JSON
    raw: bool = False
    errors: tuple[str, ...] = ()
    description: str = ""


@dataclass
class EndpointSet:
    """A group of endpoints declared by one routes module."""

    tag: str
    namespace: str = "app"
    endpoints: list[Endpoint] = field(default_factory=list)

    def endpoint(
        self,
        name: str,
        *,
        style: ParamStyle,
        summary: str,
        request: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        **options: Any,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            description = options.pop("description", "") or (handler.__doc__ or "").strip()
            self.endpoints.append(
                Endpoint(
                    name=name,
                    handler=handler,
                    style=style,
                    summary=summary,
                    tag=self.tag,
                    namespace=self.namespace,
                    request_model=request,
                    response_model=response,
                    description=description,
                    **options,
                )
            )
            return handler

        return register


#: calls that never change state: a session cookie may authorize them with GET (issue 8 §7).
#: Every other call that needs credentials changes something and, authorized by the cookie, must be a POST.
READ_ONLY_ENDPOINTS = frozenset(
    [
        ("app", name)
        for name in (
            "get_events",
            "get_event",
            "get_event_history",
            "get_event_forecast",
            "get_event_fires",
            "get_active_jobs",
            "get_active_job_summary",
            "get_job",
            "get_jobs",
            "get_job_log",
            "tail_live_job_log",
            "stream_job",
            "stream_job_log",
            "stream_job_log_tail",
            "get_job_log_range",
            "get_event_summaries",
            "preview_event_forecast",
            "get_privileges",
            "search_jobs",
            "get_categories",
            "get_category",
            "get_groups",
            "get_group",
            "get_plugins",
            "get_plugin",
            "get_tags",
            "get_tag",
            "get_roles",
            "get_role",
            "get_api_keys",
            "get_api_key",
            "get_web_hooks",
            "get_web_hook",
            "get_active_servers",
            "get_active_server",
            "get_server",
            "get_satellite_tokens",
            "get_global_state",
            "search_activity",
            "ping",
        )
    ]
    + [("user", "admin_get_user"), ("user", "admin_get_users"), ("user", "resume_session")]
)
#: a request with one of these headers cannot come from another site's form or link: a browser
#: would first send a CORS preflight, and Cronwright grants none
CUSTOM_HEADERS = ("x-requested-with", "x-session-id", "x-api-key", "x-csrf-token")
_SAME_SITE_FETCH = ("same-origin", "none")


def check_csrf(call: Call, endpoint: Endpoint, base_url: str = "") -> None:
    """Refuse (``csrf``, 403) what another site could make a browser send with the session
    cookie: a cookie-authenticated call outside ``READ_ONLY_ENDPOINTS`` that is not a POST (unless
    it carries a ``CUSTOM_HEADERS`` header) or comes from another site (``Origin`` of another host,
    ``Sec-Fetch-Site`` other than ``same-origin``/``none``); and a login from another site.
    API keys, ``X-Session-ID`` and body ``session_id`` are never sent by a browser on its own."""
    login = endpoint.namespace == "user" and endpoint.name == "login"
    if not login and not (endpoint.auth and call.session_from_cookie):
        return
    if not login and (endpoint.namespace, endpoint.name) in READ_ONLY_ENDPOINTS:
        return
    if _cross_site(call, base_url):
        raise Forbidden(
            "csrf", "Cross-site request refused: the session cookie is accepted only from this server's own pages."
        )
    if login or call.method == "POST" or any(call.origin.headers.get(h) for h in CUSTOM_HEADERS):
        return
    raise Forbidden(
        "csrf",
        f"{endpoint.name} changes state: authorized by the session cookie it must be sent as POST "
        "(GET works with an API key or the X-Session-ID header).",
    )


def _cross_site(call: Call, base_url: str) -> bool:
    headers = call.origin.headers
    site = headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in _SAME_SITE_FETCH:
        return True
    origin = headers.get("origin")
    if origin is None:
        return False
    origin = origin.strip().lower()
    if origin == "null":
        return True
    hosts = {call.host.lower()}
    if base_url:
        hosts.add(urlsplit(base_url).netloc.lower())
    try:
        return urlsplit(origin).netloc not in hosts
    except ValueError:  # e.g. "http://[": not an origin we serve
        return True
