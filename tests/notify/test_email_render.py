"""E-mail templates (limits-actions.md §4.1): directives, macros, stock templates and the HTML part."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from cronwright.notify import STOCK_EMAILS, markdown_to_html, render_email, stock_email_key
from cronwright.notify.email_render import parse_addresses
from tests.notify.samples import hook_data


def test_custom_subject_directive_is_rendered_and_removed() -> None:
    """Case 214: ``<!-- Subject: S {{event.title}} -->`` gives subject "S <title>" and leaves the body."""
    rendered = render_email("<!-- Subject: S {{event.title}} -->\nJob {{job.id}} finished.\n", hook_data())
    assert rendered.subject == "S Nightly Backup"
    assert rendered.text == "Job jtest1 finished.\n"
    assert "<!--" not in rendered.text and "<!--" not in rendered.html
    assert rendered.to == rendered.cc == rendered.bcc == []


def test_address_and_sender_directives() -> None:
    """To/Cc/Bcc/From directives become address lists (names dropped, duplicates removed)."""
    template = (
        "  <!-- Subject: Hi -->\n<!-- To: a@x.test, Bob <b@x.test> -->\n<!-- cc: c@x.test; c@x.test -->\n"
        "<!-- Bcc: {{job.params.audit}} -->\n<!-- From: Robot <robot@x.test> -->\n<!-- just a comment -->\n\nBody"
    )
    data = hook_data()
    data["job"]["params"]["audit"] = "audit@x.test"
    rendered = render_email(template, data)
    assert (rendered.to, rendered.cc, rendered.bcc) == (["a@x.test", "b@x.test"], ["c@x.test"], ["audit@x.test"])
    assert rendered.sender == "robot@x.test"
    assert rendered.text == "Body\n"


def test_address_lists_respect_quotes_and_angles() -> None:
    """Commas inside quoted names do not split entries; malformed entries are kept for the sender to judge."""
    assert parse_addresses('"Doe, John" <j@x.test>; k@x.test ,, not an address') == [
        "j@x.test",
        "k@x.test",
        "not an address",
    ]


def test_only_leading_comments_are_directives() -> None:
    """A comment after the first line of text stays in the body and sets nothing."""
    rendered = render_email("<!-- Subject: A -->\nText\n<!-- Subject: B -->\n", hook_data())
    assert rendered.subject == "A"
    assert "<!-- Subject: B -->" in rendered.text


def test_missing_values_render_na_and_bad_macros_render_errors() -> None:
    """Undefined and empty values render "n/a"; a macro that fails renders ``(ERROR: …)``."""
    rendered = render_email(
        "<!-- Subject: {{nope}} -->\nA={{job.nope.deeper}} B={{job.description}} C={{ 1 + }} D={{ foo() }} E={{job.code}}",
        hook_data(),
    )
    assert rendered.subject == "n/a"
    assert rendered.text == (
        "A=n/a B=n/a C=(ERROR: Unexpected end of expression) D=(ERROR: Unknown function: foo) E=0\n"
    )


def test_subject_falls_back_to_the_first_line() -> None:
    """Without a Subject directive the first text line (markdown markers removed, ≤ 120 chars) is used."""
    assert render_email("\n\n# Report for {{event.title}}\nmore", hook_data()).subject == "Report for Nightly Backup"
    long_subject = render_email("x" * 300, hook_data()).subject
    assert len(long_subject) == 120 and long_subject.endswith("…")
    assert render_email("", hook_data()).subject == "Cronwright Notification"


def test_stock_success_template_names_event_job_and_elapsed() -> None:
    """The stock success e-mail names the event (subject and body), the job id, link and elapsed time."""
    rendered = render_email(STOCK_EMAILS["job_success"], hook_data())
    assert rendered.subject == "Cronwright Job Completed Successfully: Nightly Backup"
    for expected in ("Nightly Backup", "jtest1", "http://cw.test/#Job?id=jtest1", "3 seconds"):
        assert expected in rendered.text
    assert "n/a" in rendered.text  # the empty perf display value


def test_stock_failure_template_names_code_and_description() -> None:
    """The stock failure e-mail shows the error code and description."""
    rendered = render_email(STOCK_EMAILS["job_fail"], hook_data(code="critical", condition="error"))
    assert rendered.subject == "Cronwright Job Failed: Nightly Backup"
    assert "**Error Code:** critical" in rendered.text
    assert "**Description:** Everything broke" in rendered.text
    assert "jtest1" in rendered.text and "3 seconds" in rendered.text


def test_every_stock_template_has_a_subject_with_the_event_title() -> None:
    """All five stock templates render a subject naming the event and a body naming the job."""
    data = hook_data()
    data["action"]["msg"] = "Limit hit"
    assert set(STOCK_EMAILS) == {"job_start", "job_success", "job_fail", "job_progress", "job_limited"}
    for template in STOCK_EMAILS.values():
        rendered = render_email(template, data)
        assert rendered.subject.endswith(": Nightly Backup")
        assert "jtest1" in rendered.text and "(ERROR" not in rendered.text
    assert "Limit hit" in render_email(STOCK_EMAILS["job_limited"], data).text


def test_stock_template_choice() -> None:
    """start → job_start, unfinished → job_progress, code 0 → job_success, else job_fail."""
    assert stock_email_key(hook_data(complete=False), "start") == "job_start"
    assert stock_email_key(hook_data(complete=False), "tag:x") == "job_progress"
    assert stock_email_key(hook_data(code=0), "complete") == "job_success"
    assert stock_email_key(hook_data(code="warning"), "error") == "job_fail"


def test_html_part_escapes_values_and_renders_markdown() -> None:
    """Values are HTML-escaped in the HTML part while markdown (bold, code, links) becomes tags."""
    data = hook_data()
    data["event"]["title"] = "<script>alert(1)</script>"
    rendered = render_email(
        "<!-- Title: Done -->\n**Event:** {{event.title}} `{{job.id}}` [Open]({{links.job_details}})", data
    )
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert "<strong>Event:</strong>" in rendered.html and "<code>jtest1</code>" in rendered.html
    assert '<a href="http://cw.test/#Job?id=jtest1">Open</a>' in rendered.html
    assert "<h2>Done</h2>" in rendered.html


def test_markdown_blocks() -> None:
    """Headings, lists, code fences, rules and line breaks convert to simple HTML."""
    html = markdown_to_html("# T\n\n- a\n- *b*\n\n1. one\n\n```\n<x> **y**\n```\n---\nl1\nl2 http://x.test/p.")
    assert html == (
        "<h1>T</h1>\n<ul><li>a</li><li><em>b</em></li></ul>\n<ol><li>one</li></ol>\n"
        "<pre><code>&lt;x&gt; **y**</code></pre>\n<hr>\n"
        '<p>l1<br>l2 <a href="http://x.test/p">http://x.test/p</a>.</p>'
    )


def test_unsafe_link_targets_stay_text() -> None:
    """Only http(s) and mailto links become anchors; ``javascript:`` stays literal text."""
    assert markdown_to_html("[x](javascript:alert(1))") == "<p>[x](javascript:alert(1))</p>"


_OUR_TAGS = re.compile(r"</?(p|br|h[1-6]|ul|ol|li|pre|code|hr|strong|em)>|<a href=\"[^\"<>]*\">|</a>")


@given(st.text(alphabet=st.sampled_from(list("<>&\"'*_`[]()#-:/ \nabc1.")), max_size=200))
def test_markdown_never_passes_raw_markup(text: str) -> None:
    """Whatever the input, every ``<`` in the output starts one of the converter's own tags."""
    assert "<" not in _OUR_TAGS.sub("", markdown_to_html(text))
