"""A small, safe markdown-to-HTML converter for e-mail bodies.

Everything in the input is HTML-escaped first; only the constructs below produce tags: blank-line
separated paragraphs (single line breaks become ``<br>``), ATX headings (``#`` … ``######``),
bullet and numbered lists, fenced code blocks, horizontal rules, ``**bold**``, ``*italic*``,
`` `code` ``, ``[links](https://…)`` and bare ``http(s)://`` URLs. Link targets are limited to
``http``, ``https`` and ``mailto`` so a template can never produce a ``javascript:`` link.
"""

from __future__ import annotations

import html
import re
from typing import Final

_FENCE: Final = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_HEADING: Final = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_RULE: Final = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_BULLET: Final = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_NUMBERED: Final = re.compile(r"^\s{0,3}\d{1,9}[.)]\s+(.*)$")
_TOKEN: Final = re.compile(
    r"(`+)(.+?)\1"
    r"|\[([^\]\n]+)\]\(((?:https?://|mailto:)[^)\s]+)\)"
    r"|(https?://[^\s<>()\"']*[^\s<>()\"'.,;:!?])",
    re.IGNORECASE,
)
_BOLD: Final = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_ITALIC: Final = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
_SLOT: Final = re.compile("\x00(\\d+)\x00")


def markdown_to_html(text: str) -> str:
    """Convert ``text`` to an HTML fragment (no ``<html>`` wrapper)."""
    lines = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif fence := _FENCE.match(line):
            i = _code_block(lines, i, fence.group(1), blocks)
        elif heading := _HEADING.match(line):
            level = len(heading.group(1))
            blocks.append(f"<h{level}>{inline_html(heading.group(2))}</h{level}>")
            i += 1
        elif _RULE.match(line):
            blocks.append("<hr>")
            i += 1
        elif _BULLET.match(line) or _NUMBERED.match(line):
            i = _list_block(lines, i, blocks)
        else:
            i = _paragraph(lines, i, blocks)
    return "\n".join(blocks)


def _starts_block(line: str) -> bool:
    return bool(
        not line.strip()
        or _FENCE.match(line)
        or _HEADING.match(line)
        or _RULE.match(line)
        or _BULLET.match(line)
        or _NUMBERED.match(line)
    )


def _code_block(lines: list[str], i: int, marker: str, blocks: list[str]) -> int:
    body: list[str] = []
    i += 1
    while i < len(lines) and not lines[i].strip().startswith(marker):
        body.append(lines[i])
        i += 1
    blocks.append(f"<pre><code>{html.escape(chr(10).join(body))}</code></pre>")
    return i + 1


def _list_block(lines: list[str], i: int, blocks: list[str]) -> int:
    ordered = bool(_NUMBERED.match(lines[i]))
    pattern = _NUMBERED if ordered else _BULLET
    items: list[list[str]] = []
    while i < len(lines):
        line = lines[i]
        item = pattern.match(line)
        if item:
            items.append([item.group(1)])
        elif items and line.strip() and line[:1].isspace() and not _starts_block(line):
            items[-1].append(line.strip())
        else:
            break
        i += 1
    tag = "ol" if ordered else "ul"
    rendered = "".join(f"<li>{'<br>'.join(inline_html(part) for part in item)}</li>" for item in items)
    blocks.append(f"<{tag}>{rendered}</{tag}>")
    return i


def _paragraph(lines: list[str], i: int, blocks: list[str]) -> int:
    body = [lines[i].strip()]
    i += 1
    while i < len(lines) and not _starts_block(lines[i]):
        body.append(lines[i].strip())
        i += 1
    blocks.append(f"<p>{'<br>'.join(inline_html(part) for part in body)}</p>")
    return i


def inline_html(text: str) -> str:
    """Escape one line and apply code spans, links, bold and italic."""
    slots: list[str] = []

    def keep(match: re.Match[str]) -> str:
        code, label, target, bare = match.group(2), match.group(3), match.group(4), match.group(5)
        if code is not None:
            fragment = f"<code>{html.escape(code.strip())}</code>"
        else:
            url = target or bare
            shown = inline_html(label) if label else html.escape(url)
            fragment = f'<a href="{html.escape(url, quote=True)}">{shown}</a>'
        slots.append(fragment)
        return f"\x00{len(slots) - 1}\x00"

    text = _TOKEN.sub(keep, text.replace("\x00", ""))
    text = html.escape(text, quote=False)
    text = _BOLD.sub(lambda m: f"<strong>{m.group(1) or m.group(2)}</strong>", text)
    text = _ITALIC.sub(r"<em>\1</em>", text)
    return _SLOT.sub(lambda m: slots[int(m.group(1))], text)


def html_document(title: str, body_html: str) -> str:
    """A minimal complete HTML e-mail document around ``body_html``."""
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n"
        '<body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; font-size: 14px; '
        'line-height: 1.5; color: #222;">\n'
        f"{body_html}\n</body></html>\n"
    )
