"""Render one feed as JSON Feed 1.1 (https://jsonfeed.org/version/1.1).

Pure rendering, beside ``feedwriter``: the same ``FeedSpec``, articles and
categories give a JSON document whose item ids are the Atom/RSS GUIDs, so a
reader switching formats sees the same items. Keys are written in a fixed order
and the text is UTF-8 JSON, so the bytes are stable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from feeds.model import Article
from feeds.rendering.feed import EntryTopic, FeedSpec, entry_html
from feeds.urls import story_guid

VERSION = "https://jsonfeed.org/version/1.1"


def render_json_feed(
    spec: FeedSpec,
    json_url: str,
    articles: Sequence[Article],
    topics_of: Mapping[str, Sequence[EntryTopic]],
) -> bytes:
    """The JSON Feed document for one feed."""
    document: dict[str, Any] = {
        "version": VERSION,
        "title": spec.title,
        "home_page_url": spec.page_url,
        "feed_url": json_url,
        "description": spec.subtitle,
        "language": spec.language,
        "authors": [{"name": spec.site_title}],
    }
    if spec.icon:
        document["icon"] = spec.icon
        document["favicon"] = spec.icon
    if spec.hubs:
        document["hubs"] = [{"type": "WebSub", "url": hub} for hub in spec.hubs]
    document["items"] = [_item(article, topics_of.get(article.path, ())) for article in articles]
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _item(article: Article, topics: Sequence[EntryTopic]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": story_guid(article.key),
        "url": article.url,
        "title": article.title,
        "content_html": entry_html(article),
    }
    if article.excerpt:
        item["summary"] = article.excerpt
    if article.lead_image is not None:
        item["image"] = article.lead_image.url
    item["date_published"] = article.published_at.isoformat().replace("+00:00", "Z")
    if article.provider_name:
        item["authors"] = [{"name": article.provider_name}]
    if topics:
        item["tags"] = [topic.name for topic in topics]
    return item
