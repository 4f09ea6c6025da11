"""The collector: pure selection rules, membership, duplicates and ordering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from feeds.errors import TopicError
from feeds.model import Article
from feeds.reading.topics import Topic, TopicSet, merge_topics, topic_from_mapping
from feeds.selection.collector import Rules, collect
from feeds.urls import story_key

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def article(n: int, **fields: Any) -> Article:
    url = fields.pop("url", f"https://example.com/{n}")
    values: dict[str, Any] = {
        "path": f"news/{n:03}.md",
        "title": f"Story {n}",
        "url": url,
        "key": story_key(url),
        "published_at": NOW - timedelta(days=n),
        "quality": 80,
        "topics": ("Power Apps",),
    }
    values.update(fields)
    return Article(**values)


def topics() -> TopicSet:
    return TopicSet.build(
        [
            Topic("power-apps", "Power Apps", keywords=("power apps",)),
            Topic("canvas-apps", "Canvas apps", shortname="Canvas", parent="Power Apps"),
            Topic("layouts", "Layouts", parent="canvas-apps", keywords=("layout container",)),
            Topic("ai-builder", "AI Builder", parent="Power Apps", keywords=("ai builder",)),
        ]
    )


def ids(items: tuple[Article, ...]) -> list[str]:
    return [a.path for a in items]


def test_topic_named_by_name_shortname_or_id_case_insensitively() -> None:
    arts = [
        article(1, topics=("canvas apps",)),
        article(2, topics=("CANVAS",)),
        article(3, topics=("Canvas-Apps",)),
        article(4, topics=("Something else",)),
    ]
    sel = collect(arts, topics(), Rules(), NOW)
    assert ids(sel.for_topic("canvas-apps").articles) == [
        "news/001.md",
        "news/002.md",
        "news/003.md",
    ]
    assert sel.unknown_topics == ("Something else",)
    assert sel.membership["news/004.md"] == ()
    # the all-topics feed holds only articles that belong to some topic
    assert "news/004.md" not in ids(sel.everything.articles)


def test_parents_collect_children_transitively() -> None:
    sel = collect([article(1, topics=("Layouts",))], topics(), Rules(), NOW)
    assert sel.membership["news/001.md"] == ("power-apps", "canvas-apps", "layouts")
    for tid in ("power-apps", "canvas-apps", "layouts"):
        assert ids(sel.for_topic(tid).articles) == ["news/001.md"]
    assert sel.for_topic("ai-builder").articles == ()


def test_keywords_match_whole_words_only_when_enabled() -> None:
    arts = [
        article(1, topics=(), title="New AI Builder models"),
        article(2, topics=(), excerpt="Try ai builder today."),
        article(3, topics=(), title="AI Buildership is not a word"),
    ]
    off = collect(arts, topics(), Rules(), NOW)
    assert off.for_topic("ai-builder").articles == ()
    on = collect(arts, topics(), Rules(), NOW, overrides={"ai-builder": Rules(match_keywords=True)})
    assert ids(on.for_topic("ai-builder").articles) == ["news/001.md", "news/002.md"]
    # the parent collects keyword-assigned children too
    assert ids(on.for_topic("power-apps").articles) == ["news/001.md", "news/002.md"]


def test_rules_published_quality_age_and_limit() -> None:
    arts = [
        article(1, published=False),
        article(2, quality=69),
        article(3, quality=70),
        article(40, quality=90),
        article(4, quality=95),
        article(5, quality=96),
    ]
    rules = Rules(min_quality=70, max_age_days=30, max_items=2)
    sel = collect(arts, topics(), rules, NOW).for_topic("power-apps")
    assert ids(sel.articles) == ["news/003.md", "news/004.md"]
    assert sel.qualified == 3
    everything = collect(arts, topics(), Rules(published_only=False), NOW).everything
    assert len(everything.articles) == 6


def test_per_topic_overrides_leave_other_topics_alone() -> None:
    arts = [article(1, topics=("Canvas apps",), quality=10)]
    sel = collect(arts, topics(), Rules(min_quality=50), NOW, {"canvas-apps": Rules()})
    assert ids(sel.for_topic("canvas-apps").articles) == ["news/001.md"]
    assert sel.for_topic("power-apps").articles == ()


def test_duplicates_collapse_to_the_highest_quality_record() -> None:
    arts = [
        article(1, url="https://www.example.com/story/", quality=70),
        article(2, url="http://example.com/story?utm_source=x#c", quality=90),
        article(3, url="https://example.com/story", quality=80, published=False),
    ]
    sel = collect(arts, topics(), Rules(), NOW)
    assert ids(sel.for_topic("power-apps").articles) == ["news/002.md"]
    assert ids(sel.everything.articles) == ["news/002.md"]
    (story,) = sel.stories
    assert {c.path for c in story.copies} == {"news/001.md", "news/002.md", "news/003.md"}
    assert sel.copies_folded == 2
    # an unpublished better copy never hides the published one
    only_published = collect(arts[::2], topics(), Rules(), NOW)
    assert ids(only_published.everything.articles) == ["news/001.md"]


def test_newest_first_with_deterministic_tie_break() -> None:
    same = NOW - timedelta(days=1)
    arts = [
        article(1, url="https://b.example/x", published_at=same),
        article(2, url="https://a.example/x", published_at=same),
        article(3, published_at=NOW),
    ]
    forward = collect(arts, topics(), Rules(), NOW).everything
    backward = collect(arts[::-1], topics(), Rules(), NOW).everything
    assert (
        ids(forward.articles)
        == ids(backward.articles)
        == ["news/003.md", "news/002.md", "news/001.md"]
    )


def test_topic_cycles_and_unknown_parents_are_errors() -> None:
    with pytest.raises(TopicError, match="cycle"):
        TopicSet.build([Topic("a", "A", parent="b"), Topic("b", "B", parent="a")])
    with pytest.raises(TopicError, match="parent 'Nope' is not a known topic"):
        TopicSet.build([Topic("a", "A", parent="Nope")])
    with pytest.raises(TopicError, match="defined twice"):
        TopicSet.build([Topic("a", "A"), Topic("a", "A again")])


@pytest.mark.parametrize("bad", ["../etc", "a/b", "UPPER", "x" * 70, "a\x00b", ""])
def test_topic_ids_must_be_slugs(bad: str) -> None:
    data = {"_id": bad, "name": "N"} if bad else {"name": "!!!"}
    with pytest.raises(TopicError, match="is not a slug"):
        topic_from_mapping(data, "t.yaml")


def test_config_topics_override_file_fields_and_come_first() -> None:
    files = [Topic("power-apps", "Power Apps"), Topic("portals", "Portals", parent="Power Apps")]
    merged = merge_topics(
        files, [{"id": "portals", "description": "Sites."}, {"id": "extra", "name": "Extra"}], "c"
    )
    assert [t.id for t in merged.topics] == ["portals", "extra", "power-apps"]
    assert merged.by_id["portals"].description == "Sites."
    assert merged.by_id["portals"].parent == "power-apps"


def test_future_articles_wait_for_their_time_and_since_opens_a_window() -> None:
    arts = [article(-2), article(1), article(5), article(9)]
    sel = collect(arts, topics(), Rules(), NOW)
    assert ids(sel.everything.articles) == ["news/001.md", "news/005.md", "news/009.md"]
    window = collect(arts, topics(), Rules(), NOW, since=NOW - timedelta(days=7))
    assert ids(window.everything.articles) == ["news/001.md", "news/005.md"]
    assert ids(window.for_topic("power-apps").articles) == ["news/001.md", "news/005.md"]
