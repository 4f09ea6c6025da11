"""The SMTP side of sending: one reusable connection, and one message with retries.

``SmtpTransport`` opens the configured connection (STARTTLS, SSL or none; login
with the password from the environment) and reuses it; ``deliver_one`` sends one
message and classifies the answer: sent, failed (5xx: permanent) or deferred
(4xx and dropped connections that outlast ``smtp.max_attempts`` retries with
exponential backoff). It knows nothing of subscribers or the send log.
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import ssl
from collections.abc import Callable

from newsletter.addresses import is_plain
from newsletter.config import SmtpSettings
from newsletter.errors import MailServerRefused

MAX_BACKOFF_SECONDS = 300.0


class SmtpTransport:
    """One reusable SMTP connection with the configured security and login."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.connection: smtplib.SMTP | None = None

    def open(self) -> smtplib.SMTP:
        if self.connection is not None:
            return self.connection
        s = self.settings
        conn: smtplib.SMTP
        if s.security == "ssl":
            conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=_tls())
        else:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        try:
            conn.ehlo()
            if s.security == "starttls":
                conn.starttls(context=_tls())
                conn.ehlo()
            if s.username:
                password = os.environ.get(s.password_env)
                if not password:
                    raise MailServerRefused(
                        "login",
                        f"smtp.username is set but environment variable {s.password_env} "
                        "(smtp.password_env) holds no password",
                        "set it, or remove smtp.username",
                    )
                conn.login(s.username, password)
        except BaseException:
            self._drop(conn)
            raise
        self.connection = conn
        return conn

    def send(
        self,
        envelope_from: str,
        recipient: str,
        data: bytes,
        meanwhile: Callable[[], None] | None = None,
        started: Callable[[], None] | None = None,
    ) -> None:
        """Send one message as ``smtplib.SMTP.sendmail`` does (the same commands,
        replies and exceptions), with two places for the caller's own work while
        the server is busy, so that over one connection it costs no time:

        - ``started``, once MAIL FROM is on the wire (before its reply);
        - ``meanwhile``, once the message data is on the wire (before the reply).

        Each runs at most once and must not raise; either may not run at all when
        the send fails before that point (callers make their work idempotent and
        finish it afterwards)."""
        conn = self.open()
        if meanwhile is None and started is None:
            conn.sendmail(envelope_from, [recipient], data)
            return
        conn.ehlo_or_helo_if_needed()
        options = [f"size={len(data)}"] if conn.does_esmtp and conn.has_extn("size") else []
        if is_plain(envelope_from):  # what smtplib.quoteaddr would give, without parsing
            conn.putcmd("mail", f"FROM:<{envelope_from}>" + "".join(" " + o for o in options))
            if started:
                started()
            code, reply = conn.getreply()
        else:
            if started:
                started()
            code, reply = conn.mail(envelope_from, options)
        if code != 250:
            self._after_refusal(conn, code)
            raise smtplib.SMTPSenderRefused(code, reply, envelope_from)
        if is_plain(recipient):
            code, reply = conn.docmd("rcpt", f"TO:<{recipient}>")
        else:
            code, reply = conn.rcpt(recipient)
        if code not in (250, 251):
            self._after_refusal(conn, code)
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        conn.putcmd("data")
        payload = _dot_stuffed(data)  # while the server answers DATA
        payload += b".\r\n" if payload.endswith(b"\r\n") else b"\r\n.\r\n"
        code, reply = conn.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        conn.send(payload)
        if meanwhile:
            meanwhile()
        code, reply = conn.getreply()
        if code != 250:
            self._after_refusal(conn, code)
            raise smtplib.SMTPDataError(code, reply)

    @staticmethod
    def _after_refusal(conn: smtplib.SMTP, code: int) -> None:
        """What sendmail does after a refusal: close on 421, else reset the transaction."""
        if code == 421:
            conn.close()
        else:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                conn.rset()

    def reset(self) -> None:
        """Forget a connection that failed; the next send reconnects."""
        if self.connection is not None:
            self._drop(self.connection)
            self.connection = None

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (smtplib.SMTPException, OSError):
                self._drop(self.connection)
            self.connection = None

    @staticmethod
    def _drop(conn: smtplib.SMTP) -> None:
        with contextlib.suppress(OSError):
            conn.close()


def deliver_one(
    transport: SmtpTransport,
    envelope_from: str,
    recipient: str,
    data: bytes,
    settings: SmtpSettings,
    sleep: Callable[[float], None],
    meanwhile: Callable[[], None] | None = None,
    started: Callable[[], None] | None = None,
    may_retry: Callable[[], bool] | None = None,
) -> tuple[str, str, int]:
    """Send one message with retries: ("sent" | "failed" | "deferred" | "withdrawn",
    reply, attempts).

    ``meanwhile`` and ``started`` go to ``SmtpTransport.send``: work to do while the
    server is busy (they may run on any attempt, and must run at most once).
    ``may_retry`` is asked after each wait, before the next attempt: False ends
    the tries ("withdrawn": the message is no longer the caller's to send)."""
    problem = ""
    for attempt in range(1, settings.max_attempts + 1):
        if attempt > 1 and may_retry is not None and not may_retry():
            return "withdrawn", problem, attempt - 1
        try:
            transport.send(envelope_from, recipient, data, meanwhile, started)
            return "sent", "250 accepted", attempt
        except smtplib.SMTPAuthenticationError as exc:
            raise MailServerRefused(
                "login",
                f"the SMTP server refused the login for {settings.username!r}: "
                f"{exc.smtp_code} {_text(exc.smtp_error)}",
                "nothing further was sent",
            ) from None
        except smtplib.SMTPSenderRefused as exc:
            if exc.smtp_code >= 500:
                raise MailServerRefused(
                    "sender",
                    f"the SMTP server refused the sender {exc.sender!r}: {exc.smtp_code} "
                    f"{_text(exc.smtp_error)}",
                    "check newsletter.from",
                ) from None
            problem = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            problem = f"{code} {_text(text)}"
            if code >= 500:
                return "failed", problem, attempt
        except smtplib.SMTPResponseException as exc:  # SMTPDataError and friends
            problem = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            if exc.smtp_code >= 500:
                return "failed", problem, attempt
            if exc.smtp_code == 421:  # the server is closing the connection
                transport.reset()
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
            problem = f"connection problem: {exc}"
            transport.reset()
        if attempt < settings.max_attempts:
            if started:  # the caller's work is done before any wait, never delayed by it
                started()
            sleep(min(settings.backoff_seconds * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS))
    return "deferred", problem, settings.max_attempts


def _tls() -> ssl.SSLContext:
    """The context a TLS connection checks the server with: made only for one, as
    loading the system's certificates takes longer (some 30 ms) than a plain
    connection's whole start."""
    return ssl.create_default_context()


def _dot_stuffed(data: bytes) -> bytes:
    """RFC 5321 4.5.2: a dot that starts a line is doubled. The same bytes as
    smtplib's ``re.sub(rb"(?m)^\\.", b"..", data)`` (a line starts after a line
    feed), by ``bytes.replace``, some thirty times faster on a digest."""
    stuffed = data.replace(b"\n.", b"\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
