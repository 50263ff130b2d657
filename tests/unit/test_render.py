"""Tables and properties for job report rendering (sdk-wire.md §3): markdown/text/html → sanitized ``job.html``."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cronwright.engine.jobs.render import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    MAX_HTML_CHARS,
    MAX_MACROS,
    MAX_MARKDOWN_CHARS,
    MAX_TEXT_CHARS,
    expand_macros,
    filter_style,
    macro_context,
    render_markdown,
    render_text,
    render_update,
    sanitize_html,
    sanitize_record,
)

JOB_ID = "jmx7r6a9wzd8qsbs"
BASE_URL = "https://xyops.example.com"
JOB: dict[str, Any] = {
    "id": JOB_ID,
    "server": "smain",
    "params": {"x": "px", "nested": "{{job.id}}"},
    "data": {"secret": "d"},
    "files": [{"path": "f"}],
    "input": {"data": "i"},
}


def normalize(fragment: str) -> str:
    """The same DOM written one way: whitespace between tags, ``&nbsp;`` = U+00A0, ``<br />`` = ``<br>``,
    and the ``<tbody>`` a browser (and html5ever) implies inside ``<table><tr>`` (§3.7: byte-identical
    HTML is not required, the wrapper, structure, allowlists and escaping are)."""
    fragment = re.sub(r">\s+<", "><", fragment)
    fragment = fragment.replace("&nbsp;", "\u00a0")
    fragment = re.sub(r"<(br|hr|wbr)\s*/?>", r"<\1>", fragment)
    return re.sub(r"<table>(<tr>.*?</tr>)</table>", r"<table><tbody>\1</tbody></table>", fragment)


def render(kind: str, content: Any, **extra: Any) -> dict[str, Any]:
    update: dict[str, Any] = {kind: {"content": content, **extra}}
    assert render_update(update, JOB, BASE_URL) == []
    return update


class _Elements(HTMLParser):
    """Collects every start tag with its (entity-decoded) attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))


def elements(fragment: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Elements()
    parser.feed(fragment)
    parser.close()
    return parser.elements


def assert_safe(fragment: str) -> None:
    """Only allowed tags and attributes, no handler, no script-capable URL, nothing loaded by style."""
    assert "<script" not in fragment.lower()
    for tag, attrs in elements(fragment):
        assert tag in ALLOWED_TAGS, tag
        allowed = ALLOWED_ATTRIBUTES["*"] | ALLOWED_ATTRIBUTES.get(tag, frozenset())
        for name, value in attrs:
            assert name in allowed and not name.startswith("on"), (tag, name)
            folded = re.sub(r"[\s\x00-\x1f]+", "", value or "").lower()
            if name == "style":  # declarations, no URL: a property may be named ``data`` or ``vbscript``
                for declaration in folded.split(";"):
                    css_value = declaration.partition(":")[2]
                    forbidden = ("url(", "expression(", "javascript:", "vbscript:", "@import")
                    assert not any(n in css_value for n in forbidden), value
                assert "url(" not in folded and "expression(" not in folded, value
            elif name != "class":  # a class name is no URL: a code fence may be ```javascript:
                # a URL runs script only by its scheme, which starts it (browsers strip only the
                # leading whitespace and control characters ``folded`` removed): a relative URL may
                # contain "javascript:" further on
                assert not folded.startswith(("javascript:", "vbscript:", "data:")), (name, value)


# -- §3.6, every example row ---------------------------------------------------------------------

SPEC_ROWS = [
    pytest.param(
        "markdown",
        "**SDK bold** and _em_",
        '<div class="markdown-body"><p><strong>SDK bold</strong> and <em>em</em></p>\n</div>',
        id="markdown-bold-em",
    ),
    pytest.param(
        "markdown",
        "# H1\n\n**b** _e_ <script>alert(1)</script> [js](javascript:alert(1)) <img src=x onerror=alert(1)> id={{job.id}} nope={{nope}} err={{1 +}} url={{config.base_app_url}}\n\n| a | b |\n|---|---|\n| 1 | 2 |",
        # the evaluator's message is "Unexpected end of expression" (xyOps: "Error: Unexpected end of expression: 1 +")
        '<div class="markdown-body"><h1>H1</h1>\n<p><strong>b</strong> <em>e</em>  <a>js</a>  id=jmx7r6a9wzd8qsbs nope=n/a err=(ERROR: Unexpected end of expression) url=<a href="https://xyops.example.com">https://xyops.example.com</a></p>\n<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n<tbody><tr>\n<td>1</td>\n<td>2</td>\n</tr>\n</tbody></table>\n</div>',
        id="markdown-hostile-macros-table",
    ),
    pytest.param(
        "markdown",
        "`inline` ~~del~~ https://auto.link <mailto:a@b.c>",
        '<div class="markdown-body"><p><code>inline</code> del <a href="https://auto.link">https://auto.link</a> <a href="mailto:a@b.c">mailto:a@b.c</a></p>\n</div>',
        id="markdown-code-del-autolinks",
    ),
    pytest.param(
        "markdown",
        "```js\ncode\n```",
        '<div class="markdown-body"><pre><code class="language-js">code\n</code></pre>\n</div>',
        id="markdown-fence",
    ),
    pytest.param(
        "markdown",
        "![img](http://x/y.png) [d](data:text/html,x) [rel](/a/b)",
        '<div class="markdown-body"><p> <a>d</a> <a href="/a/b">rel</a></p>\n</div>',
        id="markdown-img-data-relative",
    ),
    pytest.param(
        "text",
        'a < b & c > d "q" id={{job.id}}\n<b>x</b> &amp;',
        # CRONWRIGHT DECISION (§3.7): "&" is escaped too, so "&amp;" shows verbatim (xyOps: "&amp;", shown as "&")
        '<pre>a &lt; b &amp; c &gt; d "q" id=jmx7r6a9wzd8qsbs\n&lt;b&gt;x&lt;/b&gt; &amp;amp;</pre>',
        id="text-escaped",
    ),
    pytest.param("html", "<b>SDK failure</b><script>alert(1)</script>", "<b>SDK failure</b>", id="html-sdk"),
    pytest.param(
        "html",
        '<b onclick="x()" style="color:red">b</b><script>bad()</script><style>p{}</style><iframe src=x></iframe><img src=y><div class="k" id="i">d</div><a href="javascript:alert(1)">j</a>&nbsp;&copy; &',
        '<b style="color:red">b</b><div class="k">d</div><a>j</a>\u00a0© &amp;',
        id="html-attributes-entities",
    ),
    pytest.param(
        "html",
        '<table><tr><td colspan=2 style="width:10px">c</td></tr></table><textarea>t</textarea><noscript>n</noscript><button>b</button><!-- c --><p>end</p>',
        '<table><tr><td style="width:10px">c</td></tr></table>nb<p>end</p>',
        id="html-table-content-tags-comment",
    ),
    pytest.param(
        "html",
        '<a href="JaVaScRiPt:alert(1)">1</a><a href="http://ok" target=_blank rel=noopener name=n>4</a><a href="#frag">5</a>',
        '<a>1</a><a href="http://ok" target="_blank">4</a><a href="#frag">5</a>',
        id="html-links",
    ),
]


@pytest.mark.parametrize(("kind", "content", "expected"), SPEC_ROWS)
def test_spec_examples(kind: str, content: str, expected: str) -> None:
    """Each §3.6 example renders to the same DOM as xyOps (up to the documented §3.7 differences)."""
    update = render(kind, content, title="T", caption="C")
    assert normalize(update["html"]["content"]) == normalize(expected)
    assert update["html"]["title"] == "T" and update["html"]["caption"] == "C"
    assert set(update) == {"html"}


# -- §7 checks 7–10 ------------------------------------------------------------------------------


def test_check_7_set_markdown() -> None:
    """setMarkdown("T", "**b**", "C") → html {title, wrapped content, caption}, no markdown key."""
    update = {"markdown": {"title": "T", "content": "**b**", "caption": "C"}}
    assert render_update(update, JOB, BASE_URL) == []
    assert update == {
        "html": {
            "title": "T",
            "content": '<div class="markdown-body"><p><strong>b</strong></p>\n</div>',
            "caption": "C",
        }
    }


def test_check_8_set_text() -> None:
    """setText("T", "a < b & c") → <pre>a &lt; b &amp; c</pre>."""
    assert render("text", "a < b & c", title="T")["html"] == {"title": "T", "content": "<pre>a &lt; b &amp; c</pre>"}


def test_check_9_set_html() -> None:
    """setHTML with a handler, a script and a javascript: link keeps <b>b</b> and <a>j</a> only."""
    content = render("html", '<b onclick="x()">b</b><script>alert(1)</script><a href="javascript:alert(1)">j</a>')
    html = content["html"]["content"]
    assert "<b>b</b>" in html and "<a>j</a>" in html
    assert "script" not in html and "onclick" not in html and "javascript:" not in html


def test_check_10_macros_in_markdown() -> None:
    """Markdown "{{job.id}} {{nope}}" → the job id and n/a."""
    assert render("markdown", "{{job.id}} {{nope}}")["html"]["content"] == (
        f'<div class="markdown-body"><p>{JOB_ID} n/a</p>\n</div>'
    )


# -- hostile input -------------------------------------------------------------------------------

HOSTILE = [
    ("<svg onload=alert(1)>x</svg>", "x"),
    ("<img src=x onerror=alert(1)>after", "after"),
    ('<a href="JaVaScRiPt:alert(1)">a</a>', "<a>a</a>"),
    ('<a href="  javascript:alert(1)">a</a>', "<a>a</a>"),
    ('<a href="java\tscript:alert(1)">a</a>', "<a>a</a>"),
    ('<a href="java&#x09;script:alert(1)">a</a>', "<a>a</a>"),
    ('<a href="&#106;avascript:alert(1)">a</a>', "<a>a</a>"),
    ('<a href="&#x6A;&#x61;vascript&colon;alert(1)">a</a>', "<a>a</a>"),
    ('<a href="data:text/html;base64,PHNjcmlwdD4=">a</a>', "<a>a</a>"),
    ('<a href="vbscript:msgbox(1)">a</a>', "<a>a</a>"),
    ('<a href="">a</a>', "<a>a</a>"),
    ('<a href="//host/x">a</a><a href="tel:+1">t</a><a href="mailto:a@b.c">m</a><a href="ftp://h/f">f</a>', None),
    ("<style>body{background:red}</style>x", "x"),
    ("<script>alert(1)</script>x", "x"),
    ("<scr<script>ipt>alert(1)</script>", "ipt&gt;alert(1)"),
    ("<xmp><b>x</b></xmp><select><option>o</option></select>y", "y"),
    # ammonia also drops text inside nested MathML/SVG elements (sanitize-html keeps "m"): safer, documented
    ("<math><mi>m</mi></math><details><summary>s</summary>d</details><font>f</font><center>c</center>", "sdfc"),
    ("<form action=javascript:x><input value=i><button formaction=javascript:y>b</button></form>", "b"),
    ("<iframe srcdoc='<script>alert(1)</script>'></iframe>x", "x"),
    ('<div style="background:url(javascript:x)">d</div>', "<div>d</div>"),
    (
        '<div style="color:red;background:url(javascript:x);width : 10px">d</div>',
        '<div style="color:red;width:10px">d</div>',
    ),
    ('<div style="width:expression(alert(1))">d</div>', "<div>d</div>"),
    ('<div style="width:EXPRESSION(alert(1))">d</div>', "<div>d</div>"),
    ('<div style="background:u\\rl(x)">d</div>', "<div>d</div>"),
    ('<div style="background:\\75 rl(x)">d</div>', "<div>d</div>"),
    ('<div style="background:u/**/rl(x)">d</div>', "<div>d</div>"),
    ('<div style="width:e\\xpression(1)">d</div>', "<div>d</div>"),
    ('<div style="behavior:url(x.htc);-moz-binding:x">d</div>', "<div>d</div>"),
    ('<div style="background-image:image-set(&quot;x.png&quot; 1x)">d</div>', "<div>d</div>"),
    ('<div style="color:red;}body{x:y">d</div>', '<div style="color:red">d</div>'),
    (
        '<div style="font-family:&quot;a;b&quot;, serif; color: blue">d</div>',
        '<div style="font-family:&quot;a;b&quot;, serif;color:blue">d</div>',
    ),
    ('<div style="">d</div><div style="color">e</div><div style=";;">f</div>', "<div>d</div><div>e</div><div>f</div>"),
    (
        '<p id="x" title="t" class="c" name="n" style="margin: 0  auto !important">p</p>',
        '<p style="margin:0  auto !important">p</p>',
    ),
    (
        '<pre class="x"><code class="language-sh">c</code></pre>',
        '<pre class="x"><code class="language-sh">c</code></pre>',
    ),
    ("<b>unclosed<i>tags", "<b>unclosed<i>tags</i></b>"),
    ("<br><hr>", "<br><hr>"),
    ("<!-- comment -->x<!-->y", "xy"),
]


@pytest.mark.parametrize(("content", "expected"), HOSTILE)
def test_hostile_vectors(content: str, expected: str | None) -> None:
    """Known XSS vectors lose their tags, handlers, URLs or style declarations; allowed markup stays."""
    clean = sanitize_html(content)
    assert_safe(clean)
    if expected is not None:
        assert clean == expected
    assert sanitize_html(clean) == clean


def test_allowed_url_forms_are_kept() -> None:
    """Protocol-relative, tel:, mailto:, ftp:, relative and #fragment links keep their href."""
    clean = sanitize_html(HOSTILE[11][0] + '<a href="a/b?c=1">r</a><a href="#f">h</a>')
    hrefs = [dict(attrs).get("href") for _, attrs in elements(clean)]
    assert hrefs == ["//host/x", "tel:+1", "mailto:a@b.c", "ftp://h/f", "a/b?c=1", "#f"]


def test_every_allowed_tag_survives_with_style() -> None:
    """Every §3.5 tag is kept, with its style attribute."""
    for tag in sorted(ALLOWED_TAGS - {"br", "hr", "wbr", "col", "caption", "colgroup", "tbody", "td", "tfoot"}):
        for name, attrs in elements(sanitize_html(f'<{tag} style="color:red">x</{tag}>')):
            assert name == tag and attrs == [("style", "color:red")], tag


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("color: red; ", "color:red"),
        ("COLOR:Red", "COLOR:Red"),
        ("--custom: 1px", "--custom:1px"),
        ("color:red;;width:1px", "color:red;width:1px"),
        ("1color:red", None),
        ("color red", None),
        ("color:", None),
        ("content:'a\\'b;c'", "content:'a\\'b;c'"),
        ("content:'open", None),
        ("width:calc(1px + (2px)", None),
        ("x:a);color:red", "color:red"),
        ("background:URL(x)", None),
        ("background:src('x')", None),
        ("a:javascript:x", None),
        ("a:vb\\script:x", None),
        ("a:@import 'x'", None),
        ("a:@\\69mport 'x'", None),
        ("a:expr/**/ession(1)", None),
        ("a:expression\n(1)", None),
    ],
)
def test_filter_style(value: str, expected: str | None) -> None:
    """Style is re-serialized prop:value;…; doubtful or URL-loading declarations are dropped."""
    assert filter_style(value) == expected


# -- precedence, keys, coercion ------------------------------------------------------------------


def test_markdown_beats_text_and_html() -> None:
    """markdown + text + html in one update → html from the markdown; the raw text is kept."""
    text = {"title": "TT", "content": "t"}
    update = {"markdown": {"content": "*m*"}, "text": text, "html": {"content": "<b>h</b>"}}
    assert render_update(update, JOB, BASE_URL) == []
    assert update == {"html": {"content": '<div class="markdown-body"><p><em>m</em></p>\n</div>'}, "text": text}


def test_text_beats_html() -> None:
    """text + html → html from the text."""
    update = {"text": {"content": "<t>"}, "html": {"content": "<b>h</b>", "title": "H"}}
    assert render_update(update, JOB, BASE_URL) == []
    assert update == {"html": {"content": "<pre>&lt;t&gt;</pre>"}}


@pytest.mark.parametrize("empty", ["", None, 0, False])
def test_empty_markdown_or_text_stays_raw(empty: Any) -> None:
    """markdown/text with falsy content is not converted and stays raw; the next record wins instead."""
    update: dict[str, Any] = {"markdown": {"title": "EMPTY", "content": empty}, "text": {"content": "t"}}
    assert render_update(update, JOB, BASE_URL) == []
    assert update == {"markdown": {"title": "EMPTY", "content": empty}, "html": {"content": "<pre>t</pre>"}}
    missing: dict[str, Any] = {"text": {"title": "no content"}}
    assert render_update(missing, JOB, BASE_URL) == []
    assert missing == {"text": {"title": "no content"}}


@pytest.mark.parametrize("value", ["<b>x</b>", 5, ["a"], None, True])
def test_html_not_an_object_is_dropped(value: Any) -> None:
    """An html value that is not an object is removed from the update, with a note (§3.7)."""
    update = {"html": value, "label": "l"}
    assert render_update(update, JOB, BASE_URL) == ["html output that is not an object was dropped"]
    assert update == {"label": "l"}


def test_html_with_empty_content_is_kept_unchanged() -> None:
    """An html object with empty content is stored unchanged and unsanitized."""
    update = {"html": {"title": "<b>t</b>", "content": ""}}
    assert render_update(update, JOB, BASE_URL) == []
    assert update == {"html": {"title": "<b>t</b>", "content": ""}}


@pytest.mark.parametrize("value", ["<b>md</b>", 5, ["a"], None])
def test_markdown_not_an_object_stays_raw(value: Any) -> None:
    """A markdown value that is not an object is left raw on the update; nothing is rendered."""
    update = {"markdown": value}
    assert render_update(update, JOB, BASE_URL) == []
    assert update == {"markdown": value}


def test_title_caption_and_extra_keys_kept_as_given() -> None:
    """Only content is HTML: title, caption and extra keys are copied verbatim (not escaped or sanitized)."""
    record = {"title": "<i>T</i> & co", "content": "x", "caption": "<script>c</script>", "extra": [1]}
    update = {"text": dict(record)}
    render_update(update, JOB, BASE_URL)
    assert update["html"] == {**record, "content": "<pre>x</pre>"}


@pytest.mark.parametrize(
    ("kind", "content", "expected"),
    [
        ("text", 42, "<pre>42</pre>"),
        ("text", 1.0, "<pre>1</pre>"),
        ("text", 1e21, "<pre>1e+21</pre>"),
        ("text", True, "<pre>true</pre>"),
        ("text", {"a": [1, "<b>"]}, '<pre>{"a":[1,"&lt;b&gt;"]}</pre>'),
        ("text", [], "<pre>[]</pre>"),
        ("text", [2**70], "<pre>[1180591620717411303424]</pre>"),
        ("markdown", 7, '<div class="markdown-body"><p>7</p>\n</div>'),
        ("html", {"b": "<script>x</script>"}, '{"b":""}'),
    ],
)
def test_non_string_content_is_coerced(kind: str, content: Any, expected: str) -> None:
    """Numbers print as JavaScript does, objects as compact JSON; never an exception."""
    assert render(kind, content)["html"]["content"] == expected


def test_lone_surrogates_do_not_break_rendering() -> None:
    """A lone surrogate (possible in JSON escapes) is replaced instead of failing in the sanitizer."""
    assert render("html", "a\ud800b")["html"]["content"] == "a?b"


# -- macros --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{{job.id}}", JOB_ID),
        ("{{ job.server }}", "smain"),
        ("{{job.params.x}}", "px"),
        ("{{nope}}", "n/a"),
        ("{{job.nope.deeper}}", "n/a"),
        ("{{job.data}} {{job.files}} {{job.input}}", "n/a n/a n/a"),
        ("{{1 +}}", "(ERROR: Unexpected end of expression)"),
        ("{{config.base_app_url}}", BASE_URL),
        ("{{job.params}}", '{"x":"px","nested":"jmx7r6a9wzd8qsbs"}'),
        ("{{job.params.nested}}", JOB_ID),
        ("{{ '{' + '{job.id}' + '}' }}", JOB_ID),
        ("{{ 'a}}' }}", "(ERROR: Unterminated string starting at position 0)' }}"),
        ("{{ unclosed", "{{ unclosed"),
        ("{{\n}}", "{{\n}}"),
    ],
)
def test_macro_expansion(content: str, expected: str) -> None:
    """messageSub: repeated passes over {job, config.base_app_url}; undefined → n/a, errors inline."""
    assert expand_macros(content, macro_context(JOB, BASE_URL)) == expected


def test_macro_context_hides_data_files_input() -> None:
    """The job is visible to macros without data, files and input; the job itself is not modified."""
    context = macro_context(JOB, BASE_URL)
    assert set(context["job"]) == {"id", "server", "params"}
    assert context["config"] == {"base_app_url": BASE_URL}
    assert "data" in JOB


def test_expanded_url_is_autolinked_and_expanded_html_sanitized() -> None:
    """Expansion happens before rendering (URL autolinked) and before sanitizing (values sanitized)."""
    job = {**JOB, "params": {"evil": "<img src=x onerror=alert(1)><b>ok</b>"}}
    update: dict[str, Any] = {"markdown": {"content": "{{config.base_app_url}}/job/{{job.id}} {{job.params.evil}}"}}
    render_update(update, job, BASE_URL)
    assert update["html"]["content"] == (
        f'<div class="markdown-body"><p><a href="{BASE_URL}/job/{JOB_ID}">{BASE_URL}/job/{JOB_ID}</a> <b>ok</b></p>\n</div>'
    )


def test_self_reproducing_macros_stop_after_32_passes() -> None:
    """A macro whose value is a macro again is expanded at most 32 times."""
    job = {"id": "j", "params": {"loop": "{{job.params.loop}}x"}}
    expanded = expand_macros("{{job.params.loop}}", macro_context(job, BASE_URL))
    assert expanded == "{{job.params.loop}}" + "x" * 32


def test_too_many_macros_are_left_as_is() -> None:
    """More macros than MAX_MACROS: the text is left unexpanded and a note says so."""
    notes: list[str] = []
    text = "{{job.id}}" * (MAX_MACROS + 1)
    assert expand_macros(text, macro_context(JOB, BASE_URL), notes, "markdown") == text
    assert notes == ["markdown content has too many {{ }} macros (more than 10,000): left as is"]


def test_expansion_that_grows_too_long_keeps_last_good_text() -> None:
    """A pass whose result would exceed the evaluator's string limit is discarded, with a note."""
    job = {"id": "j", "params": {"big": "y" * 200_000}}
    notes: list[str] = []
    text = "{{job.params.big}}" * 6
    assert expand_macros(text, macro_context(job, BASE_URL), notes, "text") == text
    assert len(notes) == 1 and notes[0].startswith("text content macros were not expanded further: ")


# -- markdown options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "inner"),
    [
        ("a\nb", "<p>a\nb</p>\n"),
        ("# Title", "<h1>Title</h1>\n"),
        ('"quotes" -- (c)', "<p>&quot;quotes&quot; -- (c)</p>\n"),
        ("www.example.com/x", '<p><a href="http://www.example.com/x">www.example.com/x</a></p>\n'),
        ("mail a@b.co", '<p>mail <a href="mailto:a@b.co">a@b.co</a></p>\n'),
        ("report.sh and x.www.y.com", "<p>report.sh and x.www.y.com</p>\n"),
        ("<div>\n*raw*\n</div>", "<div>\n*raw*\n</div>"),
        ("- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"),
        ("~~s~~", "<p><del>s</del></p>\n"),
    ],
)
def test_markdown_options(markdown: str, inner: str) -> None:
    """GFM-like options of §3.4: no breaks, no heading ids, no typographer, www/email autolinks, raw HTML."""
    assert render_markdown(markdown) == f'<div class="markdown-body">{inner}</div>'


def test_render_text_escapes_only_markup() -> None:
    """render_text wraps in <pre> and escapes &, <, > (quotes stay)."""
    assert render_text("<&>\"'") == "<pre>&lt;&amp;&gt;\"'</pre>"


# -- update_job, limits ---------------------------------------------------------------------------


def test_sanitize_record() -> None:
    """update_job's html: content sanitized, other keys kept; not an object → None (dropped)."""
    assert sanitize_record({"title": "<b>", "content": "<b onclick=x>b</b><script>s</script>"}) == {
        "title": "<b>",
        "content": "<b>b</b>",
    }
    assert sanitize_record({"content": ""}) == {"content": ""}
    assert sanitize_record({"content": 3}) == {"content": "3"}
    assert sanitize_record("<b>x</b>") is None
    assert sanitize_record(None) is None


def test_oversized_content_is_cut_with_a_note() -> None:
    """Content past its kind's limit is cut before rendering, and the cut is noted."""
    update: dict[str, Any] = {"html": {"content": "a" * (MAX_HTML_CHARS + 10)}}
    assert render_update(update, JOB, BASE_URL) == [f"html content longer than {MAX_HTML_CHARS:,} characters was cut"]
    assert update["html"]["content"] == "a" * MAX_HTML_CHARS
    update = {"markdown": {"content": "m" * (MAX_MARKDOWN_CHARS + 1)}}
    assert render_update(update, JOB, BASE_URL) == [
        f"markdown content longer than {MAX_MARKDOWN_CHARS:,} characters was cut"
    ]
    assert update["html"]["content"] == f'<div class="markdown-body"><p>{"m" * MAX_MARKDOWN_CHARS}</p>\n</div>'
    update = {"text": {"content": "b" * (MAX_TEXT_CHARS + 1)}}
    assert render_update(update, JOB, BASE_URL) == [f"text content longer than {MAX_TEXT_CHARS:,} characters was cut"]
    assert update["html"]["content"] == "<pre>" + "b" * MAX_TEXT_CHARS + "</pre>"


def test_content_grown_by_macros_is_cut_again() -> None:
    """The limit applies after expansion too: a macro's long value cannot grow markdown past it."""
    job = {"id": "j", "params": {"big": "z" * MAX_MARKDOWN_CHARS}}
    update: dict[str, Any] = {"markdown": {"content": "a{{job.params.big}}"}}
    assert render_update(update, job, BASE_URL) == [
        f"markdown content longer than {MAX_MARKDOWN_CHARS:,} characters was cut"
    ]
    assert update["html"]["content"] == f'<div class="markdown-body"><p>a{"z" * (MAX_MARKDOWN_CHARS - 1)}</p>\n</div>'


def test_deep_nesting_is_bounded() -> None:
    """Deeply nested block tags (quadratic in html5ever) stay within the size cap and still sanitize."""
    update: dict[str, Any] = {"html": {"content": "<div>" * 100_000}}
    notes = render_update(update, JOB, BASE_URL)
    assert notes and update["html"]["content"].startswith("<div><div>")


# -- properties -----------------------------------------------------------------------------------

FRAGMENTS = [
    "<script>",
    "</script>",
    "<scr",
    "ipt>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    '<a href="',
    "javascript:",
    "java",
    "script:",
    "&#106;",
    "&#x09;",
    "&colon;",
    "\t",
    " ",
    "\n",
    '"',
    "'",
    ">",
    "<",
    "/",
    "[a](",
    ")",
    "](",
    "![i](",
    "{{",
    "}}",
    "job.id",
    "nope",
    "1 +",
    "<style>",
    "x{}",
    "<!--",
    "-->",
    "`",
    "```",
    "*",
    "_",
    "~~",
    "|",
    "---",
    "# ",
    "> ",
    "- ",
    '<b style="',
    "background:url(",
    "expression(",
    "on",
    "click=",
    "=",
    "<div",
    "<a",
    "</a>",
    "<iframe",
    "data:",
    "vbscript:",
    "&",
    ";",
    "&amp;",
    "\\",
    "www.x.com",
    "https://h",
    "<noscript>",
    "<textarea>",
    "<xmp>",
    "<math>",
    "<p",
    "\x00",
    "\ud800",
]
CONTENT = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join) | st.text(max_size=40)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | CONTENT
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
RECORD = st.fixed_dictionaries({"content": JSON | CONTENT}, optional={"title": JSON, "caption": JSON}) | JSON
UPDATE = st.dictionaries(st.sampled_from(["markdown", "text", "html", "label", "progress"]), RECORD, max_size=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(UPDATE)
def test_render_update_never_raises_and_output_is_safe(update: dict[str, Any]) -> None:
    """Any JSON update renders without an exception; a string html.content is always safe."""
    before = dict(update)
    notes = render_update(update, JOB, BASE_URL)
    assert all(isinstance(note, str) for note in notes)
    assert set(update) <= set(before) | {"html"}
    html = update.get("html")
    if isinstance(html, dict) and isinstance(html.get("content"), str) and html is not before.get("html"):
        assert_safe(html["content"])
    if "html" in before and not isinstance(before["html"], dict):
        assert not ("html" in update and update["html"] is before["html"])


@settings(max_examples=300, deadline=None)
@given(CONTENT)
def test_sanitize_is_safe_and_idempotent(content: str) -> None:
    """Sanitized output passes the safety check and is a fixed point of the sanitizer."""
    clean = sanitize_html(content)
    assert_safe(clean)
    assert sanitize_html(clean) == clean


def test_macro_context_hides_how_the_job_runs() -> None:
    """Untrusted text echoed into a report cannot read the job's environment, secrets, paths or
    script through macros (CRONWRIGHT DECISION); other params stay visible."""
    job = {
        "id": "j1",
        "params": {"script": "TOKEN=abc", "name": "x"},
        "env": {"TOKEN": "abc"},
        "secrets": {"s": "abc"},
        "cwd": "/data/work/jobs/j1",
        "pid": 42,
        "command": "sh",
        "key": "k1",
    }
    content = "{{job.env.TOKEN}} {{job.secrets.s}} {{job.cwd}} {{job.pid}} {{job.params.script}} {{job.key}} {{job.params.name}}"
    assert expand_macros(content, macro_context(job, BASE_URL)) == "n/a n/a n/a n/a n/a n/a x"
    assert "abc" not in expand_macros("{{job}}", macro_context(job, BASE_URL))
