"""The whole feedletter configuration: the feed settings plus the newsletter's.

``load_config`` is called once at start-up; everything downstream receives the
typed, frozen ``Config``. Secrets (SMTP password, signing key) never live here:
they are read from the environment by the code that needs them.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from feeds.config import FeedSettings, Section, load_settings
from feeds.errors import FeedletterError
from feeds.reading.topics import TOPIC_ID
from feeds.urls import check_url
from newsletter.addresses import MAX_RETURN_PATH_LOCAL, normalise_address
from newsletter.config.services import (
    DkimSettings,
    ReviewSettings,
    ScheduleSettings,
    ServerSettings,
    SmtpSettings,
    StateSettings,
)
from newsletter.state.database import Database, parse_database

__all__ = [
    "DEFAULT_CONFIG",
    "BounceSettings",
    "Config",
    "DkimSettings",
    "NewsletterSettings",
    "ReviewSettings",
    "ScheduleSettings",
    "ServerSettings",
    "SignupSettings",
    "SmtpSettings",
    "StateSettings",
    "UtmSettings",
    "load_config",
    "mailbox_problem",
]

DEFAULT_CONFIG = Path("config.yaml")
SUBJECT_FIELDS = ("site", "date", "issue")
FOOTER_FIELDS = ("site", "host")


def _only_fields(value: str, fields: tuple[str, ...]) -> str:
    """``value`` if it is a format string using no fields but ``fields``."""
    try:
        value.format(**{name: "" for name in fields})
    except (KeyError, IndexError, ValueError) as exc:
        names = ", ".join(f"{{{name}}}" for name in fields)
        raise ValueError(f"may only use the fields {names} (problem: {exc})") from None
    return value


class UtmSettings(Section):
    """``newsletter.utm``: campaign parameters added to every article link."""

    # add campaign parameters (utm_source, utm_medium, utm_campaign = the issue id) to
    # article links in the digest
    enabled: bool = True
    # the utm_source value
    source: str = Field(default="feedletter", min_length=1)
    # the utm_medium value
    medium: str = Field(default="email", min_length=1)


class SignupSettings(Section):
    """``newsletter.signup``: limits on the public sign-up form (``feedletter serve``)."""

    # at most one confirmation mail per address in this many minutes ...
    per_address_minutes: float = Field(default=10, ge=0)
    # ... and at most this many per address in 24 hours
    per_address_per_day: int = Field(default=3, ge=1, le=100)
    # each client address (IPv6: its /64) may make this many sign-ups and requests
    # with a bad, forged or expired link ...
    per_client_requests: int = Field(default=10, ge=1)
    # ... in this sliding window; more get 429 with Retry-After
    per_client_window_seconds: float = Field(default=600, gt=0)
    # requests with one reader's valid link (confirm, preferences) in the same
    # window: counted per reader, not per client, so readers behind one NAT never
    # share a limit
    per_reader_requests: int = Field(default=60, ge=1)
    # proxies whose X-Forwarded-For names the client (their own address otherwise);
    # [] = believe no forwarded header at all
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    # keep the windows in the state database, shared by every `serve` process on it
    # (several hosts on one PostgreSQL database); default: in each process's memory
    shared_limits: bool = False

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or network (e.g. 10.0.0.0/8, ::1)"
                ) from None
        return value


class BounceSettings(Section):
    """``newsletter.bounces``: where returned mail goes and when it stops the issues."""

    # permanent failures (5xx, hard bounces) before the address is marked bounced
    hard_limit: int = Field(default=1, ge=1, le=100)
    # consecutive issues with a temporary failure that outlasted the retries
    soft_issue_limit: int = Field(default=3, ge=1, le=100)
    # the envelope sender (Return-Path) of issues, where servers return mail;
    # default: the address of newsletter.from
    return_path: str | None = None
    # VERP: each issue's envelope sender is <local>+<keyed tag>@<domain>, so a
    # returned message names the reader and issue it is about in a way no outsider
    # can forge; needs sub-addressing on the bounce mailbox (Postfix
    # recipient_delimiter = +). Off: only the keyed Message-ID identifies returns
    verp: bool = True
    # the character between the local part and the tag (recipient_delimiter)
    verp_delimiter: Literal["+", "-", "="] = "+"
    # returned messages larger than this are reported and skipped unread
    max_message_bytes: int = Field(default=4 * 1024 * 1024, ge=10_000)

    @field_validator("return_path")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        local, at, domain = value.strip().rpartition("@")
        if not at or not local or not domain or any(c in value for c in ' <>\r\n"(),;:'):
            raise ValueError(f"{value!r} is not a plain address (bounces@example.org)")
        return value.strip()


class NewsletterSettings(Section):
    """``newsletter``: what the digest contains, how it is addressed, who may sign up."""

    # the Subject line; fields {site} (site.title), {date} (the period's last day) and
    # {issue} (the issue id)
    subject: str = "{site} weekly — {date}"
    # the From header (a mailbox: "News <digest@example.org>"); empty: site.title at digest@
    # the host of site.base_url
    sender: str = Field(default="", alias="from")
    # the Reply-To header (null: none)
    reply_to: str | None = None
    # an address added to List-Unsubscribe as a mailto: (null: the one-click link only)
    unsubscribe_mailto: str | None = None
    # the length of an issue's period, ending on the last full day before it is rendered
    period_days: int = Field(default=7, ge=1, le=366)
    # stories per topic section
    items_per_topic: int = Field(default=5, ge=1, le=50)
    # stories in the lead section (the highest heat across topics)
    top_stories: int = Field(default=3, ge=0, le=20)
    # the topics that get a section, in this order (null: every topic); readers who chose
    # topics get theirs
    topics: list[str] | None = None
    # the size budget of the inlined HTML (Gmail clips messages over about 102 KB):
    # the lowest-ranked stories are left out until the issue fits
    max_html_bytes: int = Field(default=90_000, ge=10_000)
    # a footer line (e.g. why the reader gets this); fields {site} (site.title) and {host}
    # (base_url's host)
    footer: str = ""
    # campaign parameters on article links
    utm: UtmSettings = UtmSettings()
    # where the one-click unsubscribe endpoint lives (`feedletter serve`);
    # default: <site.base_url>/unsubscribe
    unsubscribe_url: str | None = None
    # an issue is sent automatically only until this long after its period ended
    send_window_hours: float = Field(default=48, gt=0)
    # where the site's sign-up forms post (`feedletter serve`); default:
    # <site.base_url>/subscribe
    subscribe_url: str | None = None
    # a pending sign-up expires (its confirmation link too) after this many days
    confirm_days: float = Field(default=7, gt=0, le=90)
    # a preferences link in an issue works for this many days
    preferences_days: float = Field(default=365, gt=0)
    # limits on the public sign-up form
    signup: SignupSettings = SignupSettings()
    # where returned mail goes and when it stops the issues
    bounces: BounceSettings = BounceSettings()
    # mail a reader once, when they confirm: their topics, how often the digest
    # comes, the latest issue and their preferences link
    welcome: bool = True
    # sign every message with DKIM as your own domain (null: leave it to the relay)
    dkim: DkimSettings | None = None
    # count clicks on each issue's links, per issue and link only: links go through
    # `serve` (<base_url>/r/...), which redirects at once; no reader, address, cookie
    # or IP address is kept
    count_clicks: bool = False
    # a second click on one link from one client within this many seconds (a mail
    # scanner fetching it, a double tap) is not counted again (kept in memory only)
    click_window_seconds: float = Field(default=60, ge=0, le=86_400)
    # editors review each issue before it is sent (null: issues go out as rendered)
    review: ReviewSettings | None = None

    @field_validator("sender", "reply_to")
    @classmethod
    def _mailbox(cls, value: str | None) -> str | None:
        if not value:
            return value
        return mailbox_problem(value)

    @field_validator("unsubscribe_mailto")
    @classmethod
    def _plain_address(cls, value: str | None) -> str | None:
        if not value:
            return value
        try:
            return normalise_address(value)
        except FeedletterError as exc:
            raise ValueError(f"must be a plain address (unsubscribe@example.org): {exc}") from None

    @field_validator("subject")
    @classmethod
    def _subject_fields(cls, value: str) -> str:
        return _only_fields(value, SUBJECT_FIELDS)

    @field_validator("footer")
    @classmethod
    def _footer_fields(cls, value: str) -> str:
        return _only_fields(value, FOOTER_FIELDS)

    def footer_for(self, site: str, host: str) -> str:
        """The footer line with ``{site}`` (site.title) and ``{host}`` (base_url's host)."""
        return self.footer.format(site=site, host=host)

    @model_validator(mode="after")
    def _hold_fits(self) -> NewsletterSettings:
        review = self.review
        if review is not None and review.hold_hours >= self.send_window_hours:
            raise ValueError(
                f"review.hold_hours ({review.hold_hours:g}) must be shorter than "
                f"send_window_hours ({self.send_window_hours:g}): an issue held that long "
                "could never be sent; shorten the hold or lengthen the window"
            )
        return self

    @model_validator(mode="after")
    def _verp_fits(self) -> NewsletterSettings:
        from email.utils import parseaddr

        base = self.bounces.return_path or parseaddr(self.sender)[1]
        local = base.rpartition("@")[0]
        if self.bounces.verp and len(local) > MAX_RETURN_PATH_LOCAL:
            raise ValueError(
                f"bounces.return_path: the local part of {base!r} is longer than "
                f"{MAX_RETURN_PATH_LOCAL} characters, too long to carry a VERP tag (at most 64 in "
                "all); set a shorter newsletter.bounces.return_path (bounces@…) or "
                "newsletter.bounces.verp: false"
            )
        return self

    @field_validator("unsubscribe_url", "subscribe_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = check_url(value)
        if url is None:
            raise ValueError("must be an absolute http(s) URL")
        return url

    @field_validator("topics")
    @classmethod
    def _topic_ids(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            if not TOPIC_ID.match(item):
                raise ValueError(f"{item!r} is not a topic id")
        return value


def mailbox_problem(value: str) -> str:
    """``value`` ("Name <address>" or a plain address) checked for a From or Reply-To
    header; ``ValueError`` says what is wrong."""
    from email.headerregistry import Address
    from email.utils import parseaddr

    if any(ch in value for ch in "\r\n\x00"):
        raise ValueError("must be one line")
    name, address = parseaddr(value)
    if not address or "@" not in address or address not in value:
        # (parseaddr reads "a@exa mple.org" as "a@example.org": a different address)
        raise ValueError(f"{value!r} is not an address (Name <news@example.org>)")
    try:
        normalise_address(address)
        Address(display_name=name, addr_spec=address)
    except (FeedletterError, ValueError, IndexError) as exc:
        raise ValueError(f"{value!r} is not an address: {exc}") from None
    return value


class Config(FeedSettings):
    """Every section of ``config.yaml``."""

    newsletter: NewsletterSettings = NewsletterSettings()
    smtp: SmtpSettings = SmtpSettings()
    state: StateSettings = StateSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    serve: ServerSettings = ServerSettings()

    @property
    def database(self) -> Database:
        """The state database; a file path is resolved against the config file's folder."""
        kind, where = parse_database(self.state.database)
        if kind == "sqlite":
            where = str(self._resolved(Path(where)))
        return Database(kind, where, self.state.password_env)

    @property
    def issues_folder(self) -> Path:
        """The private issues folder (``state.issues``), resolved like ``database``."""
        return self._resolved(self.state.issues)

    def environment_names(self) -> list[str]:
        """Every environment variable this config names (its ``*_env`` settings)."""
        found: set[str] = set()
        pending: list[object] = [self]
        while pending:
            value = pending.pop()
            if isinstance(value, BaseModel):
                for name in type(value).model_fields:
                    item = getattr(value, name)
                    if name.endswith("_env") and isinstance(item, str):
                        found.add(item)
                    else:
                        pending.append(item)
            elif isinstance(value, list | tuple):
                pending.extend(value)
        return sorted(found)

    def _resolved(self, path: Path) -> Path:
        if self.source is not None and not path.is_absolute():
            return self.source.resolve().parent / path
        return path

    def unsubscribe_endpoint(self) -> str:
        """Base URL of the unsubscribe endpoint (a token is appended per recipient)."""
        return self.newsletter.unsubscribe_url or f"{self.site.base_url}/unsubscribe"

    def subscribe_form_url(self) -> str | None:
        """Where the sign-up forms on the site's pages post."""
        return self.newsletter.subscribe_url or f"{self.site.base_url}/subscribe"

    def endpoint(self, name: str) -> str:
        """The public URL of one of `serve`'s pages: confirm, preferences."""
        return f"{self.site.base_url}/{name}"


def load_config(path: Path = DEFAULT_CONFIG) -> Config:
    """Read and validate ``path``; raises ``ConfigError`` naming the key on any problem."""
    return load_settings(path, Config)
