"""JSON Feed 1.1 beside every Atom feed: the spec's required fields and types, and
item ids equal to the Atom/RSS GUIDs."""

from __future__ import annotations

import json
from datetime import datetime

import feedparser

from feeds.build import BuildResult
from feeds.rendering.layout import locate


def rfc3339(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert moment.tzinfo is not None
    return moment


def test_every_json_feed_follows_the_spec_and_matches_atom(sample_build: BuildResult) -> None:
    assert sample_build.selection is not None
    out = sample_build.project.settings.output if sample_build.project else None
    assert out is not None
    base = sample_build.project.settings.site.base_url if sample_build.project else ""
    for item in (sample_build.selection.everything, *sample_build.selection.topics):
        location = locate(base, item.topic_id)
        document = json.loads((out / location.json_path).read_bytes())
        # top level: version and title required; items required, an array
        assert document["version"] == "https://jsonfeed.org/version/1.1"
        assert isinstance(document["title"], str) and document["title"]
        assert document["feed_url"] == location.json_url
        assert document["home_page_url"] == location.page_url
        assert isinstance(document["description"], str)
        assert all(isinstance(a["name"], str) for a in document["authors"])
        items = document["items"]
        assert isinstance(items, list) and len(items) == len(item.articles)
        atom = feedparser.parse((out / location.atom_path).read_bytes())
        assert [i["id"] for i in items] == [e.id for e in atom.entries]
        for entry, article in zip(items, item.articles, strict=True):
            assert isinstance(entry["id"], str) and entry["id"].startswith("urn:uuid:")
            assert entry["url"] == article.url
            assert entry["title"] == article.title
            assert isinstance(entry["content_html"], str) and entry["content_html"]
            assert rfc3339(entry["date_published"]) == article.published_at
            if article.lead_image:
                assert entry["image"] == article.lead_image.url
            if "authors" in entry:
                assert entry["authors"] == [{"name": article.provider_name}]
            assert all(isinstance(t, str) for t in entry.get("tags", []))
            assert set(entry) <= {
                "id",
                "url",
                "title",
                "content_html",
                "summary",
                "image",
                "date_published",
                "authors",
                "tags",
            }


def test_pages_advertise_the_json_feed(sample_build: BuildResult) -> None:
    assert sample_build.project is not None
    out = sample_build.project.settings.output
    index = (out / "index.html").read_text()
    assert 'type="application/feed+json"' in index
    assert index.count("feed.json") >= 16  # a link and an autodiscovery tag per feed
