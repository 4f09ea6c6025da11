"""The mail a sign-up sends: a confirmation link, or "you are already subscribed".

Rendered from ``notice.txt.j2`` and ``notice.html.j2`` in the templates folder
(multipart/alternative, text first) and sent over the same SMTP path as issues
(``smtp.SmtpTransport``). The links are signed and expire: a confirmation
link after ``newsletter.confirm_days``, a preferences link after
``preferences_days``. Whether a notice is sent at all is decided by
``lifecycle.sign_up``; this module builds and sends it, and
``sign_up_and_notify`` is the one sign-up workflow (decide, send, settle) that the
form and ``import --confirm`` share.
"""

from __future__ import annotations

import hashlib
import smtplib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from feeds.config import SiteSettings
from feeds.rendering.templating import environment
from newsletter.audience import lifecycle as subs
from newsletter.audience.lifecycle import Subscriber
from newsletter.audience.tokens import make_confirm_token, make_expiring_token, signed_link
from newsletter.config import Config, NewsletterSettings, SignupSettings, SmtpSettings
from newsletter.errors import NoticeNotSent
from newsletter.mail.headers import BODY_POLICY, POLICY, return_path, sender, site_domain
from newsletter.mail.smtp import SmtpTransport
from newsletter.state import Db

SUBJECTS = {
    "confirm": "Confirm your subscription to {site}",
    "already": "You are already subscribed to {site}",
}


@dataclass(frozen=True)
class NoticeSettings:
    """What sign-up notices need from the config, and nothing else."""

    # site.title and base_url: the subject, the text, the Message-ID's host
    site: SiteSettings
    # newsletter.*: From, confirm_days, preferences_days
    newsletter: NewsletterSettings
    # the project's templates folder (notice.txt.j2, notice.html.j2)
    templates: Path
    # the relay
    smtp: SmtpSettings
    # the confirm and preferences endpoints (a token is appended)
    confirm_endpoint: str
    preferences_endpoint: str

    @classmethod
    def of(cls, config: Config) -> NoticeSettings:
        return cls(
            site=config.site,
            newsletter=config.newsletter,
            templates=config.templates,
            smtp=config.smtp,
            confirm_endpoint=config.endpoint("confirm"),
            preferences_endpoint=config.endpoint("preferences"),
        )

    @property
    def signup(self) -> SignupSettings:
        return self.newsletter.signup


def notice_link(
    config: NoticeSettings,
    kind: str,
    subscriber: Subscriber,
    secret: bytes,
    now: datetime,
    request_id: int = 0,
) -> str:
    """The signed, expiring link a notice carries: confirm (this sign-up request's
    choices), or preferences."""
    settings = config.newsletter
    if kind == "confirm":
        expires = int(now.timestamp() + settings.confirm_days * 86_400)
        token = make_confirm_token(secret, subscriber.id, subscriber.email, request_id, expires)
        return signed_link(config.confirm_endpoint, token)
    expires = int(now.timestamp() + settings.preferences_days * 86_400)
    token = make_expiring_token(secret, "preferences", subscriber.id, subscriber.email, expires)
    return signed_link(config.preferences_endpoint, token)


def compose_notice(
    config: NoticeSettings,
    kind: str,
    subscriber: Subscriber,
    link: str,
    now: datetime,
    topic_names: tuple[str, ...] = (),
) -> EmailMessage:
    """The notice ``kind`` ("confirm" or "already") for ``subscriber``."""
    env = environment(config.templates)
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
    config: NoticeSettings,
    kind: str,
    subscriber: Subscriber,
    secret: bytes,
    now: datetime,
    topic_names: tuple[str, ...] = (),
    transport: SmtpTransport | None = None,
    request_id: int = 0,
) -> None:
    """Build and send one notice; ``NoticeNotSent`` if the server does not take it."""
    link = notice_link(config, kind, subscriber, secret, now, request_id)
    message = compose_notice(config, kind, subscriber, link, now, topic_names)
    envelope_from = return_path(config.newsletter, config.site)
    own = transport is None
    transport = transport or SmtpTransport(config.smtp)
    try:
        transport.send(envelope_from, subscriber.email, message.as_bytes())
    except (smtplib.SMTPException, OSError) as exc:
        raise NoticeNotSent(kind, subscriber.email, str(exc)) from exc
    finally:
        if own:
            transport.close()


def sign_up_and_notify(
    conn: Db,
    config: NoticeSettings,
    secret: bytes,
    address: str,
    *,
    topics: Sequence[str],
    name: str,
    client: str,
    now: datetime,
    topic_names: Callable[[Sequence[str]], tuple[str, ...]] = lambda topics: (),
    send: Callable[..., None] = send_notice,
) -> subs.SignUp:
    """One sign-up, from the form or ``import --confirm``: the lifecycle's decision,
    the notice it calls for, and the notice settled against the mail limits (it
    counts only if the server took it). ``NoticeNotSent`` if the mail did not go."""
    signup = config.signup
    decision = subs.sign_up(
        conn,
        address,
        topics=topics,
        name=name,
        client=client,
        now=now,
        secret=secret,
        per_address_minutes=signup.per_address_minutes,
        per_address_per_day=signup.per_address_per_day,
    )
    if decision.subscriber is None:
        return decision
    names = topic_names(decision.subscriber.topics)
    sent = False
    try:
        send(config, decision.notice, decision.subscriber, secret, now, names,
             request_id=decision.request_id)  # fmt: skip
        sent = True
    finally:
        subs.notice_sent(conn, decision, sent)
    return decision
