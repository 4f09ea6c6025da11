"""What a feed says about itself and what its entries are filed under: plain
values, apart from the renderers so that a build can tell whether a feed must
be rendered again without importing feedgen or lxml (``feeds.build.memo``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """Everything about one feed that is not its entries."""

    # permanent feed id (Atom <id>)
    feed_id: str
    # feed title
    title: str
    # feed subtitle (Atom) / channel description (RSS); never empty
    subtitle: str
    # the human page this feed belongs to (channel <link>, Atom rel=alternate)
    page_url: str
    # absolute URL of the Atom file (rel=self in the Atom feed)
    atom_url: str
    # absolute URL of the RSS file (atom:link rel=self in the RSS feed)
    rss_url: str
    # language tag, e.g. "en"
    language: str
    # the feed's "updated" time: newest entry, or a fixed fallback when empty
    updated: datetime
    # site title, used as the feed-level author (Atom needs one)
    site_title: str
    # extra Atom links, (rel, href): RFC 5005 current / prev-archive / next-archive
    links: tuple[tuple[str, str], ...] = ()
    # True for an RFC 5005 archive document (gets <fh:archive/>)
    archive: bool = False
    # WebSub hubs this feed advertises (rel="hub"), each a URI
    hubs: tuple[str, ...] = ()
    # the site's square icon (Atom icon and logo, RSS image, JSON Feed icon), a URI
    icon: str | None = None


@dataclass(frozen=True, slots=True)
class EntryTopic:
    """A topic an entry is filed under (one category each)."""

    # display name: the category term, which RSS readers show
    name: str
    # the topic's page (the category scheme in Atom, domain in RSS)
    url: str
