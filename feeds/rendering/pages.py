"""The human side of the output: the index page, topic pages and the OPML list.

Rendered with Jinja2 from the project's ``templates/`` folder through the one
environment of ``templating`` (autoescaping on, so every string from a record or
a topic file is escaped). Pure rendering:
returns bytes keyed by output path; writing is ``feeds.publishing.output``'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from feeds.config import SiteSettings
from feeds.model import Article
from feeds.reading.topics import Topic
from feeds.rendering.layout import OPML_PATH, FeedLocation, opml_url
from feeds.rendering.templating import render
from feeds.selection.collector import TopicSelection

if TYPE_CHECKING:
    from jinja2 import Environment

LATEST_ON_INDEX = 5


@dataclass(frozen=True, slots=True)
class FeedPage:
    """What the templates need to show one feed."""

    # the topic, or None for the all-topics feed
    topic: Topic | None
    # display title of the feed
    title: str
    # subtitle / description
    description: str
    # paths and URLs
    location: FeedLocation
    # the feed's articles, newest first
    articles: tuple[Article, ...]
    # feed's "updated" time
    updated: datetime


def feed_page(
    topic: Topic | None,
    site: SiteSettings,
    selection: TopicSelection,
    location: FeedLocation,
    updated: datetime,
) -> FeedPage:
    """Titles and descriptions of a feed, derived once for feeds and pages alike."""
    if topic is None:
        title = site.title
        description = site.description or f"The latest news from {site.title}."
    else:
        title = f"{site.title}: {topic.name}"
        description = topic.description or f"The latest {topic.name} news from {site.title}."
    return FeedPage(topic, title, description, location, selection.articles, updated)


def render_site(
    env: Environment,
    site: SiteSettings,
    everything: FeedPage,
    pages: Sequence[FeedPage],
    subscribe_url: str | None = None,
) -> dict[str, bytes]:
    """The index page, one page per topic, and the OPML file.

    With ``subscribe_url``, every page carries a sign-up form that posts there
    (no JavaScript); a topic page's form preselects its topic.
    """
    context = {
        "site": site,
        "everything": everything,
        "pages": pages,
        "opml_url": opml_url(site.base_url),
        "latest": LATEST_ON_INDEX,
        "subscribe_url": subscribe_url,
    }
    files = {
        everything.location.page_path: render(env, "index.html.j2", **context),
        OPML_PATH: render(env, "feeds.opml.j2", **context),
    }
    for page in pages:
        files[page.location.page_path] = render(
            env, "topic.html.j2", page=page, signup_topic=page.topic, **context
        )
    return files
