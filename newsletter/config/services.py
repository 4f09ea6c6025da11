"""The sections of the config that say how feedletter reaches the world: the
mail server, DKIM signing, the state database, the schedule and ``serve``.

Part of ``newsletter.config`` (which re-exports every model); imports only the
feed half's ``Section`` and the state's database URL parser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from feeds.config import Section
from newsletter.state.database import parse_database


class SmtpSettings(Section):
    """``smtp``: the mail server. The password comes from the environment only."""

    # the mail server (the sample config uses 127.0.0.1:8025, a local test server)
    host: str = "localhost"
    # its port (587 submission with STARTTLS, 465 with ssl)
    port: int = Field(default=587, ge=1, le=65535)
    # connection security
    security: Literal["starttls", "ssl", "none"] = "starttls"
    # the login name (null: no login); the password comes from the environment
    username: str | None = None
    # name of the environment variable that holds the password
    password_env: str = "FEEDLETTER_SMTP_PASSWORD"
    # socket timeout for each step of a conversation with the server
    timeout_seconds: float = Field(default=30, gt=0)
    # at most this many messages per second (null: as fast as the server takes them)
    rate_per_second: float | None = Field(default=None, gt=0)
    # attempts per message for 4xx replies and dropped connections
    max_attempts: int = Field(default=5, ge=1, le=20)
    # first retry delay; doubled on each further attempt, capped at 5 minutes
    backoff_seconds: float = Field(default=2.0, ge=0)
    # a sender's claim on a recipient lapses after this long (a sender that died
    # leaves claims that others take over then; at once if it was on this host)
    claim_lease_seconds: float = Field(default=300, gt=0)


class ServerSettings(Section):
    """``serve``: what one `feedletter serve` process accepts from the network."""

    # request bodies larger than this get 413 (the forms are a few hundred bytes)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # the request line and headers together (larger: 431, or 400 when they come in
    # pieces)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    # connections open at once; more are closed at once (also kept well under the
    # process's open-file limit)
    max_connections: int = Field(default=1000, ge=8, le=100_000)
    # a request must arrive whole (headers and body) within this many seconds of
    # the connection opening or the previous answer; slower ones are cut off
    request_timeout_seconds: float = Field(default=15, gt=0, le=600)
    # an idle keep-alive connection is closed after this long
    keep_alive_seconds: float = Field(default=5, gt=0, le=600)
    # threads for database work (a locked database never stalls other requests)
    database_threads: int = Field(default=4, ge=1, le=64)
    # threads that decide sign-ups and send their mail
    mail_threads: int = Field(default=2, ge=1, le=64)
    # sign-ups that may wait for those threads; past that a sign-up is answered as
    # usual and logged, and no mail is sent
    mail_queue: int = Field(default=200, ge=1, le=100_000)
    # serve the operator's report (`feedletter report`) at this path under base_url's
    # path, behind HTTP Basic auth (null: not served)
    report_path: str | None = None
    # name of the environment variable that holds the report's password
    report_password_env: str = "FEEDLETTER_REPORT_PASSWORD"

    @field_validator("report_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith("/") or any(c in value for c in "?#% \t\n") or "//" in value:
            raise ValueError("must be a path such as /ops/report (no query, no spaces)")
        return value.rstrip("/")


class StateSettings(Section):
    """``state``: the database for subscribers, the send log and the job store."""

    # an SQLite file (a path, or sqlite:///path) or a PostgreSQL server
    # (postgresql+psycopg://user@host:5432/db); never a password. On PostgreSQL a
    # process opens as many connections as it has threads using the state: `send
    # --workers N` holds N + 1 for its whole run, `serve` one for each of its
    # threads reading or writing the state at that moment
    # (`serve.database_threads`, `serve.mail_threads`), so the server's
    # `max_connections` must leave room for them
    database: str = "var/feedletter.sqlite3"
    # name of the environment variable that holds the database server's password
    password_env: str = "FEEDLETTER_DB_PASSWORD"
    # each issue's message parts, sample message and metadata (private: not in output/)
    issues: Path = Path("var/issues")
    # name of the environment variable that holds the unsubscribe-token secret
    secret_env: str = "FEEDLETTER_SECRET"
    # how long build/digest/send wait for another running command before giving up
    lock_wait_seconds: float = Field(default=300, ge=0)

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        parse_database(value)
        return value


class ScheduleSettings(Section):
    """``schedule``: the jobs `feedletter schedule` runs (crontab syntax)."""

    # the IANA time zone of the crontab expressions and of the digest's calendar days
    timezone: str = "UTC"
    # the site build (feeds, pages, the digest that is due, the hub pings)
    feeds: str | None = "0 * * * *"
    # the site build, then the issue that is due to every subscriber
    digest: str | None = "0 8 * * mon"
    # delete sign-ups never confirmed within newsletter.confirm_days
    purge: str | None = "30 3 * * *"
    # with newsletter.review: send the reviewed issues that are due (approved, or their
    # hold has passed); without review it is not scheduled
    release: str | None = "*/10 * * * *"
    # a run missed by more than this (the scheduler was down) is skipped
    misfire_grace_hours: float = Field(default=6, gt=0)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
        return value

    @field_validator("feeds", "digest", "purge", "release")
    @classmethod
    def _crontab(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(
                f"{value!r} is not a crontab expression (minute hour day month weekday): {exc}"
            ) from None
        return value


class DkimSettings(Section):
    """``newsletter.dkim``: sign every message as your own domain (RFC 6376).

    The private key is read from a file or an environment variable, never from
    this file; `feedletter doctor` checks that the selector's DNS record holds
    its public key."""

    # the signing domain (d=): the From domain or a parent of it, so DMARC aligns
    domain: str = Field(min_length=1)
    # the selector (s=): the public key is the TXT record SELECTOR._domainkey.DOMAIN
    selector: str = Field(min_length=1)
    # a file holding the private key (PEM for rsa-sha256; for ed25519-sha256 the
    # base64 seed, as dknewkey writes it); relative to the config file
    key_file: Path | None = None
    # or the name of an environment variable holding the key itself
    key_env: str | None = None
    # the signature algorithm
    algorithm: Literal["rsa-sha256", "ed25519-sha256"] = "rsa-sha256"

    @field_validator("domain", "selector")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        value = value.strip().rstrip(".").lower()
        labels = value.split(".")
        if not all(labels) or any(
            len(label) > 63 or not all(c.isalnum() or c in "-_" for c in label) for label in labels
        ):
            raise ValueError(f"{value!r} is not a DNS name (mail.example.org)")
        return value

    @model_validator(mode="after")
    def _one_key(self) -> DkimSettings:
        if (self.key_file is None) == (self.key_env is None):
            raise ValueError(
                "set exactly one of key_file (a path to the private key) and key_env "
                "(the environment variable that holds it)"
            )
        return self


class ReviewSettings(Section):
    """``newsletter.review``: editors see each issue before the readers do.

    When the schedule renders an issue it mails the editors a review copy (the real
    issue, marked) with signed links to approve it, skip this week, or drop a story;
    `feedletter issue` does the same from a shell. The issue goes out when approved,
    or, when approval is not required, once ``hold_hours`` have passed unskipped."""

    # who reviews (plain addresses); each gets a copy with their own signed links,
    # and every action is logged under the address that took it
    editors: list[str] = Field(min_length=1)
    # how long the issue waits for the editors after its review copy went out
    hold_hours: float = Field(default=24, ge=0)
    # true: nothing goes out until an editor approves; false: the issue goes out after
    # hold_hours unless an editor skipped it (approving sends it sooner)
    require_approval: bool = True

    @field_validator("editors")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        from feeds.errors import FeedletterError
        from newsletter.addresses import normalise_address

        editors = []
        for item in value:
            try:
                address = normalise_address(item)
            except FeedletterError as exc:
                raise ValueError(f"must be plain addresses (editor@example.org): {exc}") from None
            if address not in editors:
                editors.append(address)
        return editors
