"""The mail a sign-up sends: a confirmation link, or "you are already subscribed".

Rendered from ``notice.txt.j2`` and ``notice.html.j2`` in the templates folder
(multipart/alternative, text first) and sent over the same SMTP path as issues
(``smtp.SmtpTransport``). The links are signed and expire: a confirmation
link after ``newsletter.confirm_days``, a preferences link after
``preferences_days``. Whether a notice is sent at all is decided by
``subscribers.sign_up``; this module only builds and sends it.
"""

from __future__ import annotations

import hashlib
import smtplib
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from feeds.site import template_env

from .config import Config
from .errors import DeliveryError
from .message import BODY_POLICY, POLICY, sender, site_domain
from .smtp import SmtpTransport
from .subscribers import Subscriber
from .tokens import make_expiring_token, signed_link

SUBJECTS = {
    "confirm": "Confirm your subscription to {site}",
    "already": "You are already subscribed to {site}",
}


def notice_link(
    config: Config, kind: str, subscriber: Subscriber, secret: bytes, now: datetime
) -> str:
    """The signed, expiring link a notice carries: confirm, or preferences."""
    settings = config.newsletter
    if kind == "confirm":
        days, purpose, page = settings.confirm_days, "confirm", "confirm"
    else:
        days, purpose, page = settings.preferences_days, "preferences", "preferences"
    expires = int(now.timestamp() + days * 86_400)
    token = make_expiring_token(secret, purpose, subscriber.id, subscriber.email, expires)
    return signed_link(config.endpoint(page), token)


def compose_notice(
    config: Config,
    kind: str,
    subscriber: Subscriber,
    link: str,
    now: datetime,
    topic_names: tuple[str, ...] = (),
) -> EmailMessage:
    """The notice ``kind`` ("confirm" or "already") for ``subscriber``."""
    env = template_env(config.templates)
    subject = SUBJECTS[kind].format(site=config.site.title)
    context = {
        "kind": kind,
        "site": config.site,
        "subject": subject,
        "recipient": subscriber.email,
        "topics": topic_names,
        "link": link,
        "days": f"{config.newsletter.confirm_days:g}",
    }
    text = env.get_template("notice.txt.j2").render(**context)
    html = env.get_template("notice.html.j2").render(**context)
    message = EmailMessage(policy=BODY_POLICY)
    message["Subject"] = subject
    message["From"] = sender(config.newsletter, config.site)
    message["To"] = Address(addr_spec=subscriber.email)
    message["Date"] = format_datetime(now)
    digest = hashlib.sha256(f"{kind}\0{subscriber.id}\0{now.isoformat()}".encode()).hexdigest()
    message["Message-ID"] = f"<notice.{digest[:24]}@{site_domain(config.site)}>"
    message["Auto-Submitted"] = "auto-replied"  # RFC 3834: no vacation replies to it
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    message.policy = POLICY
    return message


def send_notice(
    config: Config,
    kind: str,
    subscriber: Subscriber,
    secret: bytes,
    now: datetime,
    topic_names: tuple[str, ...] = (),
    transport: SmtpTransport | None = None,
) -> None:
    """Build and send one notice; ``DeliveryError`` if the server does not take it."""
    link = notice_link(config, kind, subscriber, secret, now)
    message = compose_notice(config, kind, subscriber, link, now, topic_names)
    envelope_from = parseaddr(sender(config.newsletter, config.site))[1]
    own = transport is None
    transport = transport or SmtpTransport(config.smtp)
    try:
        transport.send(envelope_from, subscriber.email, message.as_bytes())
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"the {kind} notice to {subscriber.email} was not sent: {exc}") from exc
    finally:
        if own:
            transport.close()
