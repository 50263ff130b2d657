"""The markdown report of one web hook request and its response, with secrets masked.

Header values whose names look secret (``Authorization``, ``Cookie``, ``X-API-Key``, anything with
"token", "secret", "password" …), the password of a URL's user-info and query values with such
names are replaced by ``********``. Bodies are shown as text, cut at 32 KB.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import unquote

MASK: Final = "********"
MAX_BODY_BYTES: Final = 32 * 1024
_SECRET_NAME: Final = re.compile(
    r"auth|cookie|token|secret|passw|pwd|api[-_]?key|apikey|session|signature|credential|private|access[-_]?key",
    re.IGNORECASE,
)
_QUERY_PAIR: Final = re.compile(r"([?&;])([^=&;#]+)=([^&;#]*)")
_USERINFO: Final = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/@?#:]*):[^/@?#]*@")


def is_secret_name(name: str) -> bool:
    """True for header or parameter names that usually carry credentials."""
    return bool(_SECRET_NAME.search(name))


def mask_url(url: str) -> str:
    """``url`` with the user-info password and secret-looking query values masked."""
    url = _USERINFO.sub(lambda m: f"{m.group(1)}:{MASK}@", url)

    def pair(match: re.Match[str]) -> str:
        name = match.group(2)
        return f"{match.group(1)}{name}={MASK}" if is_secret_name(unquote(name)) else match.group(0)

    return _QUERY_PAIR.sub(pair, url)


def masked_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers with the values of secret-looking names replaced by ``********``."""
    return [(name, MASK if is_secret_name(name) and value else value) for name, value in headers]


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
    """Masked headers, one ``Name: value`` per line, in a code block ("(none)" when empty)."""
    lines = [f"{name}: {value}" for name, value in masked_headers(headers)]
    return code_block("\n".join(lines)) if lines else "(none)"


def request_section(method: str, url: str, headers: list[tuple[str, str]], body: bytes | None) -> str:
    """``**Request:** METHOD URL``, then the headers and the body as sent."""
    parts = [f"**Request:** {method} {mask_url(url)}", "**Request Headers:**", headers_block(headers)]
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
        headers_block(headers),
    ]
    if body:
        parts += ["**Response Body:**", code_block(body_text(body, truncated=truncated))]
    else:
        parts.append("**Response Body:** (empty)")
    return "\n\n".join(parts)
