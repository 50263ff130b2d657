"""Forgiving ``{{ }}`` expansion for notifications: a bad macro never stops a message.

Every macro is compiled and rendered on its own, so one that does not compile or fails to evaluate
is written as ``(ERROR: <message>)`` while the rest of the text still renders. ``undefined`` is the
text for an undefined or ``null`` value ("n/a" in e-mails and message text, "N/A" in web hook URLs,
"" elsewhere); with ``blank`` set, a macro whose value renders as an empty string is written as
``blank`` too (xyOps e-mails show "n/a" for missing *and* empty values).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cronwright.expr import MAX_STRING_CHARS, ExprError, compile_template
from cronwright.expr.errors import show
from cronwright.expr.template import find_macros

DEFAULT_CLIENT_NAME = "Cronwright"
_TRUNCATED = "… (truncated)"


def render_lenient(text: str, context: Mapping[str, Any], *, undefined: str = "", blank: str | None = None) -> str:
    """Expand each macro of ``text`` against ``context``; failures render inline, never raise."""
    out: list[str] = []
    size = 0
    pos = 0
    for start, end in find_macros(text):
        piece = text[pos:start] + _render_macro(text[start:end], context, undefined, blank)
        size += len(piece)
        if size > MAX_STRING_CHARS:
            out.append(_TRUNCATED)
            return "".join(out)
        out.append(piece)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _render_macro(macro: str, context: Mapping[str, Any], undefined: str, blank: str | None) -> str:
    try:
        rendered = compile_template(macro).render(context, undefined=undefined, errors="inline")
    except ExprError as exc:
        return f"(ERROR: {macro_error(macro, exc)})"
    if blank is not None and rendered == "":
        return blank
    return rendered


def macro_error(macro: str, exc: ExprError) -> str:
    """The reason a macro failed to compile, without the "Invalid macro {{ … }}: " prefix."""
    prefix = f"Invalid macro {show(macro, 60)}: "
    return exc.message[len(prefix) :] if exc.message.startswith(prefix) else exc.message


def client_name(data: Mapping[str, Any]) -> str:
    """The product name shown in messages: ``data.client.name`` or "Cronwright"."""
    client = data.get("client")
    name = client.get("name") if isinstance(client, Mapping) else None
    return name if isinstance(name, str) and name else DEFAULT_CLIENT_NAME


def with_client(data: Mapping[str, Any]) -> dict[str, Any]:
    """A shallow copy of ``data`` whose ``client.name`` is always set."""
    client = data.get("client")
    merged = dict(client) if isinstance(client, Mapping) else {}
    merged["name"] = client_name(data)
    return {**data, "client": merged}
