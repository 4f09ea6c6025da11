"""Typed configuration for the feed half, validated once at start-up.

``load_settings`` reads a YAML file safely and validates it into a frozen
pydantic model; any problem becomes a ``ConfigError`` that names the key and
what is expected (and, for a typo, the closest valid key). Relative paths are
resolved against the config file's folder. The newsletter extends
``FeedSettings`` with its own sections; this module knows nothing about them.
Secrets never live here: they come from the environment.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from feeds.errors import ConfigError, yaml_problem
from feeds.reading.topics import TOPIC_ID, single_document
from feeds.urls import check_url

if TYPE_CHECKING:  # the parser and the collector load only when a build asks for them
    from feeds.reading.records import Limits
    from feeds.selection.collector import Rules


# the image types RSS 2.0's <image> allows (GIF, JPEG, PNG), by file suffix
ICON_TYPES = {".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


class Section(BaseModel):
    """A config section: immutable, and unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteSettings(Section):
    """``site``: how the published site and its feeds describe themselves."""

    # the site's name: page titles, feed titles ("<title>: <topic>") and the digest's
    # masthead
    title: str = Field(min_length=1)
    # the public http(s) address where output/ is served (no query or fragment)
    base_url: str
    # the all-topics feed's subtitle and the index page's tagline
    description: str = ""
    # the language of feeds and pages (a BCP 47 tag such as en or de-CH); also picks the
    # stemmer that compares story titles
    language: str = "en"
    # a square image (PNG, JPEG or GIF; 256×256 or larger) that feed readers show beside
    # the feeds and browsers beside the pages: Atom icon and logo, RSS image, JSON Feed
    # icon and favicon. Copied to output/ as icon.<ext> (null: none)
    icon: Path | None = None

    @field_validator("icon")
    @classmethod
    def _image_kind(cls, value: Path | None) -> Path | None:
        if value is not None and value.suffix.lower() not in ICON_TYPES:
            kinds = ", ".join(sorted(ICON_TYPES))
            raise ValueError(f"{value} must be an image RSS readers take ({kinds})")
        return value

    @property
    def icon_name(self) -> str | None:
        """The icon's file name in output/ (None: no icon)."""
        return None if self.icon is None else "icon" + self.icon.suffix.lower()

    @property
    def icon_url(self) -> str | None:
        """The icon's public URL (None: no icon)."""
        name = self.icon_name
        return None if name is None else f"{self.base_url}/{name}"

    @field_validator("title")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in value):
            raise ValueError("must be one line of text, without control characters")
        return value

    @field_validator("base_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        url = check_url(value)
        if url is None or "?" in url or "#" in url:
            raise ValueError("must be an absolute http(s) URL without query or fragment")
        return url.rstrip("/")


class ContentSettings(Section):
    """``content``: where the records and topic files are."""

    # the folder of records (read recursively; Markdown files with YAML front matter)
    news: Path = Path("content/news")
    # the folder of topic files; it must exist (null: the topics are only those under topics
    # in this file)
    topics: Path | None = Path("content/topics")


class RuleSettings(Section):
    """``rules`` (global) or a topic's ``rules`` (overrides; unset keys inherit)."""

    # skip records with published: false
    published_only: bool | None = None
    # skip records whose quality is lower (null: no floor)
    min_quality: int | None = None
    # skip records older than this many days (null: no limit)
    max_age_days: float | None = Field(default=None, gt=0)
    # the newest N stories per feed (older ones go to the archive pages when archives are
    # on)
    max_items: int | None = Field(default=None, ge=1, le=10_000)
    # assign records to topics by the topics' keywords too, not only by their topics list
    match_keywords: bool | None = None
    # records of one story (same URL, matching titles, or one event told in the same words)
    # published up to this many days apart (chaining) are one story; site-wide, not per
    # topic
    story_window_days: float | None = Field(default=None, ge=0, le=366)
    # show a record's related entries that are other stories, as "Related"
    show_related: bool | None = None

    def over(self, base: Rules) -> Rules:
        """These settings applied on top of ``base``."""
        from feeds.selection.collector import Rules

        values = {k: v for k, v in self.model_dump().items() if k in self.model_fields_set}
        return Rules(**{**_rules_dict(base), **values})


def _rules_dict(rules: Rules) -> dict[str, Any]:
    return {name: getattr(rules, name) for name in type(rules).__slots__}


class LimitSettings(Section):
    """``limits``: bounds that keep one hostile record from exhausting memory."""

    # larger record files are rejected without being read
    max_record_bytes: int = Field(default=1_048_576, ge=1_024, le=1_073_741_824)
    # longer excerpts are cut at a word
    max_excerpt_chars: int = Field(default=5_000, ge=100, le=1_000_000)
    # longer titles are cut at a word
    max_title_chars: int = Field(default=500, ge=20, le=10_000)

    def limits(self, language: str = "en") -> Limits:
        """The parser's ``Limits`` value (for records in ``language``)."""
        from feeds.reading.records import Limits

        return Limits(self.max_record_bytes, self.max_excerpt_chars, self.max_title_chars, language)


class ArchiveSettings(Section):
    """``archives``: RFC 5005 archive documents for items older than ``max_items``."""

    # write RFC 5005 archive pages for the items older than max_items
    enabled: bool = False
    # items per archive page
    page_size: int = Field(default=50, ge=5, le=1_000)


class WebSubSettings(Section):
    """``websub``: hubs that push feed updates to subscribers (W3C WebSub)."""

    # hub URLs every feed advertises and each build notifies of changed feeds
    hubs: list[str] = []
    # seconds to wait for a hub's answer
    timeout_seconds: float = Field(default=10, gt=0, le=120)
    # tries per ping within one build (1 s, then 2 s, ... between them)
    attempts: int = Field(default=3, ge=1, le=10)
    # pings that failed, retried by the next build
    pending: Path = Path("var/websub-pending.json")

    @field_validator("hubs")
    @classmethod
    def _hub_urls(cls, value: list[str]) -> list[str]:
        checked = []
        for hub in value:
            uri = check_url(hub)
            if uri is None:
                raise ValueError(f"{hub!r} is not an absolute http(s) URL")
            checked.append(uri)
        if len(set(checked)) != len(checked):
            raise ValueError("lists a hub twice")
        return checked


class TopicSettings(Section):
    """An entry of ``topics``: defines a topic or overrides one from a topic file."""

    # the topic's id (lower-case letters, digits, hyphens); a topic file with the same id is
    # overridden
    id: str
    # the display name (feeds, pages, the digest's section heading)
    name: str | None = None
    # a shorter name for tight places (navigation)
    shortname: str | None = None
    # the id of the parent topic: its feed includes this topic's stories
    parent: str | None = None
    # words that assign a record to this topic when rules.match_keywords is on
    keywords: list[str] | None = None
    # the topic feed's subtitle and its page's tagline
    description: str | None = None
    # any of the rules keys, overriding the global ones for this topic (story_window_days
    # excepted)
    rules: RuleSettings = RuleSettings()

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not TOPIC_ID.match(value):
            raise ValueError("must be 1-64 lower-case letters, digits and hyphens")
        return value

    @field_validator("rules")
    @classmethod
    def _site_wide(cls, value: RuleSettings) -> RuleSettings:
        if "story_window_days" in value.model_fields_set:
            raise ValueError(
                "story_window_days applies to the whole site: set it under rules, not a topic"
            )
        return value

    def definition(self) -> dict[str, Any]:
        """The topic-definition fields that this entry sets."""
        fields = ("id", "name", "shortname", "parent", "keywords", "description")
        return {k: getattr(self, k) for k in fields if getattr(self, k) is not None}


class FeedSettings(Section):
    """The settings the feed build needs."""

    # how the site describes itself
    site: SiteSettings
    # where the records and topics are
    content: ContentSettings = ContentSettings()
    # the Jinja2 templates for pages and mail; a template missing there is taken from the
    # ones feedletter ships
    templates: Path = Path("templates")
    # where the site is written (public: publish this folder)
    output: Path = Path("output")
    # the parse cache (and the record of the last build); null turns it off
    cache: Path | None = Path("var/parse-cache.sqlite3")
    rules: RuleSettings = RuleSettings()
    limits: LimitSettings = LimitSettings()
    archives: ArchiveSettings = ArchiveSettings()
    websub: WebSubSettings = WebSubSettings()
    # topics defined here, beside the topic files (an entry with a file's id
    # overrides that file's fields)
    topics: list[TopicSettings] = []
    # where the config file was read from; paths above are resolved against it
    source: Path | None = Field(default=None, exclude=True)

    def subscribe_form_url(self) -> str | None:
        """Where the pages' sign-up form posts; None: no form (the newsletter says where)."""
        return None

    def global_rules(self) -> Rules:
        """The global rules: defaults with ``rules`` applied."""
        from feeds.selection.collector import Rules

        return self.rules.over(Rules())

    def topic_rules(self) -> dict[str, Rules]:
        """Per-topic rules for the topics that override any."""
        base = self.global_rules()
        return {t.id: t.rules.over(base) for t in self.topics if t.rules.model_fields_set}


Settings = TypeVar("Settings", bound=FeedSettings)


def load_settings(path: Path, model: type[Settings]) -> Settings:
    """Read and validate the config file at ``path`` into ``model``."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError("--config", f"{path} does not exist; pass --config PATH") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("--config", f"cannot read {path}: {exc}") from None
    try:
        data = single_document(text)
    except yaml.YAMLError as exc:
        raise ConfigError("(file)", f"not valid YAML: {yaml_problem(exc)}", path) from None
    if not isinstance(data, dict):
        raise ConfigError("(file)", "must be a YAML mapping of settings", path)
    return parse_settings(data, model, path)


def parse_settings(data: dict[str, Any], model: type[Settings], path: Path) -> Settings:
    """Validate a mapping into ``model``; relative paths resolve against ``path``'s folder."""
    try:
        settings = model.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(model, err) for err in exc.errors()]
        key, problem = problems[0]
        more = "".join(f"\n  {k}: {p}" for k, p in problems[1:])
        raise ConfigError(key, problem + more, path) from None
    base = path.resolve().parent
    updates: dict[str, Any] = {"source": path}
    for name in ("templates", "output"):
        updates[name] = base / getattr(settings, name)
    if settings.cache is not None:
        updates["cache"] = base / settings.cache
    updates["websub"] = settings.websub.model_copy(
        update={"pending": base / settings.websub.pending}
    )
    if settings.site.icon is not None:
        updates["site"] = settings.site.model_copy(update={"icon": base / settings.site.icon})
    content = settings.content
    updates["content"] = content.model_copy(
        update={
            "news": base / content.news,
            "topics": base / content.topics if content.topics is not None else None,
        }
    )
    return settings.model_copy(update=updates)


def _describe(model: type[BaseModel], error: Any) -> tuple[str, str]:
    loc = [str(part) for part in error["loc"]]
    key = ".".join(loc) or "(file)"
    if error["type"] == "extra_forbidden":
        known = _fields_at(model, error["loc"][:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(known)}"
        return key, f"unknown key{hint}"
    if error["type"] == "missing":
        return key, "is required"
    got = error.get("input")
    if isinstance(got, str):
        got = _URL_PASSWORD.sub(r"\1***\2", got)  # never print a password from a URL
    shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
    return key, f"{error['msg']}{shown}"


# the password in a URL's user information: scheme://user:PASSWORD@host
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][\w+.-]*://[^:/@\s]*:)[^@/\s]*(@)")


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        current = next(
            (a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)),
            None,
        )
        if current is None:
            return []
    return [f.alias or n for n, f in current.model_fields.items() if not f.exclude]
