"""Turn a rendered issue into a MIME message for one recipient.

Filling the per-recipient placeholders is cheap string replacement, escaped for
each context (HTML for the HTML part, nothing for the text part; headers are
built by the ``email`` package, which refuses CR/LF in values). No rendering or
CSS inlining happens here. The message is ``multipart/alternative`` with the
text part first and the HTML part last, both UTF-8.
"""

from __future__ import annotations

import binascii
import hashlib
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol
from urllib.parse import quote

from markupsafe import escape

from feeds.config import SiteSettings
from newsletter.addresses import is_plain
from newsletter.config import NewsletterSettings
from newsletter.issue.render import PREFERENCES_URL, RECIPIENT, UNSUBSCRIBE_URL
from newsletter.mail.dkim import Signer
from newsletter.mail.headers import BODY_POLICY, POLICY, list_headers, sender, site_domain
from newsletter.mail.returnpath import message_id


class MessageParts(Protocol):
    """What a message is made of: a rendered issue, or one read back from the archive."""

    @property
    def issue_id(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def html(self) -> str: ...
    @property
    def text(self) -> str: ...


def fill(
    issue: MessageParts, recipient: str, unsubscribe_url: str, preferences_url: str
) -> tuple[str, str]:
    """The HTML and text parts with one recipient's values, escaped for each part."""
    values = (recipient, unsubscribe_url, preferences_url)
    return substitute(issue.html, values, html=True), substitute(issue.text, values, html=False)


def substitute(text: str, values: tuple[str, str, str], *, html: bool) -> str:
    """``text`` with the per-recipient placeholders replaced by ``values`` (address,
    unsubscribe link, preferences link), HTML-escaped for an HTML part."""
    for mark, value in zip(_PLACEHOLDERS, values, strict=True):
        text = text.replace(mark, str(escape(value)) if html else value)
    return text


def list_unsubscribe(unsubscribe_url: str, mailto: str | None, recipient: str) -> str:
    """The List-Unsubscribe value: the one-click https link, then a mailto if configured."""
    value = f"<{unsubscribe_url}>"
    if mailto:
        value += f", <mailto:{mailto}?subject={quote(f'unsubscribe {recipient}')}>"
    return value


def boundary_for(message_id_value: str) -> str:
    """A MIME boundary derived from the Message-ID, so the bytes are reproducible."""
    return "=_" + hashlib.sha256(message_id_value.encode()).hexdigest()[:32]


def compose(
    issue: MessageParts,
    settings: NewsletterSettings,
    site: SiteSettings,
    *,
    recipient: str,
    unsubscribe_url: str,
    date: datetime,
    preferences_url: str = "",
    secret: bytes | None = None,
) -> EmailMessage:
    """The message for ``recipient``, with their address and links filled in
    (its Message-ID keyed with ``secret``: see ``returnpath``)."""
    to = Address(addr_spec=recipient)  # raises ValueError for a malformed address
    html, text = fill(issue, to.addr_spec, unsubscribe_url, preferences_url or unsubscribe_url)
    message = EmailMessage(policy=BODY_POLICY)
    message["Subject"] = issue.subject
    message["From"] = sender(settings, site)
    message["To"] = to
    if settings.reply_to:
        message["Reply-To"] = settings.reply_to
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id(issue.issue_id, to.addr_spec, site_domain(site), secret)
    for name, value in list_headers(settings, site, issue.issue_id):
        message[name] = value
    message["List-Unsubscribe"] = list_unsubscribe(
        unsubscribe_url, settings.unsubscribe_mailto, to.addr_spec
    )
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    message.set_boundary(boundary_for(message["Message-ID"]))
    message.policy = POLICY  # headers: fold only past 998 characters
    return message


class PreparedMessage:
    """One rendered issue made ready for many recipients.

    The headers that are the same for everyone are serialised once by the email
    package, and the two parts are quoted-printable encoded once, line by line:
    QP is line-local, so only the few lines that hold a per-recipient placeholder
    are filled and encoded per recipient, and the joined bytes equal encoding the
    whole filled part (``binascii.b2a_qp``). That is far cheaper than building an
    ``EmailMessage``; the result parses to the same headers and parts as
    ``compose`` (a test compares them). Addresses or links that are not plain
    ASCII go through ``compose`` instead.
    """

    def __init__(
        self,
        issue: MessageParts,
        settings: NewsletterSettings,
        site: SiteSettings,
        secret: bytes | None = None,
        signer: Signer | None = None,
    ) -> None:
        self.issue = issue
        self.settings = settings
        self.site = site
        # keys the Message-IDs (None: the archive's sample message, never matched)
        self.secret = secret
        # signs each copy with DKIM (None: newsletter.dkim is not set)
        self.signer = signer
        self.domain = site_domain(site)
        fixed = EmailMessage(policy=POLICY)
        fixed["Subject"] = issue.subject
        fixed["From"] = sender(settings, site)
        if settings.reply_to:
            fixed["Reply-To"] = settings.reply_to
        for name, value in list_headers(settings, site, issue.issue_id):
            fixed[name] = value
        fixed["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        fixed["MIME-Version"] = "1.0"
        self.head = fixed.as_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n"
        self.html_part = _EncodedPart(issue.html, html=True)
        self.text_part = _EncodedPart(issue.text, html=False)

    def message(
        self, recipient: str, unsubscribe_url: str, date: datetime, preferences_url: str = ""
    ) -> tuple[bytes, str]:
        """The message bytes for ``recipient`` and its Message-ID, DKIM-signed when
        the message has a signer.

        ``preferences_url`` is the reader's own preferences link (default: the
        unsubscribe link, whose page offers the same way out).
        """
        data, mid = self._unsigned(recipient, unsubscribe_url, date, preferences_url)
        return (data if self.signer is None else self.signer.sign(data)), mid

    def _unsigned(
        self, recipient: str, unsubscribe_url: str, date: datetime, preferences_url: str
    ) -> tuple[bytes, str]:
        # a plain address is what Address would give back; anything else is parsed
        to = recipient if is_plain(recipient) else Address(addr_spec=recipient).addr_spec
        mailto = self.settings.unsubscribe_mailto or ""
        preferences_url = preferences_url or unsubscribe_url
        links = unsubscribe_url + preferences_url
        if not (to + links + mailto).isascii() or any(ch in to + links for ch in "\r\n<>"):
            slow = compose(
                self.issue,
                self.settings,
                self.site,
                recipient=recipient,
                unsubscribe_url=unsubscribe_url,
                date=date,
                preferences_url=preferences_url,
                secret=self.secret,
            )
            return slow.as_bytes(), str(slow["Message-ID"])
        values = (to, unsubscribe_url, preferences_url)
        mid = message_id(self.issue.issue_id, to, self.domain, self.secret)
        unsubscribe = list_unsubscribe(unsubscribe_url, mailto, to)
        boundary = boundary_for(mid).encode()
        part = (
            b'\r\nContent-Type: text/%s; charset="utf-8"\r\n'
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        )
        return (
            b"".join(
                (
                    self.head,
                    f"To: {to}\r\nDate: {format_datetime(date)}\r\nMessage-ID: {mid}\r\n"
                    f"List-Unsubscribe: {unsubscribe}\r\n".encode(),
                    b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n\r\n',
                    b"--" + boundary + part % b"plain",
                    self.text_part.filled(*values),
                    b"\r\n--" + boundary + part % b"html",
                    self.html_part.filled(*values),
                    b"\r\n--" + boundary + b"--\r\n",
                )
            ),
            mid,
        )


class _EncodedPart:
    """One part of the message, quoted-printable encoded once: runs of lines
    without a placeholder as finished bytes, and the lines with one kept as text
    to be filled (escaped for the part) and encoded per recipient."""

    def __init__(self, body: str, html: bool) -> None:
        text = body if body.endswith("\n") else body + "\n"  # a part ends with a line break
        while "\r\n" in text:  # LF line ends only ("\r\r\n" too): b2a_qp picks CRLF
            text = text.replace("\r\n", "\n")  # mode from the first line end it meets
        self.html = html
        # bytes (encoded, static) or str (a line with placeholders, unencoded)
        self.pieces: list[bytes | str] = []
        run: list[str] = []
        # split at \n only: b2a_qp breaks lines there and nowhere else (not at \r,
        # \x0b or U+2028, where str.splitlines would)
        for line in (piece + "\n" for piece in text.split("\n")[:-1]):
            if any(mark in line for mark in _PLACEHOLDERS):
                if run:
                    self.pieces.append(_qp_lines("".join(run)))
                    run = []
                self.pieces.append(line)
            else:
                run.append(line)
        if run:
            self.pieces.append(_qp_lines("".join(run)))

    def filled(self, recipient: str, unsubscribe_url: str, preferences_url: str) -> bytes:
        values = (recipient, unsubscribe_url, preferences_url)
        return b"".join(
            piece if isinstance(piece, bytes)
            else _qp_lines(substitute(piece, values, html=self.html))
            for piece in self.pieces
        )  # fmt: skip


_PLACEHOLDERS = (RECIPIENT, UNSUBSCRIBE_URL, PREFERENCES_URL)


def _qp_lines(text: str) -> bytes:
    """Whole lines (ending in a line break) as quoted-printable with CRLF line ends."""
    return binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
