"""Titles are plain text, escaped once for each format (issue 20).

A record titled "IBM & Fenergo …" (a plain "&"), and records that carry an entity
("&amp;", "&#39;"), must read the same in every format and in real readers:
feedparser and lemon24/reader on the Atom and RSS feeds, JSON Feed as parsed
JSON, the site's pages and the digest as HTML.
"""

from __future__ import annotations

import html
import json
from datetime import date
from pathlib import Path

import feedparser
from reader import make_reader

from feeds.build import build_feeds, load_project
from newsletter.config import load_config
from newsletter.issue.pipeline import issue_period, make_issue

from .conftest import NOW

TITLES = {
    "ibm-plain.md": (
        "IBM & Fenergo team up on client lifecycle management",
        "IBM & Fenergo team up",
    ),
    "ibm-entity.md": ("Contoso &amp; Fabrikam sign a cloud deal", "Contoso & Fabrikam sign"),
    "apostrophe.md": ("Northwind&#39;s low-code push reaches factories", "Northwind's low-code"),
}


def write_records(project: Path) -> dict[str, str]:
    """The three records, each a top story of the fixture's W13 issue; their titles as
    a reader must see them."""
    expected = {}
    for n, (name, (raw, start)) in enumerate(TITLES.items()):
        (project / "news" / name).write_text(
            f'---\ntitle: "{raw}"\nexcerpt: "A partnership that readers should see as text."\n'
            f"publishedDateTime: 2021-03-{28 + n}T10:00:00Z\n"
            f'webUrl: "https://titles.example/{name[:-3]}"\nquality: 189\nheat: 900\n'
            f"provider:\n  name: Titles Daily {n}\ntopics:\n  - Canvas apps\n---\n"
        )
        expected[f"https://titles.example/{name[:-3]}"] = html.unescape(raw)
        assert expected[f"https://titles.example/{name[:-3]}"].startswith(start)
    return expected


def test_titles_read_the_same_in_every_format_and_reader(fixture_project: Path) -> None:
    expected = write_records(fixture_project)
    config = load_config(fixture_project / "config.yaml")
    build_feeds(config, NOW)
    feed = config.output / "topics" / "canvas-apps"
    for name in ("atom.xml", "rss.xml"):
        parsed = feedparser.parse((feed / name).read_bytes())
        got = {e.link: (e.title, e.title_detail.type) for e in parsed.entries if e.link in expected}
        assert got == {url: (title, "text/plain") for url, title in expected.items()}, name
        raw = (feed / name).read_text()
        assert "&amp;amp;" not in raw and "&#x26;amp;" not in raw  # escaped once
    items = json.loads((feed / "feed.json").read_text())["items"]
    assert {i["url"]: i["title"] for i in items if i["url"] in expected} == expected
    # lemon24/reader, a feed reader library, as a reader's app would use it
    for name in ("atom.xml", "rss.xml"):
        with make_reader(":memory:", feed_root=str(feed)) as reader:
            reader.add_feed(f"file:{name}")
            reader.update_feeds()
            got = {e.link: e.title for e in reader.get_entries() if e.link in expected}
        assert got == expected, name
    # the pages and the digest: the text, HTML-escaped once
    page = (feed / "index.html").read_text()
    issue = make_issue(load_project(config), config, issue_period(config, date(2021, 4, 2)))
    for title in expected.values():
        assert str(html.escape(title, quote=False)) in page.replace("&#39;", "'")
        assert title in issue.text
        assert html.escape(title, quote=False) in issue.html.replace("&#39;", "'")
