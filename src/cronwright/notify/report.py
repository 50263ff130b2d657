"""The markdown report of one web hook request and its response, with secrets masked.

A report is stored on the job (``actions[].details``) and shown to everyone who may read the job,
not only to those who may edit web hooks. So the request's URL keeps only scheme, host and query
names (``mask_url``: user-info, path — Slack-style URLs carry their secret there —, query values
and fragment become ``********``), and every request header value is masked except a few plain
protocol headers (``Content-Type``, ``User-Agent``, …); response headers likewise (a ``Location``
is shown as a masked URL). Bodies are shown as text, cut at 32 KB: a target that echoes what it
received shows it there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

MASK: Final = "********"
MAX_BODY_BYTES: Final = 32 * 1024
#: request headers whose values a report shows (protocol details, never credentials)
PLAIN_REQUEST_HEADERS: Final = frozenset(
    {"accept", "accept-encoding", "accept-language", "content-type", "content-length", "user-agent", "host"}
)
#: response headers whose values a report shows
PLAIN_RESPONSE_HEADERS: Final = frozenset(
    {
        *("content-type", "content-length", "content-encoding", "content-language", "transfer-encoding"),
        *("date", "server", "connection", "cache-control", "vary", "etag", "last-modified", "age", "expires"),
    }
)


def mask_url(url: str) -> str:
    """``url`` with its user-info, path, query values (and query items without a value) and fragment
    replaced by ``MASK`` (scheme, host, port and the names of ``name=value`` query items stay)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if not parts.netloc:  # not a URL at all: shown only when it is the "undefined" placeholder
        return url if url in ("", "N/A") else MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    path = parts.path if parts.path in ("", "/") else "/" + MASK
    query = parts.query
    if query:  # ``name=value`` keeps its name; a bare item (``?xoxb-TOKEN``) is a value itself
        query = "&".join(
            f"{quote(unquote_plus(item.split('=', 1)[0]), safe='{}')}={MASK}" if "=" in item else MASK
            for item in query.split("&")
            if item
        )
    return urlunsplit((parts.scheme, netloc, path, query, MASK if parts.fragment else ""))


def masked_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Response headers as reported: plain protocol headers as sent, ``Location`` as a masked URL,
    every other value ``********`` (a response can carry tokens in any header)."""
    shown = []
    for name, value in headers:
        lower = name.lower()
        if lower == "location":
            value = mask_url(value) if "://" in value else MASK
        elif lower not in PLAIN_RESPONSE_HEADERS and value:
            value = MASK
        shown.append((name, value))
    return shown


def request_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Request headers as reported: every value masked but those of ``PLAIN_REQUEST_HEADERS``."""
    return [(name, value if name.lower() in PLAIN_REQUEST_HEADERS or not value else MASK) for name, value in headers]


def code_block(text: str, info: str = "") -> str:
    """``text`` in a fenced block whose fence is longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def body_text(body: bytes, *, truncated: bool = False, total: int | None = None) -> str:
    """A body as text (UTF-8, invalid bytes replaced), cut at 32 KB with a note."""
    shown = body[:MAX_BODY_BYTES].decode("utf-8", "replace")
    if truncated or len(body) > MAX_BODY_BYTES:
        size = f" of {total:,} bytes" if total is not None else ""
        shown += f"\n… (truncated: first {MAX_BODY_BYTES // 1024} KB{size} shown)"
    return shown


def headers_block(headers: Iterable[tuple[str, str]]) -> str:
    """Headers (already masked), one ``Name: value`` per line, in a code block ("(none)" when empty)."""
    lines = [f"{name}: {value}" for name, value in headers]
    return code_block("\n".join(lines)) if lines else "(none)"


def request_section(method: str, url: str, headers: list[tuple[str, str]], body: bytes | None) -> str:
    """``**Request:** METHOD URL``, then the headers and the body as sent."""
    parts = [f"**Request:** {method} {mask_url(url)}", "**Request Headers:**", headers_block(request_headers(headers))]
    if body:
        parts += [f"**Request Body:** ({len(body):,} bytes)", code_block(body_text(body, total=len(body)))]
    else:
        parts.append("**Request Body:** (none)")
    return "\n\n".join(parts)


def response_section(
    status: int, reason: str, headers: list[tuple[str, str]], body: bytes, *, truncated: bool, elapsed_ms: float
) -> str:
    """``**Response:** HTTP status reason``, then the headers and the (possibly cut) body."""
    parts = [
        f"**Response:** HTTP {status} {reason} ({elapsed_ms:,.0f} ms)".replace("  ", " "),
        "**Response Headers:**",
        headers_block(masked_headers(headers)),
    ]
    if body:
        parts += ["**Response Body:**", code_block(body_text(body, truncated=truncated))]
    else:
        parts.append("**Response Body:** (empty)")
    return "\n\n".join(parts)
