"""Render an ``IssuePlan`` into the email's HTML and text parts and the web copy.

Jinja2 renders ``templates/digest.html.j2`` and ``digest.txt.j2``; premailer
inlines the CSS (keeping ``!important`` in the media queries, which cannot be
inlined and stay in a ``<style>`` block). This is the expensive step, so it runs
once per issue (and per distinct topic set), never per recipient: per-recipient
values are left as placeholders that ``newsletter.issue.message`` fills at send time.

When the inlined HTML would exceed ``newsletter.max_html_bytes``, the lowest-
ranked stories are dropped until it fits (``IssuePlan.trimmed`` says how many).
Rendering only; nothing is written or sent here.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from feeds.config import SiteSettings
from feeds.model import Article, Image
from feeds.rendering.templating import render
from feeds.text import clean_text, truncate
from feeds.urls import join, with_query
from newsletter.config import NewsletterSettings
from newsletter.issue.plan import DigestItem, IssuePlan, trim

if TYPE_CHECKING:
    from jinja2 import Environment

# Per-recipient placeholders: plain ASCII words that survive escaping and inlining.
RECIPIENT = "FEEDLETTER-RECIPIENT-ADDRESS"
UNSUBSCRIBE_URL = "https://feedletter.invalid/FEEDLETTER-UNSUBSCRIBE-URL"
PREFERENCES_URL = "https://feedletter.invalid/FEEDLETTER-PREFERENCES-URL"
# Lead images are shown at most this wide (600 px minus the story padding).
IMAGE_MAX_WIDTH = 552
# Lead images are shown only when height / width lies in this range (landscape).
MIN_ASPECT, MAX_ASPECT = 0.3, 0.8
EXCERPT_CHARS_LEAD = 400
EXCERPT_CHARS = 260


@dataclass(frozen=True, slots=True)
class ImageView:
    """An image as the email shows it: absolute URL and display size."""

    url: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class LinkView:
    """A labelled link: another copy of the story (its source), or a related story
    (its title and source)."""

    name: str
    url: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class StoryView:
    """One story as the templates see it; URLs already carry UTM parameters."""

    title: str
    url: str
    provider: str | None
    date: str
    excerpt: str
    image: ImageView | None
    # other publications' copies of the story ("Also covered by")
    related: tuple[LinkView, ...]
    # other stories the record lists ("Related"; rules.show_related)
    see_also: tuple[LinkView, ...] = ()


@dataclass(frozen=True, slots=True)
class SectionView:
    """A topic section as the templates see it."""

    name: str
    items: tuple[StoryView, ...]


@dataclass(frozen=True)
class RenderedIssue:
    """One issue, rendered: the parts of the message, with placeholders, and the web copy."""

    # the plan that was rendered (after any trimming for size)
    plan: IssuePlan
    # Subject header (one line)
    subject: str
    # the hidden preview line
    preheader: str
    # the email's HTML part, CSS inlined, per-recipient placeholders in place
    html: str
    # the email's text part, per-recipient placeholders in place
    text: str
    # the archived web copy (no per-recipient parts), CSS inlined
    web_html: str
    # public URL of the web copy
    archive_url: str

    @property
    def issue_id(self) -> str:
        return self.plan.period.issue_id


def archive_path(issue_id: str) -> str:
    """Folder of an issue under ``output/``."""
    return f"newsletter/{issue_id}/"


def display_date(article: Article) -> str:
    return f"{article.published_at:%-d %b %Y}"


def _image(image: Image | None) -> ImageView | None:
    """The lead image at display size, if it has a known, landscape size.

    Every image in the email has a width and a height; portrait and extreme
    shapes are left out because they would fill a phone screen.
    """
    if image is None or not image.width or not image.height:
        return None
    if not MIN_ASPECT <= image.height / image.width <= MAX_ASPECT:
        return None
    width = min(image.width, IMAGE_MAX_WIDTH)
    return ImageView(image.url, width, max(round(image.height * width / image.width), 1))


def story_view(item: DigestItem, lead: bool, utm: dict[str, str] | None) -> StoryView:
    article = item.article

    def link(url: str) -> str:
        return with_query(url, utm) if utm else url

    related = {r.source: LinkView(r.source, link(r.url)) for r in article.coverage}
    see_also = tuple(LinkView(r.source, link(r.url), r.title) for r in article.see_also)
    return StoryView(
        title=article.title,
        url=link(article.url),
        provider=article.provider_name,
        date=display_date(article),
        excerpt=truncate(article.excerpt, EXCERPT_CHARS_LEAD if lead else EXCERPT_CHARS),
        image=_image(article.lead_image) if lead else None,
        related=tuple(related.values()),
        see_also=see_also,
    )


def utm_parameters(settings: NewsletterSettings, issue_id: str) -> dict[str, str] | None:
    """The campaign parameters added to article links, or None when switched off."""
    if not settings.utm.enabled:
        return None
    return {
        "utm_source": settings.utm.source,
        "utm_medium": settings.utm.medium,
        "utm_campaign": issue_id,
    }


def issue_date(plan: IssuePlan) -> str:
    return f"{plan.period.last_day:%-d %B %Y}"


def subject_line(settings: NewsletterSettings, site: SiteSettings, plan: IssuePlan) -> str:
    """The Subject: the configured template, filled, on one line."""
    text = settings.subject.format(
        site=site.title, date=issue_date(plan), issue=plan.period.issue_id
    )
    return truncate(clean_text(text), 200)


def preheader(plan: IssuePlan) -> str:
    """The preview line: the top stories' headlines."""
    titles = [i.article.title for i in (plan.top.items or plan.items[:3])]
    if not titles:
        return "No new stories in this period."
    return truncate("Top stories: " + " · ".join(titles), 150)


def inline_css(html: str) -> str:
    """Inline the <style> block with premailer; media queries keep ``!important``."""
    import premailer  # only when an issue is rendered: it loads cssutils, lxml

    return str(
        premailer.Premailer(
            html,
            strip_important=False,
            keep_style_tags=False,
            allow_network=False,
            allow_loading_external_files=False,
            disable_validation=True,
            cssutils_logging_level=logging.CRITICAL,
        ).transform()
    )


def _context(
    plan: IssuePlan, site: SiteSettings, settings: NewsletterSettings, archive_url: str
) -> dict[str, Any]:
    utm = utm_parameters(settings, plan.period.issue_id)
    return {
        "site": site,
        "site_url": site.base_url + "/",
        "subject": subject_line(settings, site, plan),
        "preheader": preheader(plan),
        "issue_id": plan.period.issue_id,
        "issue_date": issue_date(plan),
        "period_days": settings.period_days,
        "story_count": len(plan.items),
        "archive_url": archive_url,
        "footer": settings.footer_for(site.title, urlsplit(site.base_url).hostname or ""),
        "top": [story_view(i, True, utm) for i in plan.top.items],
        "sections": [
            SectionView(s.topic.name, tuple(story_view(i, False, utm) for i in s.items))
            for s in plan.sections
            if s.topic is not None
        ],
        "recipient": RECIPIENT,
        "unsubscribe_url": UNSUBSCRIBE_URL,
        "preferences_url": PREFERENCES_URL,
    }


def render_issue(
    plan: IssuePlan, env: Environment, site: SiteSettings, settings: NewsletterSettings
) -> RenderedIssue:
    """Render and inline ``plan``, trimming stories until the HTML fits the budget."""
    archive_url = join(site.base_url, archive_path(plan.period.issue_id))
    while True:
        context = _context(plan, site, settings, archive_url)
        html = inline_css(render(env, "digest.html.j2", web=False, **context).decode())
        size = len(html.encode())
        if size <= settings.max_html_bytes or not plan.items:
            break
        # drop about as many stories as the excess is worth, then measure again
        excess = math.ceil((size - settings.max_html_bytes) / (size / len(plan.items)))
        for _ in range(max(1, excess)):
            plan = trim(plan) or plan
    text = render(env, "digest.txt.j2", web=False, **context).decode()
    web_html = inline_css(render(env, "digest.html.j2", web=True, **context).decode())
    return RenderedIssue(
        plan=plan,
        subject=context["subject"],
        preheader=context["preheader"],
        html=html,
        text=text,
        web_html=web_html,
        archive_url=archive_url,
    )
