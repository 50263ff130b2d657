"""The endpoint registry: every ``/api/app/NAME`` handler, with what the OpenAPI document needs.

A handler takes a ``Ctx`` and returns a dict (``code: 0`` is added), ``RawJSON`` (pre-encoded
success body) or a Starlette ``Response`` (raw-body endpoints). It raises ``CwError`` on failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from cronwright.api.request import Call
from cronwright.engine.activity import Origin
from cronwright.engine.identity import Identity

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
            self._identity = self.conductor.auth.authenticate(self.call.session_id, self.call.api_key)
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
