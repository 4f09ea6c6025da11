"""Where each output lives: relative paths under ``output/`` and public URLs.

The one place that knows the output layout, so the feed writer, the site pages,
the OPML file and (later) the digest agree on every path and URL::

    index.html                      site index (all topics)
    atom.xml, rss.xml, feed.json    all-topics feeds
    feeds.opml                      every feed, for feed-reader import
    topics/<id>/index.html          topic page (the feeds' channel link)
    topics/<id>/atom.xml, rss.xml   the topic's feeds
    .../feed.json                   JSON Feed 1.1 beside every atom.xml
    .../archive/<n>.xml             RFC 5005 archive documents (when enabled)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from feeds.urls import join, story_key

OPML_PATH = "feeds.opml"
_FEED_NAMESPACE = uuid.UUID("0b7f3f6e-8c1d-4c57-a3a5-3c2f8e9d6b21")


@dataclass(frozen=True, slots=True)
class FeedLocation:
    """Paths and URLs of one feed pair and its page."""

    # the topic's id, or None for the all-topics feed
    topic_id: str | None
    # page path relative to output/
    page_path: str
    # Atom file path relative to output/
    atom_path: str
    # RSS file path relative to output/
    rss_path: str
    # JSON Feed file path relative to output/
    json_path: str
    # public URL of the page
    page_url: str
    # public URL of the Atom file
    atom_url: str
    # public URL of the RSS file
    rss_url: str
    # public URL of the JSON Feed file
    json_url: str
    # permanent Atom feed id; independent of the URL scheme
    feed_id: str
    # folder of the RFC 5005 archive documents, relative to output/
    archive_folder: str
    # public URL of that folder
    archive_url: str

    def archive_page_path(self, number: int) -> str:
        """Path of archive document ``number`` (1 is the oldest)."""
        return f"{self.archive_folder}{number}.xml"

    def archive_page_url(self, number: int) -> str:
        """Public URL of archive document ``number``."""
        return f"{self.archive_url}{number}.xml"


def locate(base_url: str, topic_id: str | None) -> FeedLocation:
    """The location of the all-topics feed (None) or of one topic's feed."""
    folder = f"topics/{topic_id}/" if topic_id is not None else ""
    page_url = join(base_url, folder) if folder else base_url + "/"
    name = f"{story_key(base_url)}/{folder}"
    return FeedLocation(
        topic_id=topic_id,
        page_path=f"{folder}index.html",
        atom_path=f"{folder}atom.xml",
        rss_path=f"{folder}rss.xml",
        json_path=f"{folder}feed.json",
        page_url=page_url,
        atom_url=join(base_url, f"{folder}atom.xml"),
        rss_url=join(base_url, f"{folder}rss.xml"),
        json_url=join(base_url, f"{folder}feed.json"),
        feed_id=f"urn:uuid:{uuid.uuid5(_FEED_NAMESPACE, name)}",
        archive_folder=f"{folder}archive/",
        archive_url=join(base_url, f"{folder}archive/"),
    )


def opml_url(base_url: str) -> str:
    """Public URL of the OPML file."""
    return join(base_url, OPML_PATH)
