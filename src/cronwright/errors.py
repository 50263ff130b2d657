"""The one error tree of Cronwright.

Engine code raises these; only ``cronwright.api`` turns them into HTTP responses::

    CwError(code, description, status)        any failure a client can be told about
     ├── BadRequest      (status 400)         the request itself is wrong (``api`` and friends)
     ├── Forbidden       (status 403)         ``session`` / ``access``
     ├── NotFound        (status 404)         unknown id (``notfound``, ``event``, ``tag`` ...)
     ├── Conflict        (status 409)         duplicate id, revision mismatch, blocked by state
     └── RateLimited     (status 429)         ``rate``

``code`` is the xyOps error code clients branch on and never changes; ``status`` is the HTTP
status used on versioned (``/v1``) URLs. A ``CwError`` without an explicit status gets the
xyOps mapping (``api`` 400, ``session``/``access`` 403, ``rate`` 429, ``notfound`` 404, else 500);
every client mistake raised by the engine carries an explicit 4xx status so that a 5xx always
means a fault inside Cronwright (see docs/compatibility.md).
"""

from __future__ import annotations

import re

_DEFAULT_STATUS = {"api": 400, "session": 403, "access": 403, "rate": 429, "notfound": 404}
_HTML_TAG = re.compile(r"<[^>]*>")


class CwError(Exception):
    """A failure reported to the client as ``{code, description}``."""

    default_status: int | None = None

    def __init__(self, code: str, description: str, status: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = _HTML_TAG.sub("", description)
        self.status = status or self.default_status or _DEFAULT_STATUS.get(code, 500)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.description!r}, status={self.status})"


class BadRequest(CwError):
    default_status = 400


class Forbidden(CwError):
    default_status = 403


class NotFound(CwError):
    default_status = 404


class Conflict(CwError):
    default_status = 409


class RateLimited(CwError):
    default_status = 429


class PayloadTooLarge(CwError):
    default_status = 413


def api_error(description: str) -> BadRequest:
    """The ordinary validation failure: code ``api``, HTTP 400."""
    return BadRequest("api", description)
