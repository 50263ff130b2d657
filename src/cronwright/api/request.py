"""Turning an HTTP request into a ``Call``: path, query, body, uploaded files and credentials.

Rules (api-conventions.md §1–§2 and §6.1):
- ``/api/app/NAME``, ``/api/app/NAME/v1`` and ``/api/app/NAME/v1/SUFFIX`` (``wait``, tokens).
- Query values are strings (a repeated key becomes a list); ``cachebust`` is dropped.
- Bodies: JSON (must be an object), urlencoded or multipart forms (fields become strings, files are
  spooled to disk). A body over the configured limit is refused before it is read in full. A body
  without ``Content-Type`` (xyOps clients often omit it) or sent as a urlencoded form (``curl -d``)
  that starts with ``{`` is read as JSON. A file part without a file name and bytes is what a
  browser sends for an empty file input: it is dropped. Any other file part needs a name whose
  base name is not empty or only dots, and at least one byte (sdk-wire.md §4.2, §4.6), else the
  whole request is ``api`` "File '<field>' is missing required name property, or name is
  invalid." / "... missing required size property, or is zero bytes.", whatever the endpoint.
- Credentials (``api_key``, ``session_id``, ``csrf_token``) are taken out of the body, query and
  form fields here, before any handler sees the parameters, so they can never become a filter,
  a job parameter or part of a stored record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from python_multipart.exceptions import FormParserError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message

from cronwright import forwarded, jsonutil
from cronwright.engine.activity import Origin
from cronwright.engine.jobs.filestore import usable_name
from cronwright.errors import BadRequest, NotFound, PayloadTooLarge, api_error

CREDENTIAL_KEYS = ("api_key", "session_id", "csrf_token", "cachebust")
_PATH = re.compile(r"^/api/(app|user)/(\w+)(?:/v(\d+))?(?:/(.*))?$")
_FORM_FLAG_KEYS = frozenset(
    {"enabled", "active", "delete_jobs", "test", "priority", "verbose", "test_actions", "test_limits"}
)
_FORM_INT_KEYS = frozenset({"revision", "offset", "limit", "sort_dir", "max_per_sec", "expires", "sort_order"})
_DIGITS = re.compile(r"^-?\d{1,15}$")


@dataclass
class Upload:
    """One uploaded file of a multipart request."""

    field: str
    filename: str
    size: int
    stream: Any  # the spooled binary file


@dataclass
class Call:
    namespace: str  # "app" or "user"
    name: str
    versioned: bool
    suffix: str
    method: str
    query: dict[str, Any]
    body: dict[str, Any]
    files: list[Upload] = field(default_factory=list)
    session_id: str | None = None
    api_key: str | None = None
    origin: Origin = field(default_factory=Origin)
    #: the session id came from the ``session_id`` cookie (what a browser sends by itself)
    session_from_cookie: bool = False
    #: the client reached us over TLS (directly, or ``X-Forwarded-Proto: https`` from a trusted proxy)
    tls: bool = False
    #: the host (and port) the client addressed: ``Host``, or ``X-Forwarded-Host`` from a trusted proxy
    host: str = ""


def parse_path(path: str) -> tuple[str, str, bool, str]:
    """``/api/app/get_event/v1/x`` → ("app", "get_event", True, "x")."""
    match = _PATH.match(path)
    if not match:
        raise NotFound("api", f"Unknown API path: {path}")
    namespace, name, version, suffix = match.groups()
    return namespace, name, version is not None, (suffix or "").strip("/")


def is_versioned(path: str) -> bool:
    match = _PATH.match(path)
    return bool(match and match.group(3))


async def parse_call(
    request: Request, *, max_body_bytes: int, max_upload_bytes: int, trusted_proxies: str = ""
) -> Call:
    namespace, name, versioned, suffix = parse_path(request.url.path)
    query = _multi_dict(_form_pairs(request.url.query, "query string"))
    body: dict[str, Any] = {}
    files: list[Upload] = []
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        body, files = await _read_multipart(request, max_upload_bytes)
    else:
        raw = await _read_body(request, max_body_bytes)
        if raw.strip():
            body = _parse_body(raw, content_type)
    cookie_session = request.cookies.get("session_id")
    session_id = cookie_session or request.headers.get("x-session-id") or _string(body.get("session_id"))
    api_key = request.headers.get("x-api-key") or _string(body.get("api_key")) or _string(query.get("api_key"))
    for source in (body, query):
        for key in CREDENTIAL_KEYS:
            source.pop(key, None)
    origin, tls, host = _origin(request, forwarded.parse_networks(trusted_proxies))
    return Call(
        namespace=namespace,
        name=name,
        versioned=versioned,
        suffix=suffix,
        method=request.method,
        query=query,
        body=body,
        files=files,
        session_id=session_id or None,
        api_key=api_key or None,
        origin=origin,
        session_from_cookie=bool(cookie_session),
        tls=tls,
        host=host,
    )


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


#: fields a query string or urlencoded body may carry (multipart: 1,000 fields and 1,000 files)
MAX_FORM_FIELDS = 10_000


def _form_pairs(text: str, what: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise api_error(f"Too many fields in the {what} (limit {MAX_FORM_FIELDS}).") from None


def _multi_dict(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Form or query pairs as a dict: a repeated key becomes a list of its values, in order (in
    linear time: a body of 100,000 repeated keys must not cost 100,000 list copies)."""
    grouped: dict[str, list[Any]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return {key: values[0] if len(values) == 1 else values for key, values in grouped.items()}


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise BadRequest("api", "Client disconnected before the request body was complete.") from None
    return b"".join(chunks)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge("api", f"Request body is too large (limit {limit} bytes).")


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    if content_type == "application/x-www-form-urlencoded" and not raw.lstrip().startswith(b"{"):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise api_error("Malformed form body: not UTF-8 text") from None
        return _coerce_form(_multi_dict(_form_pairs(text, "form body")))
    try:
        value = jsonutil.loads_untrusted(raw)
    except jsonutil.JSONDecodeError as exc:
        if not content_type:
            raise api_error(
                "The request body has no Content-Type header and is not JSON: send a JSON object with "
                "'Content-Type: application/json', or a form as application/x-www-form-urlencoded or "
                f"multipart/form-data ({exc})"
            ) from None
        raise api_error(f"Malformed JSON in request body: {exc}") from None
    if not isinstance(value, dict):
        raise api_error("Malformed JSON in request body: expected an object")
    return value


def _coerce_form(fields: dict[str, Any]) -> dict[str, Any]:
    """Form posts carry text: ``enabled=1`` / ``enabled=true`` must mean what JSON ``true`` means."""
    for key, value in fields.items():
        if not isinstance(value, str):
            continue
        if key in _FORM_FLAG_KEYS and value in ("true", "false"):
            fields[key] = value == "true"
        elif key in _FORM_FLAG_KEYS | _FORM_INT_KEYS and _DIGITS.match(value):
            fields[key] = int(value)
    return fields


async def _read_multipart(request: Request, limit: int) -> tuple[dict[str, Any], list[Upload]]:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    received = 0

    async def receive() -> Message:
        # a body without Content-Length (chunked) is counted as it arrives: never spooled past the limit
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise _too_large(limit)
        return message

    try:
        form = await Request(request.scope, receive).form(
            max_files=1000, max_fields=1000, max_part_size=16 * 1024 * 1024
        )
    except MultiPartException as exc:
        raise api_error(f"Malformed multipart body: {exc.message}") from None
    except FormParserError as exc:
        raise api_error(f"Malformed multipart body: {exc}") from None
    except HTTPException as exc:  # Starlette reports parser failures as HTTP 400
        raise api_error(f"Malformed multipart body: {exc.detail}") from None
    except ClientDisconnect:
        raise BadRequest("api", "Client disconnected before the request body was complete.") from None
    fields: list[tuple[str, Any]] = []
    files: list[Upload] = []
    total = 0
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            size = value.size or 0
            if not value.filename and not size:  # a file input left empty
                continue
            if not usable_name(value.filename or ""):
                raise api_error(f"File '{key}' is missing required name property, or name is invalid.")
            if not size:
                raise api_error(f"File '{key}' is missing required size property, or is zero bytes.")
            total += size
            if total > limit:
                raise _too_large(limit)
            files.append(Upload(field=key, filename=value.filename or "", size=size, stream=value.file))
        else:
            fields.append((key, value))
    return _coerce_form(_multi_dict(fields)), files


def _origin(request: Request, proxies: tuple[forwarded.Network, ...]) -> tuple[Origin, bool, str]:
    """(``origin``, ``tls``, ``host``) of a ``Call``: ``X-Forwarded-*`` headers count only when
    the peer is a trusted proxy (see ``cronwright.forwarded``)."""
    peer = request.client.host if request.client else ""
    headers = {k.lower(): v for k, v in request.headers.items()}
    route = forwarded.resolve(peer, ",".join(request.headers.getlist("x-forwarded-for")), proxies)
    tls = request.url.scheme in ("https", "wss")
    host = headers.get("host", "")
    if route.proxied:
        tls = tls or headers.get("x-forwarded-proto", "").split(",")[0].strip().lower() == "https"
        host = headers.get("x-forwarded-host", "").split(",")[0].strip() or host
    return Origin(ip=route.client, ips=route.chain, headers=headers), tls, host
