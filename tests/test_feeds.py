"""Generated feeds, checked by parsing the bytes we emit (feedparser, lxml)."""

from __future__ import annotations

import calendar
from pathlib import Path

import feedparser
from lxml import etree

from feeds.build import BuildResult, build_feeds
from feeds.rendering.layout import locate
from feeds.urls import story_guid

from .conftest import NOW, read_tree

ATOM = "{http://www.w3.org/2005/Atom}"


def feeds_of(result: BuildResult) -> list[tuple[str | None, str, str]]:
    base = result.project.settings.site.base_url
    out = []
    for item in (result.selection.everything, *result.selection.topics):
        loc = locate(base, item.topic_id)
        out.append((item.topic_id, loc.atom_path, loc.rss_path))
    return out


def test_all_seven_topics_and_the_all_feed_exist(sample_build: BuildResult) -> None:
    out = sample_build.project.settings.output
    assert len(sample_build.project.topics.topics) == 7
    for _, atom, rss in feeds_of(sample_build):
        assert (out / atom).is_file() and (out / rss).is_file()
    assert (out / "index.html").is_file() and (out / "feeds.opml").is_file()


def test_every_feed_parses_cleanly_and_matches_the_selection(sample_build: BuildResult) -> None:
    out = sample_build.project.settings.output
    base = sample_build.project.settings.site.base_url
    selections = {None: sample_build.selection.everything}
    selections.update({s.topic_id: s for s in sample_build.selection.topics})
    for topic_id, atom_path, rss_path in feeds_of(sample_build):
        expected = selections[topic_id].articles
        loc = locate(base, topic_id)
        for path, self_url in ((atom_path, loc.atom_url), (rss_path, loc.rss_url)):
            parsed = feedparser.parse((out / path).read_bytes())
            assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
            assert len(parsed.entries) == len(expected)
            assert [e.title for e in parsed.entries] == [a.title for a in expected]
            assert [e.link for e in parsed.entries] == [a.url for a in expected]
            assert [e.id for e in parsed.entries] == [story_guid(a.key) for a in expected]
            assert [calendar.timegm(e.published_parsed) for e in parsed.entries] == [
                int(a.published_at.timestamp()) for a in expected
            ]
            links = {(link.rel, link.href) for link in parsed.feed.links}
            assert ("self", self_url) in links
            assert parsed.feed.link == loc.page_url  # the page, never the feed
            assert parsed.feed.language == "en"
            if expected:
                newest = calendar.timegm(parsed.feed.updated_parsed)
                assert newest == int(expected[0].published_at.timestamp())


def test_atom_entries_have_one_alternate_link_author_and_categories(
    sample_build: BuildResult,
) -> None:
    out = sample_build.project.settings.output
    tree = etree.parse(str(out / "topics" / "portals" / "atom.xml"))
    entries = tree.findall(f"{ATOM}entry")
    assert entries
    for entry in entries:
        links = entry.findall(f"{ATOM}link")
        # feedgen 1.0.0 would turn an enclosure into a second alternate link
        assert len(links) == 1 and links[0].get("rel", "alternate") == "alternate"
        assert entry.findtext(f"{ATOM}author/{ATOM}name")
        terms = [c.get("term") for c in entry.findall(f"{ATOM}category")]
        assert "Portals" in terms and "Power Apps" in terms
    assert tree.findtext(f"{ATOM}generator") == "feedletter"


def test_rss_channel_link_guids_and_media(sample_build: BuildResult) -> None:
    out = sample_build.project.settings.output
    base = sample_build.project.settings.site.base_url
    rss = etree.parse(str(out / "topics" / "canvas-apps" / "rss.xml"))
    channel = rss.find("channel")
    assert channel is not None
    assert channel.findtext("link") == f"{base}/topics/canvas-apps/"
    assert channel.findtext("lastBuildDate") == channel.find("item").findtext("pubDate")  # type: ignore[union-attr]
    for guid in channel.iter("guid"):
        assert guid.get("isPermaLink") == "false"
        assert (guid.text or "").startswith("urn:uuid:")
    media = channel.findall("item/{http://search.yahoo.com/mrss/}content")
    assert media and all(m.get("medium") == "image" for m in media)
    assert all(m.get("width") and m.get("height") for m in media)


def test_rebuild_is_byte_identical_and_leaves_files_untouched(sample_build: BuildResult) -> None:
    out = sample_build.project.settings.output
    before = read_tree(out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = build_feeds(sample_build.project.settings, NOW)
    assert read_tree(out) == before
    assert again.report.written == ()
    assert len(again.report.unchanged) == len(before)
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes


def test_build_does_not_depend_on_the_clock(sample_build: BuildResult, tmp_path: Path) -> None:
    from datetime import timedelta

    settings = sample_build.project.settings.model_copy(update={"output": tmp_path})
    build_feeds(settings, NOW + timedelta(days=3))  # no max_age_days in config.yaml
    assert read_tree(tmp_path) == read_tree(sample_build.project.settings.output)
