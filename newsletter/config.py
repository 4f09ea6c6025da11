"""The whole feedletter configuration: the feed settings plus the newsletter's.

``load_config`` is called once at start-up; everything downstream receives the
typed, frozen ``Config``. Secrets (SMTP password, signing key) never live here:
they are read from the environment by the code that needs them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from feeds.config import FeedSettings, Section, load_settings
from feeds.topics import TOPIC_ID

DEFAULT_CONFIG = Path("config.yaml")
SUBJECT_FIELDS = ("site", "date", "issue")


class UtmSettings(Section):
    """``newsletter.utm``: campaign parameters added to every article link."""

    enabled: bool = True
    source: str = Field(default="feedletter", min_length=1)
    medium: str = Field(default="email", min_length=1)


class NewsletterSettings(Section):
    """``newsletter``: what the weekly digest contains and how it is addressed."""

    subject: str = "{site} weekly — {date}"
    sender: str = Field(default="", alias="from")
    reply_to: str | None = None
    unsubscribe_mailto: str | None = None
    period_days: int = Field(default=7, ge=1, le=366)
    items_per_topic: int = Field(default=5, ge=1, le=50)
    top_stories: int = Field(default=3, ge=0, le=20)
    topics: list[str] | None = None
    max_html_bytes: int = Field(default=90_000, ge=10_000)
    footer: str = ""
    utm: UtmSettings = UtmSettings()

    @field_validator("subject")
    @classmethod
    def _subject_fields(cls, value: str) -> str:
        try:
            value.format(**{name: "" for name in SUBJECT_FIELDS})
        except (KeyError, IndexError, ValueError) as exc:
            fields = ", ".join(f"{{{name}}}" for name in SUBJECT_FIELDS)
            raise ValueError(f"may only use the fields {fields} (problem: {exc})") from None
        return value

    @field_validator("topics")
    @classmethod
    def _topic_ids(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            if not TOPIC_ID.match(item):
                raise ValueError(f"{item!r} is not a topic id")
        return value


class Config(FeedSettings):
    """Every section of ``config.yaml``."""

    newsletter: NewsletterSettings = NewsletterSettings()


def load_config(path: Path = DEFAULT_CONFIG) -> Config:
    """Read and validate ``path``; raises ``ConfigError`` naming the key on any problem."""
    return load_settings(path, Config)
