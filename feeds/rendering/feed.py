"""Render one topic's selection as Atom 1.0 and RSS 2.0 bytes with feedgen.

Pure rendering: a ``FeedSpec`` and a tuple of articles in, bytes out; nothing is
written to disk here. feedgen's traps are handled on purpose:
- entries are appended (its default prepends), so the feed is newest first;
- every datetime is aware UTC, and feed ``updated``/``lastBuildDate`` are the
  newest entry's date (feedgen defaults them to the build time);
- the RSS channel ``<link>`` is the last ``link()`` call, so the site page is
  added after ``rel=self``;
- feedgen 1.0.0 drops ``rel``/``type``/``length`` from Atom entry links
  (python-feedgen#135), so the lead image is a ``media:content`` element and
  entries carry exactly one link, the ``alternate`` one.

Record strings are plain text, and each is escaped for the context it lands in:
- RSS ``<description>`` and ``content:encoded``, Atom ``type="html"`` text and
  JSON Feed ``content_html`` are HTML, so plain text is HTML-escaped before
  feedgen XML-escapes it again: a reader shows "<img onerror=…>", never runs it;
- titles and subtitles are plain text, escaped once, for XML: Atom text
  constructs (``type="text"``, the default), and in RSS, where readers differ,
  "&" as a hexadecimal character reference, the RSS Best Practices Profile's mark
  of text that is not markup (categories and ``dc:creator`` the same).
  feedparser, and the readers built on it, then read "IBM & Fenergo" from Atom,
  RSS and JSON Feed alike, typed as plain text. A title with a "<" in it ("<b>
  team up</b>", "<script>") would read as markup to readers that take RSS titles
  for HTML (and the feed validator warns of it): such a title is carried as
  escaped HTML instead, ``type="html"`` in Atom, so it shows as written and runs
  nowhere.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Mapping, Sequence
from posixpath import splitext
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

from feedgen.feed import FeedGenerator
from lxml import etree
from markupsafe import Markup, escape

from feeds import __version__
from feeds.model import Article, Image
from feeds.rendering.spec import EntryTopic as EntryTopic
from feeds.rendering.spec import FeedSpec as FeedSpec
from feeds.urls import story_guid

GENERATOR_URI = "https://github.com/feedletter/feedletter"
IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".avif": "image/avif",
}


def image_type(image: Image) -> str | None:
    """The MIME type implied by an image URL's extension, if any."""
    ext = splitext(urlsplit(image.url).path)[1].lower()
    return IMAGE_TYPES.get(ext) or (mimetypes.types_map.get(ext) if ext else None)


def entry_html(article: Article) -> str:
    """The entry's HTML content: image, excerpt, "via Provider", other copies of the
    story ("Also covered by") and other stories the record lists ("Related").

    Every string from the record is escaped here.
    """
    parts: list[str] = []
    image = article.lead_image
    if image is not None:
        size = "".join(
            f' {name}="{value}"'
            for name, value in (("width", image.width), ("height", image.height))
            if value
        )
        parts.append(f'<p><img src="{escape(image.url)}" alt="{escape(article.title)}"{size}></p>')
    if article.excerpt:
        parts.append(f"<p>{escape(article.excerpt)}</p>")
    if article.provider_name:
        parts.append(
            f'<p>via <a href="{escape(article.url)}">{escape(article.provider_name)}</a></p>'
        )
    if article.coverage:
        links = ", ".join(
            f'<a href="{escape(r.url)}" title="{escape(r.title)}">{escape(r.source)}</a>'
            for r in article.coverage
        )
        parts.append(f"<p>Also covered by {links}</p>")
    if article.see_also:
        links = "; ".join(
            f'<a href="{escape(r.url)}">{escape(r.title)}</a> ({escape(r.source)})'
            for r in article.see_also
        )
        parts.append(f"<p>Related: {links}</p>")
    return str(Markup("\n".join(parts)))


def render_feed(
    spec: FeedSpec,
    articles: Sequence[Article],
    topics_of: Mapping[str, Sequence[EntryTopic]],
) -> tuple[bytes, bytes]:
    """Atom and RSS bytes for one feed; ``topics_of`` maps article path to categories."""
    fg = FeedGenerator()
    fg.load_extension("media")
    fg.load_extension("dc", atom=False, rss=True)
    fg.id(spec.feed_id)
    fg.author({"name": spec.site_title})
    fg.language(spec.language)
    fg.generator("feedletter", version=__version__, uri=GENERATOR_URI)
    fg.updated(spec.updated)
    fg.lastBuildDate(spec.updated)
    # rel=self and the site page last: RSS's channel <link> is the last link() call
    for rel, href in spec.links:
        fg.link(href=href, rel=rel, type="application/atom+xml")
    for hub in spec.hubs:
        fg.link(href=hub, rel="hub")
    fg.link(href=spec.atom_url, rel="self", type="application/atom+xml")
    fg.link(href=spec.page_url, rel="alternate", type="text/html")
    if spec.icon:
        fg.icon(spec.icon)
        fg.image(spec.icon)  # also the Atom logo; RSS takes the channel's title and link
    for article in articles:
        _add_entry(fg, article, topics_of.get(article.path, ()))
    # titles and subtitles are plain text, or escaped HTML when they hold a "<"
    fg.title(title_text(spec.title))
    fg.subtitle(title_text(spec.subtitle))
    atom = _ATOM_HTML.sub(rb'<\1 type="html">\2</\1>', fg.atom_str(pretty=True))
    if spec.archive:
        atom = _mark_archive(atom)
    # Same generator, RSS's own self link (and no archive links: RFC 5005 for Atom only).
    fg.link(href=spec.rss_url, rel="self", type="application/rss+xml", replace=True)
    fg.link(href=spec.page_url, rel="alternate", type="text/html")
    rss = _RSS_TEXT.sub(_hex_references, fg.rss_str(pretty=True))
    if spec.hubs:
        rss = add_rss_hubs(rss, spec.hubs)
    return atom, rss


def add_rss_hubs(rss: bytes, hubs: Sequence[str]) -> bytes:
    """``<atom:link rel="hub">`` for each hub after the channel's self link.

    feedgen writes only the self ``atom:link`` in RSS; the hub links go right
    after it, at its indentation, so the rest of the bytes stay feedgen's.
    """
    match = _RSS_SELF.search(rss)
    if match is None:
        raise ValueError("RSS without a self atom:link")
    indent = match.group(1)
    links = b"".join(
        indent + b"<atom:link href=" + quoteattr(hub).encode() + b' rel="hub"/>' for hub in hubs
    )
    return rss[: match.end()] + links + rss[match.end() :]


def html_text(value: str) -> str:
    """Plain text as HTML that shows exactly that text."""
    return str(escape(value))


def title_text(value: str) -> str:
    """A title as feedgen gets it: the plain text, or, when it holds a "<" that readers
    could take for markup, HTML that shows it (marked ``type="html"`` in Atom)."""
    return html_text(value) if "<" in value else value


# the RSS channel's self link as feedgen writes it, with the newline before it
_RSS_SELF = re.compile(rb'(\n[ ]*)<atom:link href="[^"]*" rel="self"[^>]*/>')
# Atom titles that ``title_text`` made HTML: only they hold an escaped "<" ("&amp;lt;")
_ATOM_HTML = re.compile(rb"<(title|subtitle)>([^<]*&amp;lt;[^<]*)</\1>")
# RSS elements the RSS Best Practices Profile reads as plain text
_RSS_TEXT = re.compile(rb"(<(title|description|category|dc:creator)\b[^>]*>)([^<]*)(</\2>)")


def _hex_references(match: re.Match[bytes]) -> bytes:
    # the same characters to an XML parser, and the profile's mark of plain text
    text = match.group(3).replace(b"&amp;", b"&#x26;").replace(b"&lt;", b"&#x3C;")
    return match.group(1) + text + match.group(4)


FH = "http://purl.org/syndication/history/1.0"


def _mark_archive(atom: bytes) -> bytes:
    """Add RFC 5005's <fh:archive/> marker to an Atom document."""
    root = etree.fromstring(atom)
    marker = etree.Element(f"{{{FH}}}archive", nsmap={"fh": FH})
    root.insert(0, marker)
    etree.cleanup_namespaces(root, top_nsmap={"fh": FH})
    return bytes(etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8"))


def _add_entry(fg: FeedGenerator, article: Article, topics: Sequence[EntryTopic]) -> None:
    fe = fg.add_entry(order="append")
    guid = story_guid(article.key)
    fe.id(guid)
    fe.guid(guid, permalink=False)
    fe.title(title_text(article.title))
    fe.link(href=article.url, rel="alternate", type="text/html")
    fe.published(article.published_at)
    fe.updated(article.published_at)
    if article.excerpt:
        # HTML in both: Atom <summary type="html"> and RSS <description>
        fe.summary(html_text(article.excerpt), type="html")
    content = entry_html(article)
    if content:  # an empty content element says nothing (and validators warn)
        fe.content(content, type="html")
    if article.provider_name:
        fe.author({"name": article.provider_name})
        fe.dc.dc_creator(article.provider_name)
    for topic in topics:
        fe.category(term=topic.name, scheme=topic.url)
    image = article.lead_image
    if image is not None:
        media: dict[str, str] = {"url": image.url, "medium": "image", "group": None}  # type: ignore[dict-item]
        kind = image_type(image)
        if kind:
            media["type"] = kind
        if image.width:
            media["width"] = str(image.width)
        if image.height:
            media["height"] = str(image.height)
        fe.media.content(media)
