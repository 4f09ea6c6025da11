"""The digest's files: one folder per issue, plus the archive index and its Atom feed.

``issue_files`` turns a rendered issue into bytes: the public ones, published in
``output/``, and the private ones, kept in the state folder (``state.issues``),
because ``output/`` is published as it is and the message templates hold raw
per-recipient placeholders. ``archive_files`` lists every issue found in the
state folder (each issue's ``issue.json``) as an HTML index and an Atom feed
whose dates come from the issues, never from the clock. Writing is left to
``feeds.publishing.output.write_tree``, so the digest gets the same atomic, byte-stable
writes as the feeds::

    output/newsletter/index.html             every issue, newest first
    output/newsletter/atom.xml               Atom feed of issues
    output/newsletter/<issue-id>/index.html  web copy ("view in browser")
    var/issues/<issue-id>/email.html         the HTML part, inlined, with placeholders
    var/issues/<issue-id>/email.txt          the text part, with placeholders
    var/issues/<issue-id>/sample.eml         the whole message for a sample recipient
    var/issues/<issue-id>/issue.json         metadata the index is built from
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from feeds import __version__
from feeds.config import SiteSettings
from feeds.rendering.templating import render
from feeds.urls import join, story_key
from newsletter.config import NewsletterSettings
from newsletter.issue.marks import IN_REVIEW, SKIPPED
from newsletter.issue.message import PreparedMessage
from newsletter.issue.plan import Period, story_ref
from newsletter.issue.render import RenderedIssue, archive_path

if TYPE_CHECKING:
    from jinja2 import Environment

ARCHIVE = "newsletter/"
# an issue's files that stay in the state folder, never in output/
PRIVATE = ("email.html", "email.txt", "sample.eml", "issue.json")
SAMPLE_RECIPIENT = "reader@example.com"
_ISSUE_NAMESPACE = uuid.UUID("9d3b6c0e-2f4a-4e61-8a57-0c4f3e1b2a77")


@dataclass(frozen=True, slots=True)
class Listed:
    """One story of an issue, as its ``issue.json`` lists it (for the editors)."""

    # the short name editors use (``plan.story_ref``)
    ref: str
    # the story key (``Article.key``): what dropping it records
    key: str
    title: str
    # "Top stories" or the topic's name
    section: str


@dataclass(frozen=True, slots=True)
class IssueInfo:
    """What the archive knows of one issue (its ``issue.json``)."""

    id: str
    subject: str
    preheader: str
    # last day covered, ISO date
    date: str
    # start of the period (exclusive), ISO timestamp (UTC)
    start: str
    # end of the period (inclusive), ISO timestamp (UTC)
    end: str
    stories: int
    url: str
    # the time zone whose calendar days the period covers (older issues: UTC)
    timezone: str = "UTC"
    # "review" (waiting for the editors: not listed yet), "skipped" (listed as not
    # sent), or "" (every other issue)
    status: str = ""
    # its stories in reading order (older issues: none listed)
    toc: tuple[Listed, ...] = ()

    @property
    def period(self) -> Period:
        return Period(self.start_time, self.end_time, ZoneInfo(self.timezone))

    @property
    def end_time(self) -> datetime:
        return datetime.fromisoformat(self.end).astimezone(UTC)

    @property
    def start_time(self) -> datetime:
        return datetime.fromisoformat(self.start).astimezone(UTC)


def sample_unsubscribe_url(site: SiteSettings) -> str:
    """The unsubscribe link shown in the sample message (a real one is signed per recipient)."""
    return join(site.base_url, "unsubscribe?token=sample")


TOP_STORIES = "Top stories"


def contents(issue: RenderedIssue) -> tuple[Listed, ...]:
    """The issue's stories, in reading order, with their section."""
    plan = issue.plan
    sections = [(TOP_STORIES, plan.top.items)]
    sections += [(s.topic.name if s.topic else TOP_STORIES, s.items) for s in plan.sections]
    return tuple(
        Listed(story_ref(item.article.key), item.article.key, item.article.title, name)
        for name, items in sections
        for item in items
    )


def issue_info(issue: RenderedIssue, status: str = "") -> IssueInfo:
    period = issue.plan.period
    return IssueInfo(
        id=issue.issue_id,
        subject=issue.subject,
        preheader=issue.preheader,
        date=period.last_day.isoformat(),
        start=period.start.isoformat(),
        end=period.end.isoformat(),
        stories=len(issue.plan.items),
        url=issue.archive_url,
        timezone=str(period.zone),
        status=status,
        toc=contents(issue),
    )


def issue_files(
    issue: RenderedIssue, settings: NewsletterSettings, site: SiteSettings, status: str = ""
) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """An issue's files: (public, under output/; private, under the issues folder)."""
    # the bytes `send` would send (PreparedMessage), for a sample recipient
    sample, _ = PreparedMessage(issue, settings, site).message(
        SAMPLE_RECIPIENT,
        sample_unsubscribe_url(site),
        issue.plan.period.end,
        join(site.base_url, "preferences?token=sample"),
    )
    folder = f"{issue.issue_id}/"
    public = {f"{archive_path(issue.issue_id)}index.html": issue.web_html.encode()}
    private = {
        f"{folder}email.html": issue.html.encode(),
        f"{folder}email.txt": issue.text.encode(),
        f"{folder}sample.eml": sample,
        **info_file(issue_info(issue, status)),
    }
    return public, private


def info_file(info: IssueInfo) -> dict[str, bytes]:
    """``<id>/issue.json``, the issue's metadata, as the issues folder holds it."""
    data: dict[str, object] = {name: getattr(info, name) for name in IssueInfo.__slots__}
    data["toc"] = [{name: getattr(s, name) for name in Listed.__slots__} for s in info.toc]
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return {f"{info.id}/issue.json": text.encode()}


@dataclass(frozen=True, slots=True)
class ArchivedIssue:
    """An issue's message parts as the digest filed them (``email.html``,
    ``email.txt``): what ``send`` sends for the default topics, so the mail is the
    issue that the archive and its web copy show."""

    issue_id: str
    subject: str
    # the parts, with the per-recipient placeholders
    html: str
    text: str


def read_parts(issues_folder: Path, info: IssueInfo) -> ArchivedIssue | None:
    """The filed parts of issue ``info``; None when they are missing or unreadable."""
    folder = issues_folder / info.id
    try:
        html = (folder / "email.html").read_text(encoding="utf-8")
        text = (folder / "email.txt").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return ArchivedIssue(info.id, info.subject, html, text)


def read_issues(issues_folder: Path) -> list[IssueInfo]:
    """Every issue in the issues folder; unreadable metadata is skipped."""
    issues = []
    for path in sorted(issues_folder.glob("*/issue.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            known = {f.name for f in fields(IssueInfo)}
            values = {k: v for k, v in data.items() if k in known}
            values["toc"] = tuple(Listed(**entry) for entry in values.get("toc", ()))
            issues.append(IssueInfo(**values))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return issues


def move_private_files(output: Path, issues_folder: Path) -> list[Path]:
    """Move the private files older versions wrote into output/ to the issues folder.

    A file already in the issues folder wins; the copy in output/ is removed
    either way, since output/ is published. Returns the files taken out of output/.
    """
    moved = []
    for name in PRIVATE:
        for path in sorted((output / ARCHIVE).glob(f"*/{name}")):
            target = issues_folder / path.parent.name / name
            with contextlib.suppress(OSError):
                if target.exists():
                    path.unlink()
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(path, target)
                moved.append(path)
    return moved


def archive_files(
    issues: list[IssueInfo],
    env: Environment,
    site: SiteSettings,
    subscribe_url: str | None = None,
    hubs: Sequence[str] = (),
) -> dict[str, bytes]:
    """The archive index page (with the sign-up form) and the Atom feed of issues
    (advertising the WebSub ``hubs``). An issue waiting for its editors is in
    neither; one they skipped is listed as not sent, and left out of the feed."""
    shown = {i.id: i for i in issues if i.status != IN_REVIEW}
    ordered = sorted(shown.values(), key=lambda i: (i.end, i.id), reverse=True)
    sent = [i for i in ordered if i.status != SKIPPED]
    index_url = join(site.base_url, ARCHIVE)
    atom_url = join(site.base_url, f"{ARCHIVE}atom.xml")
    page = render(
        env,
        "newsletter_index.html.j2",
        site=site,
        issues=ordered,
        atom_url=atom_url,
        opml_url=join(site.base_url, "feeds.opml"),
        subscribe_url=subscribe_url,
    )
    from feedgen.feed import FeedGenerator

    from feeds.rendering.feed import GENERATOR_URI

    fg = FeedGenerator()
    fg.id(f"urn:uuid:{uuid.uuid5(_ISSUE_NAMESPACE, story_key(index_url))}")
    fg.title(f"{site.title}: weekly digest")
    fg.subtitle(f"Every issue of the {site.title} weekly digest.")
    fg.author({"name": site.title})
    fg.language(site.language)
    fg.generator("feedletter", version=__version__, uri=GENERATOR_URI)
    for hub in hubs:
        fg.link(href=hub, rel="hub")
    fg.link(href=atom_url, rel="self", type="application/atom+xml")
    fg.link(href=index_url, rel="alternate", type="text/html")
    updated = sent[0].end_time if sent else datetime(1970, 1, 1, tzinfo=UTC)
    fg.updated(updated)
    for info in sent:
        entry = fg.add_entry(order="append")
        entry.id(f"urn:uuid:{uuid.uuid5(_ISSUE_NAMESPACE, story_key(info.url))}")
        entry.title(info.subject)
        entry.link(href=info.url, rel="alternate", type="text/html")
        entry.published(info.end_time)
        entry.updated(info.end_time)
        entry.summary(info.preheader)
    return {
        f"{ARCHIVE}index.html": page,
        f"{ARCHIVE}atom.xml": fg.atom_str(pretty=True),
    }
