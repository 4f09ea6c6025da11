"""RFC 5005 archived feeds: the whole history reachable, archive pages immutable."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import feedparser
from lxml import etree

from feeds.build import build_feeds
from newsletter.config import Config

from .conftest import NOW, ROOT, read_tree

ATOM = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"


def archive_project(project: Path) -> None:
    shutil.rmtree(project / "news")
    shutil.copytree(ROOT / "content" / "news", project / "news")
    config = project / "config.yaml"
    config.write_text(
        config.read_text()
        .replace("max_items: 5", "max_items: 20")
        .replace("min_quality: 50", "min_quality: 70")
        + "archives:\n  enabled: true\n  page_size: 50\ncache: null\n"
    )


def links(path: Path) -> dict[str, str]:
    root = etree.parse(str(path)).getroot()
    return {link.get("rel", "alternate"): link.get("href") for link in root.findall(f"{ATOM}link")}


def walk(output: Path, base_url: str, feed: str) -> list[list[str]]:
    """Entry ids of the subscription document, then of each archive page, newest first."""
    documents = []
    path: Path | None = output / feed
    while path is not None:
        parsed = feedparser.parse(path.read_bytes())
        assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
        documents.append([e.id for e in parsed.entries])
        previous = links(path).get("prev-archive")
        path = output / previous.removeprefix(base_url + "/") if previous else None
    return documents


def test_history_is_reachable_and_archives_never_change(
    fixture_project: Path, load_fixture_config: Callable[[], Config]
) -> None:
    archive_project(fixture_project)
    config = load_fixture_config()
    result = build_feeds(config, NOW)
    assert result.selection is not None
    out, base = config.output, config.site.base_url
    power = next(t for t in result.selection.topics if t.topic_id == "power-apps")
    documents = walk(out, base, "topics/power-apps/atom.xml")
    ids = [i for document in documents for i in document]
    assert len(ids) == len(set(ids)) == power.qualified == 416  # every story once
    assert [len(d) for d in documents] == [66, 50, 50, 50, 50, 50, 50, 50]  # 20 + 46 waiting
    archive = out / "topics" / "power-apps" / "archive"
    for number in range(1, 8):
        page = archive / f"{number}.xml"
        root = etree.parse(str(page)).getroot()
        assert root.find(f"{FH}archive") is not None
        rels = links(page)
        assert rels["current"] == f"{base}/topics/power-apps/atom.xml"
        assert rels["self"] == f"{base}/topics/power-apps/archive/{number}.xml"
        assert ("prev-archive" in rels) == (number > 1)
        assert ("next-archive" in rels) == (number < 7)
    # a topic with fewer than max_items + page_size stories has no archive yet
    assert not (out / "topics" / "portals" / "archive").exists()
    assert len(walk(out, base, "topics/portals/atom.xml")[0]) == 34

    pages_before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in archive.glob("*.xml")}
    # 60 newer stories arrive: 60 more fall out of the subscription window
    news = fixture_project / "news"
    template = (
        news / "2024-04-11-april-2024-alm-blog-whats-new-and-what-it-means-for-you.md"
    ).read_text()
    for n in range(60):
        (news / f"new-{n:02}.md").write_text(
            template.replace(
                "publishedDateTime: 2024-04-11", f"publishedDateTime: 2024-05-{1 + n // 3:02}"
            )
            .replace("april-2024-update/", f"april-2024-update-{n}/")
            .replace('title: "April 2024 ALM blog', f'title: "New story {n}: ALM blog')
        )
    build_feeds(config, NOW)
    pages_after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in archive.glob("*.xml")}
    assert {name: pages_after[name] for name in pages_before} == pages_before  # untouched
    assert set(pages_after) - set(pages_before) == {"8.xml", "9.xml"}
    documents = walk(out, base, "topics/power-apps/atom.xml")
    assert [len(d) for d in documents] == [26, 50, 50, 50, 50, 50, 50, 50, 50, 50]
    ids = [i for document in documents for i in document]
    assert len(ids) == len(set(ids)) == 476
    assert links(archive / "9.xml")["prev-archive"].endswith("/archive/8.xml")
    # and a rebuild with nothing new changes nothing at all
    before = read_tree(out)
    build_feeds(config, NOW)
    assert read_tree(out) == before
