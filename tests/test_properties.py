"""Property-based: any record whose YAML parses gives feeds that parse, and its
text survives the round trip through feedparser after sanitising."""

from __future__ import annotations

import contextlib
import html
from datetime import UTC, datetime

import feedparser
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.errors import RecordError
from feeds.reading.records import parse_record
from feeds.rendering.feed import EntryTopic, FeedSpec, render_feed
from feeds.text import clean_text

# any Unicode, controls and surrogates included
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=80)
good_urls = st.builds(
    lambda scheme, path: f"{scheme}://example.com/{path}",
    st.sampled_from(["http", "https", "HTTPS"]),
    st.text("abcxyz019-_/.~%?=&", max_size=30),
)
urls = st.one_of(
    good_urls,
    any_text,
    st.sampled_from(["javascript:alert(1)", "data:,x", "/relative", "https://a.example/<x>"]),
)
records = st.fixed_dictionaries(
    {
        "title": any_text.filter(lambda t: clean_text(t) != ""),
        "excerpt": any_text,
        "webUrl": good_urls,
        "publishedDateTime": st.datetimes(
            min_value=datetime(1960, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        ),
        "quality": st.integers(-10, 200),
        "provider": st.fixed_dictionaries({"name": any_text}),
        "topics": st.lists(any_text, max_size=3),
        "images": st.lists(
            st.fixed_dictionaries(
                {"url": urls, "width": st.integers(-5, 5000), "height": st.integers(-5, 5000)}
            ),
            max_size=2,
        ),
        "related": st.lists(
            st.fixed_dictionaries(
                {
                    "title": any_text.filter(lambda t: clean_text(t) != ""),
                    "webUrl": good_urls,
                    "provider": st.fixed_dictionaries({"name": any_text}),
                }
            ),
            max_size=2,
        ),
    }
)
ATOM = "{http://www.w3.org/2005/Atom}"
SPEC = FeedSpec(
    feed_id="urn:uuid:00000000-0000-0000-0000-000000000000",
    title="Property",
    subtitle="Generated records",
    page_url="https://feeds.example/",
    atom_url="https://feeds.example/atom.xml",
    rss_url="https://feeds.example/rss.xml",
    language="en",
    updated=datetime(2024, 1, 1, tzinfo=UTC),
    site_title="Property",
)


def as_feedparser_reads(text: str) -> str:
    """``text`` after feedparser's repair of what it takes for mis-decoded UTF-8 (it
    re-decodes Latin-1 that is valid UTF-8: a literal "Â¡" reads as "¡"), and of
    Windows-1252 code points (feedparser/mixin.py, ``pop``)."""
    from feedparser.html import _cp1252

    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_cp1252)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records)
def test_generated_records_give_parseable_feeds_whose_text_survives(
    record: dict[str, object],
) -> None:
    try:
        text = "---\n" + yaml.safe_dump(record, allow_unicode=True) + "---\n"
    except yaml.YAMLError:
        return  # not representable as YAML at all
    try:
        article = parse_record(text, "news/generated.md")
    except RecordError as exc:
        # only two things reject these records: the date range, and lone
        # surrogates, which safe_dump writes as escapes that YAML cannot read back
        assert "is outside 1970-9000" in exc.reason or "invalid Unicode" in exc.reason, exc.reason
        return
    topics = {article.path: [EntryTopic("Topic <&>", "https://feeds.example/t/")]}
    atom, rss = render_feed(SPEC, [article], topics)
    for data in (atom, rss):
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        (entry,) = parsed.entries
        assert entry.link == article.url
        assert article.url.startswith(("https://", "http://"))
    # text fidelity, read with a strict XML parser (feedparser "repairs" text it
    # takes for mis-decoded UTF-8, such as a literal "Â¡")
    atom_entry = etree.fromstring(atom).find(f"{ATOM}entry")
    rss_item = etree.fromstring(rss).find("channel/item")
    assert atom_entry is not None and rss_item is not None
    # titles are plain text, escaped once for XML; one with a "<" in it is HTML that
    # shows it (type="html" in Atom), so no reader can take it for markup
    title = atom_entry.findtext(f"{ATOM}title") or ""
    kind = atom_entry.find(f"{ATOM}title").get("type")  # type: ignore[union-attr]
    assert title == rss_item.findtext("title")
    if "<" in article.title:
        assert kind == "html" and "<" not in title and html.unescape(title) == article.title
    else:
        assert kind is None and title == article.title  # a text construct: the text itself
        assert feedparser.parse(atom).entries[0].title == as_feedparser_reads(article.title)
        assert feedparser.parse(rss).entries[0].title == as_feedparser_reads(article.title)
    assert article.title == clean_text(article.title)
    if article.excerpt:
        summary = atom_entry.findtext(f"{ATOM}summary") or ""
        assert summary == rss_item.findtext("description") and "<" not in summary
        assert html.unescape(summary) == article.excerpt
