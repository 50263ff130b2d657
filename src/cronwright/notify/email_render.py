"""Turn an e-mail template and the hook data into a ready message (limits-actions.md §4.1).

A template is markdown with ``{{ }}`` macros. Leading HTML comments ``<!-- Key: value -->`` are
directives: ``Subject``, ``To``, ``Cc``, ``Bcc`` and ``From`` set the message headers, ``Title``
and ``Button`` (``Label | URL``) decorate the HTML part; all leading comments are removed from the
body. Macros render undefined or empty values as "n/a" (as xyOps does) and a failing macro as
``(ERROR: …)``; address directives render them as nothing instead.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .macros import render_lenient, with_client
from .markdown import html_document, inline_html, markdown_to_html

SUBJECT_MAX_CHARS = 120
_DIRECTIVE: Final = re.compile(r"<!--(.*?)-->", re.DOTALL)
_KEY_VALUE: Final = re.compile(r"^\s*([A-Za-z][\w-]*)\s*:\s*(.*?)\s*$", re.DOTALL)
_ANGLE: Final = re.compile(r"<([^<>]*)>\s*$")
_SPACE: Final = re.compile(r"\s+")
_MARKDOWN_LEAD: Final = re.compile(r"^(?:#{1,6}\s+|[-*+]\s+|>\s*)+")


@dataclass(frozen=True)
class RenderedEmail:
    """One message ready to send: ``text`` is the rendered markdown, ``html`` the same as HTML."""

    subject: str
    text: str
    html: str
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    #: the ``From`` directive ("" → the configured sender)
    sender: str = ""


def split_directives(template: str) -> tuple[dict[str, str], str]:
    """The leading ``<!-- Key: value -->`` comments as ``{key (lower case): raw value}`` and the rest
    of the template (later duplicates win; comments that are not ``Key: value`` are just dropped)."""
    directives: dict[str, str] = {}
    rest = template.lstrip("\ufeff")
    while True:
        stripped = rest.lstrip()
        match = _DIRECTIVE.match(stripped)
        if match is None:
            return directives, rest
        pair = _KEY_VALUE.match(match.group(1))
        if pair:
            directives[pair.group(1).lower()] = pair.group(2)
        rest = stripped[match.end() :]


def parse_addresses(text: str) -> list[str]:
    """The entries of a comma/semicolon separated list (``Name <a@b>`` keeps ``a@b``), de-duplicated.

    Entries are not validated here (the sender checks them), so a typo stays visible as typed."""
    entries: list[str] = []
    current: list[str] = []
    quoted = angled = False
    for ch in text:
        if ch == '"' and not angled:
            quoted = not quoted
        elif ch == "<" and not quoted:
            angled = True
        elif ch == ">" and not quoted:
            angled = False
        elif ch in ",;" and not quoted and not angled:
            entries.append("".join(current))
            current = []
            continue
        current.append(ch)
    entries.append("".join(current))
    found: list[str] = []
    for entry in entries:
        inner = _ANGLE.search(entry)
        address = (inner.group(1) if inner else entry).strip()
        if address:
            found.append(" ".join(address.split()))
    return list(dict.fromkeys(found))


def render_email(template: str, data: Mapping[str, Any]) -> RenderedEmail:
    """Render ``template`` over ``data`` (the hook data); never raises for bad macros."""
    context = with_client(data)
    directives, body = split_directives(template if isinstance(template, str) else str(template))

    def header(key: str) -> str:
        raw = directives.get(key, "")
        return _SPACE.sub(" ", render_lenient(raw, context, undefined="n/a", blank="n/a")).strip() if raw else ""

    def addresses(key: str) -> list[str]:
        raw = directives.get(key, "")
        return parse_addresses(render_lenient(raw, context, undefined="", blank="")) if raw else []

    text = render_lenient(body, context, undefined="n/a", blank="n/a").strip("\n")
    text = text.replace("\r\n", "\n") + "\n"
    subject = header("subject") or _subject_from(text, context)
    senders = addresses("from")
    return RenderedEmail(
        subject=subject,
        text=text,
        html=html_document(subject, _decorations(header("title"), header("button")) + markdown_to_html(text)),
        to=addresses("to"),
        cc=addresses("cc"),
        bcc=addresses("bcc"),
        sender=senders[0] if senders else "",
    )


def _subject_from(text: str, context: Mapping[str, Any]) -> str:
    """The first non-blank line of the text without markdown markers, at most 120 characters."""
    for line in text.splitlines():
        line = _MARKDOWN_LEAD.sub("", _SPACE.sub(" ", line).strip()).strip()
        if line:
            return line if len(line) <= SUBJECT_MAX_CHARS else line[: SUBJECT_MAX_CHARS - 1].rstrip() + "…"
    return f"{context['client']['name']} Notification"


def _decorations(title: str, button: str) -> str:
    parts: list[str] = []
    if title:
        parts.append(f"<h2>{html.escape(title)}</h2>")
    label, _, url = button.partition("|")
    label, url = label.strip(), url.strip()
    if label and re.match(r"^https?://", url, re.IGNORECASE):
        parts.append(f'<p><a href="{html.escape(url, quote=True)}"><strong>{inline_html(label)}</strong></a></p>')
    return "\n".join(parts) + ("\n" if parts else "")
