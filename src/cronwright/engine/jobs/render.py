"""A plugin's ``markdown`` / ``text`` / ``html`` record → the job's sanitized ``html`` (sdk-wire.md §3).

Pure functions, no I/O. :func:`render_update` applies the per-update steps of §3.2 in place: in one
update ``markdown`` beats ``text`` beats ``html``; the winner's ``content`` is macro-expanded
(§3.3), rendered (markdown → ``<div class="markdown-body">…</div>``, text → ``<pre>…</pre>``) and
sanitized (§3.5 plus the CRONWRIGHT DECISION of §3.7), and becomes ``update["html"]``; the losers
stay raw. ``title``, ``caption`` and any other keys of the record are kept as given (plain text:
whoever displays them escapes them). :func:`sanitize_record` is the same sanitizer for an ``html``
object set by ``update_job``.

Sanitizing is nh3's (ammonia's) job; this module only configures it, plus one ``attribute_filter``
that re-serializes ``style`` and drops declarations that could load or run anything.

Work is bounded: content is cut at :data:`MAX_TEXT_CHARS`, :data:`MAX_MARKDOWN_CHARS` or
:data:`MAX_HTML_CHARS` before and after macro expansion; expansion repeats at most
:data:`MAX_MACRO_PASSES` times, evaluates at most :data:`MAX_MACROS` macros within one step budget,
and a pass whose result would grow past the evaluator's ``MAX_STRING_CHARS`` is discarded (the last
text that fit is kept). See docs/job-html.md.
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Mapping
from typing import Any, Final

import nh3
import orjson
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from cronwright.expr import MAX_STEPS, ExprError
from cronwright.expr.errors import Budget
from cronwright.expr.template import build_template, find_macros
from cronwright.jsvalue import js_truthy, number_to_string

MAX_TEXT_CHARS: Final = 1_000_000
"""Longest ``text`` content rendered, in characters (checked before and after macro expansion); the
rest is cut off and noted. A plugin line may be 32 MiB (runner/protocol.py ``MAX_LINE_BYTES``)."""

MAX_MARKDOWN_CHARS: Final = 64 * 1024
"""Longest ``markdown`` content rendered, in characters: markdown-it-py needs up to ~20 µs a character
on crafted input (``![`` repeated), so the worst case stays near 1.5 s."""

MAX_HTML_CHARS: Final = 128 * 1024
"""Longest ``html`` content sanitized, in characters: html5ever (inside nh3) is quadratic in the
nesting depth of block tags (``<div>`` × 20,000 ≈ 1 s), so the worst case stays near 1.5 s."""

_MAX_CHARS: Final = {"text": MAX_TEXT_CHARS, "markdown": MAX_MARKDOWN_CHARS, "html": MAX_HTML_CHARS}

MAX_MACRO_PASSES: Final = 32
"""Expansion passes while ``{{`` remains (xyOps ``messageSub``)."""

MAX_MACROS: Final = 10_000
"""Macros compiled and evaluated for one content, over all passes; past it the text is left as it is."""

MAX_MACRO_STEPS: Final = 4 * MAX_STEPS
"""Evaluation steps for one content over all passes (a macro past it renders ``(ERROR: …)``)."""

UNDEFINED_TEXT: Final = "n/a"

ALLOWED_TAGS: Final = frozenset(
    (  # noqa: SIM905 - a word list reads (and diffs against the spec) better than 70 quoted strings
        "address article aside footer header h1 h2 h3 h4 h5 h6 hgroup main nav section"
        " blockquote dd div dl dt figcaption figure hr li ol p pre ul a abbr b bdi bdo br cite code data dfn em i"
        " kbd mark q rb rp rt rtc ruby s samp small span strong sub sup time u var wbr caption col colgroup table"
        " tbody td tfoot th thead tr"
    ).split()
)
"""§3.5 tags; any other tag is removed and its text kept (``img``, ``del``, ``svg``, ``iframe``, ...)."""

CLEAN_CONTENT_TAGS: Final = frozenset({"script", "style", "textarea", "option", "xmp"})
"""Tags removed together with their content."""

ALLOWED_ATTRIBUTES: Final[Mapping[str, frozenset[str]]] = {
    "*": frozenset({"style"}),
    "a": frozenset({"href", "target"}),
    "div": frozenset({"class"}),
    "pre": frozenset({"class"}),
    "code": frozenset({"class"}),
}
"""§3.5 attributes: ``style`` on every allowed tag, ``href``/``target`` on ``a``, ``class`` on div/pre/code."""

URL_SCHEMES: Final = frozenset({"http", "https", "ftp", "mailto", "tel"})
"""Schemes kept in ``href``; relative URLs, ``//host/…`` and ``#fragment`` pass too."""

LINK_REL: Final[str | None] = None
"""No ``rel`` is added to links: §3.6 / check 9 show ``<a>j</a>``, and browsers treat
``target="_blank"`` as ``noopener`` (HTML standard, 2021). ``rel`` itself is not an allowed attribute."""

_STYLE_FORBIDDEN: Final = ("url(", "expression(", "javascript:", "vbscript:", "@import", "image(", "image-set(", "src(")
"""A declaration whose value contains one of these (after canonicalizing) is dropped: they load or run
something. §3.7 lists the first five; ``image()``, ``image-set()`` and ``src()`` also take URLs."""

_STYLE_FORBIDDEN_PROPERTIES: Final = frozenset({"behavior", "-moz-binding"})
"""Old IE / Firefox properties that bind scripts."""

_CSS_PROPERTY: Final = re.compile(r"-{0,2}[A-Za-z_][A-Za-z0-9_-]*\Z")
_CSS_COMMENT: Final = re.compile(r"/\*.*?(?:\*/|\Z)", re.DOTALL)
_CSS_ESCAPE: Final = re.compile(r"\\(?:([0-9A-Fa-f]{1,6})[ \t\n\r\f]?|(.))", re.DOTALL)
_CSS_IGNORED: Final = re.compile(r"[\s\x00-\x1f\x7f]+")

_NOTE_NOT_OBJECT: Final = "html output that is not an object was dropped"


def render_update(update: dict[str, Any], job: dict[str, Any], base_url: str) -> list[str]:
    """Apply sdk-wire.md §3.2 to one plugin update in place, before it is merged into ``job``.

    ``markdown`` beats ``text`` beats ``html``; the winner becomes ``update["html"]`` (a new dict with
    the record's keys, ``content`` replaced) and its ``markdown``/``text`` key is deleted; losers stay
    raw. A record whose ``content`` is falsy (JavaScript rules) is not converted. An ``html`` value
    that is not an object is dropped. Returns notes for the job's meta log, ``[]`` normally; never
    raises on JSON input.
    """
    notes: list[str] = []
    for key in ("markdown", "text", "html"):
        record = update.get(key)
        if not (isinstance(record, dict) and js_truthy(record.get("content"))):
            continue
        content = _coerce_content(record["content"], key, notes)
        content = _cut(expand_macros(content, macro_context(job, base_url), notes, key), key, notes)
        if key == "markdown":
            content = render_markdown(content)
        elif key == "text":
            content = render_text(content)
        update["html"] = {**record, "content": sanitize_html(content)}
        if key != "html":
            del update[key]
        return notes
    if "html" in update and not isinstance(update["html"], dict):
        del update["html"]
        notes.append(_NOTE_NOT_OBJECT)
    return notes


def sanitize_record(value: Any) -> dict[str, Any] | None:
    """An ``html`` object set by ``update_job``, with a truthy ``content`` coerced, cut and sanitized.

    Other keys (``title``, ``caption``, ...) are kept as given; no macro expansion or markdown. A
    value that is not an object returns ``None``: the caller drops it (§3.7, as for plugin output).
    """
    if not isinstance(value, dict):
        return None
    if not js_truthy(value.get("content")):
        return dict(value)
    content = _coerce_content(value["content"], "html", [])
    return {**value, "content": sanitize_html(content)}


#: job fields a report's macros never see: besides §3.2's ``data``, ``files`` and ``input``, what
#: says where and how the job runs and what it was handed (CRONWRIGHT DECISION: a plugin that echoes
#: untrusted text into a report must not let that text read them)
HIDDEN_JOB_FIELDS: Final = frozenset(
    {"data", "files", "input", "env", "secrets", "cwd", "pid", "activity", "command", "script", "uid",
     "gid", "principal", "key", "post_data", "output", "procs", "conns", "timelines", "serverData"}
)  # fmt: skip


def macro_context(job: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    """§3.2: ``job`` (without ``HIDDEN_JOB_FIELDS``, and without the Shell plugin's ``script``
    param) and ``config.base_app_url``."""
    visible = {k: v for k, v in job.items() if k not in HIDDEN_JOB_FIELDS}
    params = visible.get("params")
    if isinstance(params, dict) and "script" in params:
        visible["params"] = {k: v for k, v in params.items() if k != "script"}
    return {"job": visible, "config": {"base_app_url": base_url}}


def render_records(records: dict[str, Any], job: dict[str, Any], base_url: str) -> tuple[dict[str, Any], list[str]]:
    """:func:`render_update` for another process: the changed records and the notes."""
    notes = render_update(records, job, base_url)
    return records, notes


def expand_macros(text: str, context: Mapping[str, Any], notes: list[str] | None = None, what: str = "") -> str:
    """xyOps ``messageSub`` (§3.3) with the safe evaluator: repeat while ``{{ … }}`` remains.

    Undefined → ``n/a``, an error → ``(ERROR: <message>)``. Bounded by :data:`MAX_MACRO_PASSES`,
    :data:`MAX_MACROS` and :data:`MAX_MACRO_STEPS`; a pass whose result would be too long is
    discarded and the previous text kept (noted in ``notes``, prefixed by ``what``).
    """
    budget = Budget(MAX_MACRO_STEPS)
    macros_left = MAX_MACROS
    for _ in range(MAX_MACRO_PASSES):
        count = sum(1 for _ in find_macros(text))
        if count == 0:
            break
        if count > macros_left:
            _note(notes, f"{what} content has too many {{{{ }}}} macros (more than {MAX_MACROS:,}): left as is")
            break
        macros_left -= count
        try:
            expanded = build_template(text, strict=False).render_with(
                context, budget, undefined=UNDEFINED_TEXT, errors="inline"
            )
        except ExprError as exc:
            _note(notes, f"{what} content macros were not expanded further: {exc.message}")
            break
        if expanded == text:
            break
        text = expanded
    return text


def render_markdown(content: str) -> str:
    """Markdown (GFM-like, §3.4) → ``<div class="markdown-body">…</div>``. NOT sanitized: raw HTML in
    the markdown passes through, so the result must go through :func:`sanitize_html` before use."""
    return '<div class="markdown-body">' + _markdown_parser().render(content) + "</div>"


def render_text(content: str) -> str:
    """Plain text → ``<pre>…</pre>`` with ``&``, ``<`` and ``>`` escaped (§3.7: shows verbatim)."""
    return "<pre>" + html.escape(content, quote=False) + "</pre>"


def sanitize_html(content: str) -> str:
    """§3.5 allowlists with nh3, plus the §3.7 ``style`` rule (see :func:`filter_style`)."""
    return nh3.clean(
        _valid_unicode(content),
        tags=ALLOWED_TAGS,
        clean_content_tags=CLEAN_CONTENT_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        strip_comments=True,
        link_rel=LINK_REL,
        url_schemes=URL_SCHEMES,
    )


def filter_style(value: str) -> str | None:
    """A ``style`` value re-serialized ``prop:value;prop:value``, or ``None`` when nothing is left.

    Declarations are split on ``;`` outside quotes and parentheses; one is dropped when its property
    is not a plain CSS identifier (or is ``behavior`` / ``-moz-binding``), its value is empty, has
    unbalanced quotes or parentheses, contains ``{``/``}``, or — compared lower-cased as written and
    after removing comments, decoding escapes and removing whitespace — contains ``url(``,
    ``expression(``, ``javascript:``, ``vbscript:``, ``@import``, ``image(``, ``image-set(`` or ``src(``.
    """
    kept = []
    for declaration in _split_declarations(value):
        prop, colon, raw = declaration.partition(":")
        prop, raw = prop.strip(), raw.strip()
        if not colon or not raw or not _CSS_PROPERTY.match(prop) or prop.lower() in _STYLE_FORBIDDEN_PROPERTIES:
            continue
        if "{" in raw or "}" in raw or _style_value_forbidden(raw):
            continue
        kept.append(f"{prop}:{raw}")
    return ";".join(kept) or None


def _filter_attribute(tag: str, attr: str, value: str) -> str | None:
    """nh3 ``attribute_filter``: empty values are dropped (as sanitize-html does), ``style`` is filtered."""
    try:
        if not value.strip():
            return None
        if attr == "style":
            return filter_style(value)
        return value
    except Exception:  # nh3 would report it as "unraisable" and drop the attribute: drop it quietly
        return None


def _split_declarations(value: str) -> list[str]:
    """Split on ``;`` outside quotes and parentheses; a declaration with a stray ``)``, or unbalanced
    quotes/parentheses at the end, is left out (in doubt, drop)."""
    out: list[str] = []
    start = depth = 0
    quote = ""
    escaped = broken = False
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            broken = broken or depth < 0
        elif ch == ";" and depth <= 0:
            if not broken:
                out.append(value[start:i])
            start, depth, broken = i + 1, 0, False
    if not (quote or depth or escaped or broken):
        out.append(value[start:])
    return out


def _style_value_forbidden(raw: str) -> bool:
    if any(needle in raw.lower() for needle in _STYLE_FORBIDDEN):
        return True
    canonical = _CSS_COMMENT.sub("", raw)
    canonical = _CSS_ESCAPE.sub(_decode_css_escape, canonical)
    canonical = _CSS_IGNORED.sub("", canonical).lower()
    return any(needle in canonical for needle in _STYLE_FORBIDDEN)


def _decode_css_escape(match: re.Match[str]) -> str:
    hex_digits, char = match.groups()
    if hex_digits is None:
        return char if char not in "\r\n\f" else ""
    code = int(hex_digits, 16)
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"


def _coerce_content(value: Any, key: str, notes: list[str]) -> str:
    """Content as text (numbers as JavaScript prints them, objects as compact JSON), cut to the limit."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = number_to_string(value)
    else:
        text = _compact_json(value)
    return _valid_unicode(_cut(text, key, notes))


def _cut(text: str, key: str, notes: list[str]) -> str:
    limit = _MAX_CHARS[key]
    if len(text) <= limit:
        return text
    notes.append(f"{key} content longer than {limit:,} characters was cut")
    return text[:limit]


def _compact_json(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):  # integers past 64 bits, nesting past 254 levels
        try:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):
            return ""


def _valid_unicode(text: str) -> str:
    """Lone surrogates (possible in JSON escapes) cannot cross into Rust: replace them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _note(notes: list[str] | None, text: str) -> None:
    if notes is not None:
        notes.append(text.strip())


# -- markdown -----------------------------------------------------------------------------------


class _Markdown(MarkdownIt):
    """markdown-it's ``gfm-like`` preset as marked 4.3 is configured by xyOps (§3.4)."""

    def validateLink(self, url: str) -> bool:
        """Every link is kept: the sanitizer removes bad URLs, so ``[js](javascript:x)`` → ``<a>js</a>``."""
        return True


class _WwwLinks:
    """linkify schema for GFM's ``www.`` autolinks (fuzzy links are off: ``report.sh`` is no link)."""

    def __init__(self, pattern: str) -> None:
        self._tail = re.compile(pattern, re.IGNORECASE)

    def validate(self, text: str, pos: int) -> int:
        before = pos - 5  # the character before "www."
        if before >= 0 and (text[before].isalnum() or text[before] in ".-_@/:"):
            return 0
        found = self._tail.match(text, pos)
        return len(found.group()) if found else 0

    def normalize(self, match: Any) -> None:
        match.url = "http://" + match.url


def _render_strikethrough(
    renderer: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """``~~x~~`` → ``<del>`` as marked writes it (markdown-it writes ``<s>``, an allowed tag)."""
    return "<del>" if tokens[idx].nesting == 1 else "</del>"


def _build_markdown() -> MarkdownIt:
    md = _Markdown("gfm-like", {"html": True, "linkify": True, "breaks": False, "typographer": False})
    md.add_render_rule("s_open", _render_strikethrough)
    md.add_render_rule("s_close", _render_strikethrough)
    linkify = md.linkify
    if linkify is not None:
        www = _WwwLinks(linkify.re["src_host_port_strict"] + linkify.re["src_path"])
        linkify.add("www.", {"validate": www.validate, "normalize": www.normalize})
        linkify.set({"fuzzy_link": False})
    return md


_parsers = threading.local()


def _markdown_parser() -> MarkdownIt:
    """One parser per thread: linkify-it keeps match state on the instance."""
    parser: MarkdownIt | None = getattr(_parsers, "markdown", None)
    if parser is None:
        parser = _parsers.markdown = _build_markdown()
    return parser
