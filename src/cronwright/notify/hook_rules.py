"""Field rules of a web hook record (supporting-apis.md §6); ``id``/``title`` are the caller's.

Errors: ``api`` (:func:`~cronwright.errors.api_error`) for a missing or malformed field, and
``web_hook`` for a bad header list or a macro that does not compile (URL, header value or body),
as in xyOps.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final

from cronwright.errors import BadRequest, api_error
from cronwright.expr import ExprError, compile_template

WEB_HOOK_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "method": "POST",
    "headers": [],
    "body": "",
    "timeout": 30,
    "retries": 0,
    "follow": False,
    "ssl_cert_bypass": False,
    "max_per_day": 0,
}
"""Values of the optional fields on create (copy it, e.g. ``copy.deepcopy``, before filling a record)."""

MAX_RETRIES: Final = 10
_METHOD: Final = re.compile(r"^\w+$", re.ASCII)
_URL_START: Final = re.compile(r"^(https?://|\{\{)", re.IGNORECASE)
#: an HTTP header name (RFC 9110 token)
_HEADER_NAME: Final = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BOOLEANS: Final = ("enabled", "follow", "ssl_cert_bypass")


def validate_web_hook(doc: Mapping[str, Any], *, partial: bool = False) -> None:
    """Check the fields of ``doc``; with ``partial`` only those present (an update). Raises
    :class:`~cronwright.errors.BadRequest` (code ``api`` or ``web_hook``) on the first problem."""
    label = str(doc.get("title") or doc.get("id") or "")
    if not partial or "method" in doc:
        _check_method(doc.get("method"), "method" in doc)
    if not partial or "url" in doc:
        _check_url(doc.get("url"), "url" in doc)
    if "headers" in doc:
        _check_headers(doc["headers"], label)
    if "body" in doc:
        body = doc["body"]
        if not isinstance(body, str):
            raise api_error("Malformed parameter: body (must be a string)")
        _compile(body, "body")
    if "timeout" in doc and not (_is_number(doc["timeout"]) and doc["timeout"] > 0):
        raise api_error("Malformed parameter: timeout (must be a number of seconds greater than 0)")
    if "retries" in doc and not (_is_integer(doc["retries"]) and 0 <= doc["retries"] <= MAX_RETRIES):
        raise api_error(f"Malformed parameter: retries (must be an integer from 0 to {MAX_RETRIES})")
    if "max_per_day" in doc and not (_is_integer(doc["max_per_day"]) and doc["max_per_day"] >= 0):
        raise api_error("Malformed parameter: max_per_day (must be an integer of 0 or more; 0 = unlimited)")
    for key in _BOOLEANS:
        if key in doc and not isinstance(doc[key], bool):
            raise api_error(f"Malformed parameter: {key} (must be true or false)")


def _check_method(method: Any, present: bool) -> None:
    if not present:
        raise api_error("Missing parameter: method")
    if not isinstance(method, str) or not _METHOD.match(method):
        raise api_error("Malformed parameter: method (a word such as GET or POST)")


def _check_url(url: Any, present: bool) -> None:
    if not present:
        raise api_error("Missing parameter: url")
    if not isinstance(url, str) or not _URL_START.match(url):
        raise api_error("Malformed parameter: url (must start with http://, https:// or {{)")
    if any(ch in url for ch in "\r\n\t\0"):
        raise api_error("Malformed parameter: url (must not contain line breaks or control characters)")
    _compile(url, "url")


def _check_headers(headers: Any, label: str) -> None:
    if not isinstance(headers, list):
        raise BadRequest("web_hook", f"Invalid header format for web hook: {label}")
    for header in headers:
        if (
            not isinstance(header, Mapping)
            or not isinstance(header.get("name"), str)
            or not isinstance(header.get("value"), str)
            or not _HEADER_NAME.match(header["name"])
            or any(ch in header["value"] for ch in "\r\n\0")
        ):
            raise BadRequest("web_hook", f"Invalid header format for web hook: {label}")
        _compile(header["value"], f"header {header['name']}")


def _compile(text: str, where: str) -> None:
    try:
        compile_template(text)
    except ExprError as exc:
        reason = exc.message
        if reason.startswith("Invalid macro "):
            reason = reason[len("Invalid macro ") :]
        raise BadRequest("web_hook", f"Failed to compile macro in {where}: {reason}") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_integer(value: Any) -> bool:
    return _is_number(value) and float(value).is_integer()
