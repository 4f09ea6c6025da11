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
from newsletter.audience.tokens import (
    make_confirm_token,
    make_expiring_token,
    make_token,
    signed_link,
)
from newsletter.config import Config, NewsletterSettings, SignupSettings, SmtpSettings
from newsletter.errors import NoticeNotSent
from newsletter.issue.archive import read_issues
from newsletter.issue.message import list_unsubscribe
from newsletter.mail.dkim import Signer
from newsletter.mail.headers import (
    BODY_POLICY,
    POLICY,
    feedback_id,
    list_headers,
    return_path,
    sender,
    site_domain,
)
from newsletter.mail.smtp import SmtpTransport
from newsletter.state import Db

SUBJECTS = {
    "confirm": "Confirm your subscription to {site}",
    "already": "You are already subscribed to {site}",
    "welcome": "Welcome to {site}",
}
WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


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
    # the one-click unsubscribe endpoint (the welcome mail's List-Unsubscribe)
    unsubscribe_endpoint: str = ""
    # state.issues: where the welcome mail finds the latest issue's web copy
    issues_folder: Path | None = None
    # "weekly, on Mondays around 08:00 (UTC)": how often the digest comes
    frequency: str = "weekly"
    # signs every notice with DKIM (newsletter.dkim; None: not set)
    signer: Signer | None = None

    @classmethod
    def of(cls, config: Config) -> NoticeSettings:
        return cls(
            site=config.site,
            newsletter=config.newsletter,
            templates=config.templates,
            smtp=config.smtp,
            confirm_endpoint=config.endpoint("confirm"),
            preferences_endpoint=config.endpoint("preferences"),
            unsubscribe_endpoint=config.unsubscribe_endpoint(),
            issues_folder=config.issues_folder,
            frequency=digest_frequency(
                config.newsletter.period_days, config.schedule.digest, config.schedule.timezone
            ),
            signer=Signer.of_config(config),
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
    digest = hashlib.sha256(f"{kind}\0{subscriber.id}\0{now.isoformat()}".encode()).hexdigest()
    return _compose(
        config,
        "notice",
        context,
        subscriber.email,
        now,
        f"<notice.{digest[:24]}@{site_domain(config.site)}>",
        [
            ("Auto-Submitted", "auto-replied"),  # RFC 3834: no vacation replies to it
            ("Feedback-ID", feedback_id(config.newsletter, config.site, kind)),
        ],
    )


def _compose(
    config: NoticeSettings,
    template: str,
    context: dict[str, object],
    recipient: str,
    now: datetime,
    message_id: str,
    headers: list[tuple[str, str]],
) -> EmailMessage:
    """A notice from ``<template>.txt.j2`` and ``.html.j2`` (multipart/alternative,
    text first), with its own ``headers`` after the common ones."""
    env = environment(config.templates)
    message = EmailMessage(policy=BODY_POLICY)
    message["Subject"] = str(context["subject"])
    message["From"] = sender(config.newsletter, config.site)
    message["To"] = Address(addr_spec=recipient)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    for name, value in headers:
        message[name] = value
    text = env.get_template(f"{template}.txt.j2").render(**context)
    html = env.get_template(f"{template}.html.j2").render(**context)
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
    _send(config, kind, subscriber.email, message, transport)


def _send(
    config: NoticeSettings,
    kind: str,
    recipient: str,
    message: EmailMessage,
    transport: SmtpTransport | None,
) -> None:
    """Sign (when configured) and send one notice; ``NoticeNotSent`` if refused."""
    data = message.as_bytes()
    if config.signer is not None:
        data = config.signer.sign(data)
    envelope_from = return_path(config.newsletter, config.site)
    own = transport is None
    transport = transport or SmtpTransport(config.smtp)
    try:
        transport.send(envelope_from, recipient, data)
    except (smtplib.SMTPException, OSError) as exc:
        raise NoticeNotSent(kind, recipient, str(exc)) from exc
    finally:
        if own:
            transport.close()


def digest_frequency(period_days: int, crontab: str | None, timezone: str) -> str:
    """How often the digest comes, in words: "weekly, on Mondays around 08:00 (UTC)"."""
    every = {1: "daily", 7: "weekly"}.get(period_days, f"every {period_days} days")
    fields = (crontab or "").split()
    if len(fields) != 5:
        return every
    minute, hour, day, _, weekday = fields
    when = ""
    if day == "*" and weekday.isdigit() and int(weekday) <= 7:
        when = f", on {WEEKDAYS[int(weekday) % 7]}s"
    elif day == "*" and weekday[:3].lower() in (w[:3].lower() for w in WEEKDAYS):
        when = f", on {next(w for w in WEEKDAYS if w[:3].lower() == weekday[:3].lower())}s"
    if minute.isdigit() and hour.isdigit():
        when += f" around {int(hour):02d}:{int(minute):02d} ({timezone})"
    return every + when


def compose_welcome(
    config: NoticeSettings,
    subscriber: Subscriber,
    secret: bytes,
    now: datetime,
    topic_names: tuple[str, ...] = (),
) -> EmailMessage:
    """The welcome mail for a reader who just confirmed: their topics, how often the
    digest comes, the latest issue's web copy, their preferences and unsubscribe
    links (with List-Unsubscribe, as every list mail has)."""
    unsubscribe_url = signed_link(
        config.unsubscribe_endpoint, make_token(secret, subscriber.id, subscriber.email)
    )
    # the latest issue readers got (not one in review, nor one the editors skipped)
    filed = read_issues(config.issues_folder) if config.issues_folder else []
    issues = [i for i in filed if not i.status]
    context = {
        "site": config.site,
        "subject": SUBJECTS["welcome"].format(site=config.site.title),
        "recipient": subscriber.email,
        "topics": topic_names,
        "frequency": config.frequency,
        "latest_url": max(issues, key=lambda i: i.end).url if issues else "",
        "preferences_url": notice_link(config, "preferences", subscriber, secret, now),
        "unsubscribe_url": unsubscribe_url,
    }
    digest = hashlib.sha256(f"welcome\0{subscriber.id}".encode()).hexdigest()
    unsubscribe = list_unsubscribe(
        unsubscribe_url, config.newsletter.unsubscribe_mailto, subscriber.email
    )
    return _compose(
        config,
        "welcome",
        context,
        subscriber.email,
        now,
        f"<welcome.{digest[:24]}@{site_domain(config.site)}>",
        [
            *list_headers(config.newsletter, config.site, "welcome"),
            ("List-Unsubscribe", unsubscribe),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ],
    )


def welcome(
    conn: Db,
    config: NoticeSettings,
    secret: bytes,
    subscriber: Subscriber,
    now: datetime,
    topic_names: tuple[str, ...] = (),
    transport: SmtpTransport | None = None,
) -> bool:
    """Send the welcome mail to a reader who just confirmed, once per address: False
    (nothing sent) when ``newsletter.welcome`` is off or they were welcomed before.
    A mail the server refuses is given back (``NoticeNotSent``), so a later
    confirmation may send it."""
    if not config.newsletter.welcome:
        return False
    taken = subs.claim_welcome(conn, subscriber.id, now)
    if taken is None:
        return False
    try:
        message = compose_welcome(config, subscriber, secret, now, topic_names)
        _send(config, "welcome", subscriber.email, message, transport)
    except BaseException:
        subs.welcome_not_sent(conn, subscriber.id, taken)
        raise
    return True


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
