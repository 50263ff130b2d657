"""Sending e-mail (limits-actions.md §4.1) to real SMTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ssl
import time

import pytest

from cronwright.notify import STOCK_EMAILS, Outcome, RenderedEmail, SmtpSettings, render_email, send_email
from tests.notify.samples import hook_data
from tests.support.sinks import REFUSED_DOMAIN, SilentServer, SmtpSink, closed_port


def settings(port: int, **changes: object) -> SmtpSettings:
    values: dict[str, object] = {"host": "127.0.0.1", "port": port, "sender": "cron@cw.test", "timeout_s": 5.0}
    values.update(changes)
    return SmtpSettings(**values)  # type: ignore[arg-type]


def send(config: SmtpSettings, recipients: list[str], message: RenderedEmail) -> tuple[Outcome, float]:
    started = time.monotonic()
    outcome = asyncio.run(send_email(config, recipients, message))
    return outcome, time.monotonic() - started


def test_stock_email_is_delivered_once_to_all_recipients(smtp_sink: SmtpSink) -> None:
    """One message reaches the server addressed to every recipient, with subject, text and HTML parts."""
    message = render_email(STOCK_EMAILS["job_success"], hook_data())
    outcome, _ = send(settings(smtp_sink.port), ["ops@x.test", "dev@x.test"], message)
    assert (outcome.code, outcome.description) == (0, "Email sent successfully to: ops@x.test, dev@x.test")
    assert outcome.elapsed_ms > 0
    [delivery] = smtp_sink.deliveries
    assert delivery.mail_from == "cron@cw.test"
    assert delivery.rcpt_tos == ["ops@x.test", "dev@x.test"]
    assert delivery.message["Subject"] == "Cronwright Job Completed Successfully: Nightly Backup"
    assert delivery.message["To"] == "ops@x.test, dev@x.test"
    assert delivery.message["From"] == "cron@cw.test"
    text = delivery.part("plain")
    assert "- **Event:** Nightly Backup" in text and "`jtest1`" in text
    assert "<strong>Event:</strong> Nightly Backup" in delivery.part("html")


def test_custom_body_subject_directive_is_delivered(smtp_sink: SmtpSink) -> None:
    """Case 214: the delivered subject is "S <event title>" and the comment is not in the text."""
    message = render_email("<!-- Subject: S {{event.title}} -->\nHello from {{job.id}}", hook_data())
    outcome, _ = send(settings(smtp_sink.port), ["ops@x.test"], message)
    assert outcome.code == 0
    [delivery] = smtp_sink.deliveries
    assert delivery.message["Subject"] == "S Nightly Backup"
    text = delivery.part("plain")
    assert "Hello from jtest1" in text and "<!--" not in text and "Subject" not in text


def test_cc_and_bcc_directives_join_the_envelope(smtp_sink: SmtpSink) -> None:
    """Cc is a visible header; Bcc only an envelope recipient; all get the one message."""
    message = render_email(
        "<!-- Subject: X -->\n<!-- Cc: cc@x.test -->\n<!-- Bcc: hidden@x.test -->\nBody", hook_data()
    )
    outcome, _ = send(settings(smtp_sink.port), ["ops@x.test"], message)
    assert outcome.description == "Email sent successfully to: ops@x.test, cc@x.test, hidden@x.test"
    [delivery] = smtp_sink.deliveries
    assert delivery.rcpt_tos == ["ops@x.test", "cc@x.test", "hidden@x.test"]
    assert delivery.message["Cc"] == "cc@x.test"
    assert delivery.message["Bcc"] is None
    assert "hidden@x.test" not in str(delivery.message)


def test_no_recipients_is_skipped_without_connecting() -> None:
    """No recipients at all → code 0 "No recipients for email (skipping)"."""
    outcome, _ = send(settings(closed_port()), [], render_email("hi", hook_data()))
    assert (outcome.code, outcome.description) == (0, "No recipients for email (skipping)")


def test_not_configured_is_an_email_error() -> None:
    """An empty SMTP host fails with code "email"."""
    outcome, _ = send(SmtpSettings(), ["ops@x.test"], render_email("hi", hook_data()))
    assert (outcome.code, outcome.description) == ("email", "E-mail is not configured (no SMTP host)")


def test_server_down_fails_fast() -> None:
    """A closed port fails with "Connection refused" well within the timeout."""
    outcome, took = send(settings(closed_port(), timeout_s=5.0), ["ops@x.test"], render_email("hi", hook_data()))
    assert outcome.code == "email"
    assert outcome.description.startswith("Failed to send e-mail: Connection refused")
    assert took < 2.0


def test_silent_server_times_out(silent_server: SilentServer) -> None:
    """A server that accepts but never greets fails with a timeout within ``timeout_s``."""
    outcome, took = send(settings(silent_server.port, timeout_s=1.0), ["ops@x.test"], render_email("hi", hook_data()))
    assert outcome.code == "email"
    assert outcome.description.startswith("Failed to send e-mail: Timed out after 1 s")
    assert 0.9 <= took < 2.5
    assert silent_server.accepted == 1


def test_starttls_not_offered_is_an_error(smtp_sink: SmtpSink) -> None:
    """``starttls`` security against a server without STARTTLS fails and sends nothing."""
    outcome, _ = send(settings(smtp_sink.port, security="starttls"), ["ops@x.test"], render_email("hi", hook_data()))
    assert outcome.code == "email"
    assert "STARTTLS extension not supported" in outcome.description
    assert smtp_sink.deliveries == []


def test_ssl_against_plain_server_is_a_tls_error(smtp_sink: SmtpSink) -> None:
    """Implicit TLS against a plain SMTP server fails with a TLS error."""
    outcome, _ = send(
        settings(smtp_sink.port, security="ssl", timeout_s=2.0), ["ops@x.test"], render_email("hi", hook_data())
    )
    assert outcome.code == "email"
    assert "TLS error" in outcome.description


def test_untrusted_certificate_is_refused(server_tls: ssl.SSLContext) -> None:
    """Implicit TLS to a server with a self-signed certificate fails certificate verification."""
    with SmtpSink(ssl_context=server_tls) as sink:
        outcome, _ = send(settings(sink.port, security="ssl"), ["ops@x.test"], render_email("hi", hook_data()))
        assert sink.deliveries == []
    assert outcome.code == "email"
    assert "CERTIFICATE_VERIFY_FAILED" in outcome.description or "certificate" in outcome.description.lower()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_login_when_username_is_set() -> None:
    """With a username the client logs in; wrong credentials fail with "Authentication failed"."""
    with SmtpSink(auth=True) as sink:
        good, _ = send(
            settings(sink.port, username="robot", password="s3cret"), ["ops@x.test"], render_email("hi", hook_data())
        )
        bad, _ = send(
            settings(sink.port, username="robot", password="nope"), ["ops@x.test"], render_email("hi", hook_data())
        )
        anonymous, _ = send(settings(sink.port), ["ops@x.test"], render_email("hi", hook_data()))
        assert len(sink.deliveries) == 1
    assert good.code == 0
    assert bad.code == "email" and "Authentication failed: 535" in bad.description
    assert anonymous.code == "email" and "530" in anonymous.description


def test_refused_recipients(smtp_sink: SmtpSink) -> None:
    """Refused recipients are reported; the message still goes to the accepted ones."""
    message = render_email("hi", hook_data())
    partial, _ = send(settings(smtp_sink.port), ["ops@x.test", f"nobody{REFUSED_DOMAIN}"], message)
    assert partial.code == 0 and partial.description == "Email sent successfully to: ops@x.test"
    assert f"nobody{REFUSED_DOMAIN} (550" in partial.details
    refused, _ = send(settings(smtp_sink.port), [f"nobody{REFUSED_DOMAIN}"], message)
    assert refused.code == "email" and "All recipients were refused" in refused.description
    assert len(smtp_sink.deliveries) == 1


def test_invalid_addresses_are_skipped(smtp_sink: SmtpSink) -> None:
    """Malformed addresses are left out (and listed in the details); none valid → error."""
    message = render_email("hi", hook_data())
    outcome, _ = send(settings(smtp_sink.port), ["ops@x.test", "not an address"], message)
    assert outcome.code == 0 and "Invalid addresses skipped: not an address" in outcome.details
    only_bad, _ = send(settings(smtp_sink.port), ["nope"], message)
    assert only_bad.code == "email" and "no valid recipient" in only_bad.description


def test_header_injection_is_neutralised(smtp_sink: SmtpSink) -> None:
    """A subject with line breaks is folded into one line instead of adding headers."""
    message = RenderedEmail(subject="Hi\r\nBcc: evil@x.test", text="t\n", html="<p>t</p>")
    outcome, _ = send(settings(smtp_sink.port), ["ops@x.test"], message)
    assert outcome.code == 0
    [delivery] = smtp_sink.deliveries
    assert delivery.rcpt_tos == ["ops@x.test"]
    assert delivery.message["Subject"] == "Hi Bcc: evil@x.test"
