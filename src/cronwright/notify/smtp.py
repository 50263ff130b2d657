"""Deliver one rendered e-mail over SMTP (limits-actions.md §4.1, ``email`` actions).

``smtplib`` runs in a worker thread. The whole delivery has one deadline (``timeout_s``): every
socket operation times out after it, and when the deadline passes first the socket is shut down
from the event loop so the thread ends promptly and the caller gets its answer on time. No DNS
look-ups happen besides resolving the configured host (EHLO uses the plain host name, the
Message-ID the sender's domain).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Final

from .email_render import RenderedEmail, parse_addresses
from .outcome import Outcome

SECURITY_MODES: Final = ("none", "starttls", "ssl")
_ADDRESS: Final = re.compile(r"^[^\s<>(),;:\"@]+@[^\s<>(),;:\"@]+$")
_ERRNO: Final = re.compile(r"^\[Errno -?\d+\]\s*")
_GRACE_S: Final = 2.0


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send mail; an empty ``host`` means e-mail is not configured."""

    host: str = ""
    port: int = 25
    #: "none" (plain SMTP), "starttls" (upgrade, required) or "ssl" (implicit TLS)
    security: str = "none"
    #: log in when set
    username: str = ""
    password: str = ""
    #: the From address (xyOps ``email_from``)
    sender: str = "cronwright@localhost"
    timeout_s: float = 10.0


def build_message(settings: SmtpSettings, recipients: list[str], message: RenderedEmail) -> EmailMessage:
    """The MIME message: text and HTML alternatives; To = the ``To`` directive or ``recipients``
    (Bcc addresses never appear in the headers)."""
    sender = message.sender or settings.sender
    msg = EmailMessage()
    msg["Subject"] = _one_line(message.subject)
    msg["From"] = _one_line(sender)
    msg["To"] = ", ".join(message.to or recipients) or "undisclosed-recipients:;"
    if message.cc:
        msg["Cc"] = ", ".join(message.cc)
    msg["Date"] = formatdate(localtime=True)
    domain = sender.rpartition("@")[2].strip(" >") or "localhost"
    msg["Message-ID"] = make_msgid(domain=domain)
    msg.set_content(message.text)
    msg.add_alternative(message.html, subtype="html")
    return msg


async def send_email(settings: SmtpSettings, recipients: list[str], message: RenderedEmail) -> Outcome:
    """Send ``message`` once to ``recipients`` plus the To/Cc/Bcc directives; never raises."""
    started = time.monotonic()
    primary = _flatten(recipients)
    wanted = list(dict.fromkeys([*primary, *message.to, *message.cc, *message.bcc]))
    valid = [address for address in wanted if _ADDRESS.match(address)]
    invalid = [address for address in wanted if address not in valid]
    skipped = f"Invalid addresses skipped: {', '.join(invalid)}\n" if invalid else ""

    def outcome(code: int | str, description: str, details: str = "") -> Outcome:
        return Outcome(code, description, details, round((time.monotonic() - started) * 1000, 3))

    if not wanted:
        return outcome(0, "No recipients for email (skipping)")
    if not settings.host:
        return outcome("email", "E-mail is not configured (no SMTP host)")
    if not valid:
        return outcome("email", f"Failed to send e-mail: no valid recipient address ({', '.join(invalid)})")
    if settings.security not in SECURITY_MODES:
        return outcome("email", f"Failed to send e-mail: unknown SMTP security mode: {settings.security}")
    try:
        msg = build_message(settings, [address for address in primary if address in valid], message)
    except (ValueError, TypeError) as exc:
        return outcome("email", f"Failed to send e-mail: invalid message: {exc}")
    sender = parse_addresses(message.sender or settings.sender)
    delivery = _Delivery(settings, sender[0] if sender else settings.sender, valid, msg)
    task = asyncio.ensure_future(asyncio.to_thread(delivery.run))
    try:
        done, _ = await asyncio.wait({task}, timeout=max(0.05, settings.timeout_s))
    except asyncio.CancelledError:  # the caller gave up: end the conversation too
        delivery.abort()
        raise
    if not done:
        delivery.abort()
        await asyncio.wait({task}, timeout=_GRACE_S)
        return outcome("email", f"Failed to send e-mail: Timed out after {settings.timeout_s:g} s", skipped)
    error = task.result()
    if error is not None:
        return outcome("email", f"Failed to send e-mail: {describe_error(error, settings)}", skipped)
    accepted = [address for address in valid if address not in delivery.refused]
    refused = "".join(f"Refused by the server: {a} ({c} {_text(m)})\n" for a, (c, m) in delivery.refused.items())
    return outcome(0, f"Email sent successfully to: {', '.join(accepted)}", skipped + refused)


class _Delivery:
    """One SMTP conversation, run in a worker thread; :meth:`abort` may be called from any thread."""

    def __init__(self, settings: SmtpSettings, sender: str, recipients: list[str], msg: EmailMessage) -> None:
        self.settings = settings
        self.sender = sender
        self.recipients = recipients
        self.msg = msg
        self.refused: dict[str, tuple[int, bytes]] = {}
        self._client: smtplib.SMTP | None = None
        self._aborted = False

    def run(self) -> BaseException | None:
        """Deliver; the exception that stopped it, or None on success."""
        s = self.settings
        context = ssl.create_default_context()
        local_name = socket.gethostname() or "localhost"
        client: smtplib.SMTP
        if s.security == "ssl":
            client = smtplib.SMTP_SSL(local_hostname=local_name, timeout=s.timeout_s, context=context)
        else:
            client = smtplib.SMTP(local_hostname=local_name, timeout=s.timeout_s)
        # smtplib takes the TLS server name (SNI, certificate check) from ``_host``, which only its
        # constructor sets; connecting separately keeps the socket reachable for ``abort``
        client._host = s.host  # type: ignore[attr-defined]  # private in typeshed, relied on by smtplib
        self._client = client
        try:
            if self._aborted:
                raise TimeoutError("aborted")
            client.connect(s.host, s.port)
            client.ehlo_or_helo_if_needed()
            if s.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if s.username:
                client.login(s.username, s.password)
            self.refused = client.send_message(self.msg, from_addr=self.sender, to_addrs=self.recipients)
            with contextlib.suppress(smtplib.SMTPException, OSError):
                client.quit()
            return None
        except BaseException as exc:  # reported to the caller as the reason
            return exc
        finally:
            client.close()

    def abort(self) -> None:
        """Unblock the thread: shut the socket down so its pending read or write fails at once."""
        self._aborted = True
        sock = getattr(self._client, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def describe_error(exc: BaseException, settings: SmtpSettings) -> str:
    """A readable reason for a failed delivery."""
    where = f"{settings.host}:{settings.port}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = ", ".join(f"{a} ({c} {_text(m)})" for a, (c, m) in exc.recipients.items())
        return f"All recipients were refused: {refused}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"Authentication failed: {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return f"Sender refused: {exc.sender} ({exc.smtp_code} {_text(exc.smtp_error)})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"Server answered {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"{exc} ({where})"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"Server disconnected ({where}): {exc}" if str(exc) else f"Server disconnected ({where})"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return f"TLS error ({where}): {getattr(exc, 'reason', None) or exc}"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"Timed out after {settings.timeout_s:g} s ({where})"
    if isinstance(exc, ConnectionRefusedError):
        return f"Connection refused ({where})"
    if isinstance(exc, socket.gaierror):
        return f"Host not found: {settings.host}"
    if isinstance(exc, OSError):
        return f"{_ERRNO.sub('', str(exc)) or type(exc).__name__} ({where})"
    return f"{type(exc).__name__}: {exc}"


def _text(value: bytes | str) -> str:
    raw = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(raw.split())


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


def _flatten(recipients: list[str]) -> list[str]:
    out: list[str] = []
    for entry in recipients:
        out.extend(parse_addresses(str(entry)))
    return out
