"""Turn a rendered issue into a MIME message for one recipient.

Filling the per-recipient placeholders is cheap string replacement, escaped for
each context (HTML for the HTML part, nothing for the text part; headers are
built by the ``email`` package, which refuses CR/LF in values). No rendering or
CSS inlining happens here. The message is ``multipart/alternative`` with the
text part first and the HTML part last, both UTF-8.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from urllib.parse import quote, urlsplit

from markupsafe import escape

from feeds.config import SiteSettings
from feeds.errors import ConfigError

from .config import NewsletterSettings
from .render import RECIPIENT, UNSUBSCRIBE_URL, RenderedIssue

# Header lines may be up to 998 characters (RFC 5322); folding earlier would turn
# a long List-Unsubscribe URL into an encoded-word, which mail clients ignore.
POLICY = SMTP.clone(max_line_length=998)
# Quoted-printable body lines are at most 76 characters (RFC 2045 §6.7).
BODY_POLICY = SMTP.clone(max_line_length=76)


def site_domain(site: SiteSettings) -> str:
    """The host name of ``site.base_url`` (for Message-ID and default addresses)."""
    return urlsplit(site.base_url).hostname or "localhost"


def sender(settings: NewsletterSettings, site: SiteSettings) -> str:
    """The From address: ``newsletter.from``, or the site's title at its domain."""
    value = settings.sender or f"{site.title} <digest@{site_domain(site)}>"
    name, address = parseaddr(value)
    if "@" not in address or any(ch in value for ch in "\r\n"):
        raise ConfigError("newsletter.from", f"{value!r} is not an email address")
    return str(Address(display_name=name, addr_spec=address))


def message_id(issue_id: str, recipient: str, domain: str) -> str:
    """A stable Message-ID: the same issue to the same person always has the same id."""
    digest = hashlib.sha256(f"{issue_id}\0{recipient.lower()}".encode()).hexdigest()[:24]
    return f"<{issue_id}.{digest}@{domain}>"


def compose(
    issue: RenderedIssue,
    settings: NewsletterSettings,
    site: SiteSettings,
    *,
    recipient: str,
    unsubscribe_url: str,
    date: datetime,
) -> EmailMessage:
    """The message for ``recipient``, with their address and unsubscribe link filled in."""
    to = Address(addr_spec=recipient)  # raises ValueError for a malformed address
    html = issue.html.replace(RECIPIENT, str(escape(to.addr_spec))).replace(
        UNSUBSCRIBE_URL, str(escape(unsubscribe_url))
    )
    text = issue.text.replace(RECIPIENT, to.addr_spec).replace(UNSUBSCRIBE_URL, unsubscribe_url)
    message = EmailMessage(policy=BODY_POLICY)
    message["Subject"] = issue.subject
    message["From"] = sender(settings, site)
    message["To"] = to
    if settings.reply_to:
        message["Reply-To"] = settings.reply_to
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id(issue.issue_id, to.addr_spec, site_domain(site))
    message["List-Id"] = f"<digest.{site_domain(site)}>"
    unsubscribe = [f"<{unsubscribe_url}>"]
    if settings.unsubscribe_mailto:
        subject = quote(f"unsubscribe {to.addr_spec}")
        unsubscribe.append(f"<mailto:{settings.unsubscribe_mailto}?subject={subject}>")
    message["List-Unsubscribe"] = ", ".join(unsubscribe)
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    # a boundary derived from the message id keeps the bytes reproducible
    message.set_boundary("=_" + hashlib.sha256(message["Message-ID"].encode()).hexdigest()[:32])
    message.policy = POLICY  # headers: fold only past 998 characters
    return message
