"""Stories: copies of one story are grouped, shown once, and keep one GUID.

Pure grouping rules on made-up articles, the groups formed on the bundled sample
(every one checked by eye, listed here), and the GUID promise through real builds.
"""

from __future__ import annotations

import random
import re
import shutil
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest

from feeds.build import BuildResult, build_feeds, load_project
from feeds.model import Article, Provider
from feeds.selection.collector import Rules, collect
from feeds.selection.stories import group_stories
from feeds.selection.titles import story_title
from feeds.urls import story_guid, story_key
from newsletter.config import Config, load_config
from newsletter.issue.pipeline import issue_period, make_issue

from .conftest import NOW, ROOT
from .test_collector import topics

DAY = datetime(2021, 11, 2, 15, tzinfo=UTC)


def copy(n: int, title: str, days: float = 0, provider: str = "Example", **fields: Any) -> Article:
    url = fields.pop("url", f"https://{provider.lower().replace(' ', '')}.example/{n}")
    values: dict[str, Any] = {
        "path": f"news/{n:03}.md",
        "title": title,
        "url": url,
        "key": story_key(url),
        "published_at": DAY + timedelta(days=days),
        "quality": 80,
        "topics": ("Power Apps",),
        "provider": Provider(provider, f"{provider.lower().replace(' ', '')}.com"),
    }
    values.update(fields)
    return Article(**values)


def groups(articles: list[Article], window: float = 7) -> set[frozenset[str]]:
    index = group_stories(articles, window)
    return {frozenset(c.path for c in story.copies) for story in index.groups}


VB = "Power Apps sees updates from Microsoft, including tight Teams integration"


@pytest.mark.parametrize(
    ("title", "provider", "key"),
    [
        (VB, "VentureBeat", "power apps sees updates from microsoft including tight teams integration"),
        (VB + " - VentureBeat", "VentureBeat", story_title(copy(0, VB))),
        (VB + " | venturebeat.com", "VentureBeat", story_title(copy(0, VB))),
        (VB + " — VENTUREBEAT", "VentureBeat", story_title(copy(0, VB))),
        # a bar that does not name the record's own publisher is part of the title
        (VB + " - Business Insider", "VentureBeat", story_title(copy(0, VB)) + " business insider"),
        ("Microsoft Power Apps | 2019 release wave 2 overview", "Microsoft",
         "microsoft power apps 2019 release wave 2 overview"),
        ("Re-transmission: Provance releases ServiceTeam", "Big News Network.com",
         "provance releases serviceteam"),
        ("[Press release] Update: Provance releases ServiceTeam", "X", "provance releases serviceteam"),
    ],
)  # fmt: skip
def test_title_key(title: str, provider: str, key: str) -> None:
    assert story_title(copy(1, title, provider=provider)) == key


def test_syndicated_regional_and_reposted_copies_are_one_story() -> None:
    articles = [
        copy(1, VB, 0, "VentureBeat", quality=113),
        copy(2, VB, 4, "Business Insider", quality=73),  # syndication, 4 days later
        copy(3, "Microsoft makes some changes to paying for Power Apps", 0, "TechRadar",
             url="https://www.techradar.com/news/microsoft-power-apps-pricing-change"),
        copy(4, "Microsoft makes some changes to paying for Power Apps", 1, "TechRadar",
             url="https://www.techradar.com/sg/news/microsoft-power-apps-pricing-change"),
        copy(5, "Provance Releases ServiceTeam a New Family of ISTM Power Apps Products", 0),
        copy(6, "Re-transmission: Provance Releases ServiceTeam, a New Family of ITSM Power "
             "Apps Products", 1, "Big News Network"),  # a tag, and a two-letter typo fixed
        copy(7, "Power Apps sees updates from Microsoft including tight Teams integration - "
             "Example", 2),  # own publisher trailer, no comma
    ]  # fmt: skip
    assert groups(articles) == {
        frozenset({"news/001.md", "news/002.md", "news/007.md"}),
        frozenset({"news/003.md", "news/004.md"}),
        frozenset({"news/005.md", "news/006.md"}),
    }


def test_similar_but_different_stories_stay_apart() -> None:
    articles = [
        copy(1, "Microsoft Power Apps | 2019 release wave 2 overview", 0, "Microsoft"),
        copy(2, "Microsoft Power Apps portals | 2019 release wave 2 overview", 7, "Microsoft"),
        copy(3, "Microsoft Power Apps | 2019 release wave 1 overview", 2, "Microsoft"),
        copy(4, "Microsoft Power Apps | 2020 release wave 2 overview", 3, "Microsoft"),
        copy(5, "Power Platform Stories", 0, "Microsoft"),  # too generic to match by title
        copy(6, "Power Platform Stories", 1, "Microsoft"),
        copy(7, "Announcing Power Apps 2 for iOS", 1, "Microsoft"),
        copy(8, "Announcing Power Apps 3 for iOS", 1, "Microsoft"),
    ]
    assert groups(articles) == set()


def test_the_window_chains_and_ends() -> None:
    title = "How Rolls-Royce is unlocking digital transformation with Power Apps"
    chain = [copy(1, title, 0), copy(2, title, 6), copy(3, title, 12)]
    assert groups(chain) == {frozenset({"news/001.md", "news/002.md", "news/003.md"})}
    apart = [copy(1, title, 0), copy(2, title, 21), copy(3, title, 99)]
    assert groups(apart) == set()
    assert groups(apart, window=30) == {frozenset({"news/001.md", "news/002.md"})}


def test_one_url_is_one_story_whatever_the_dates_and_titles() -> None:
    url = "https://example.com/story"
    assert groups([copy(1, "First title here now", 0, url=url), copy(2, "Other", 90, url=url)]) == {
        frozenset({"news/001.md", "news/002.md"})
    }


def test_a_related_link_alone_never_merges() -> None:
    from feeds.model import Related

    a = copy(1, "Microsoft ships the first thing today", 0)
    b = copy(2, "Contoso ships another thing entirely", 0, "Contoso")
    a = Article(**{**{f: getattr(a, f) for f in Article.__slots__}, "related": (
        Related(title=b.title, url=b.url),
    )})  # fmt: skip
    assert groups([a, b]) == set()


def test_grouping_does_not_depend_on_order() -> None:
    articles = [
        copy(n, f"{VB} {'' if n % 3 else 'again'}", n % 5, f"P{n % 4}") for n in range(1, 40)
    ]
    index = group_stories(articles, 7)
    for seed in range(5):
        shuffled = articles[:]
        random.Random(seed).shuffle(shuffled)
        again = group_stories(shuffled, 7)
        assert again.story_of == index.story_of
        assert [s.key for s in again.groups] == [s.key for s in index.groups]


def test_each_story_once_with_the_best_copy_and_its_coverage() -> None:
    vb = copy(1, VB, 0, "VentureBeat", quality=113, excerpt="")
    bi = copy(2, VB, 4, "Business Insider", quality=73, excerpt="Microsoft has introduced it.",
              topics=("Canvas apps",))  # fmt: skip
    sel = collect([vb, bi], topics(), Rules(), DAY + timedelta(days=10))
    for item in (sel.everything, sel.for_topic("power-apps"), sel.for_topic("canvas-apps")):
        (story,) = item.articles  # once, in every topic either copy names
        assert story.url == vb.url and story.key == vb.key  # the best copy, the story's key
        assert [r.url for r in story.related] == [bi.url]  # the other copy as coverage
        assert (
            story.excerpt == "Microsoft has introduced it."
        )  # the best excerpt that says something
    # a copy that fails the rules is no coverage
    sel = collect([vb, bi], topics(), Rules(min_quality=100), DAY + timedelta(days=10))
    (story,) = sel.everything.articles
    assert story.related == ()


# Every group the bundled sample forms, checked by eye (issues 11 and 20):
# (first copy's date, number of copies, the title's first words)
SAMPLE_GROUPS = {
    # Neowin; winbuzzer in its own words
    ("2020-11-17", 2, "Microsoft announces general availability of"),
    ("2020-12-21", 2, "Power Platform Stories"),  # one URL, two crawls
    ("2021-01-14", 2, "On Boarding User External user"),  # one URL, two crawls
    ("2021-05-05", 2, "Microsoft fleshes out Power Apps"),  # InfoWorld, Reseller News
    ("2021-05-10", 5, "Provance Releases ServiceTeam"),  # press release, reposts, ISTM/ITSM
    # Microsoft; Dataquest reprints it
    ("2021-05-25", 2, "Introducing Power Apps Ideas: AI-powered"),
    ("2021-05-25", 2, "Microsoft uses GPT-3 to add AI"),  # VentureBeat, Business Insider
    ("2021-05-30", 2, "Microsoft Build touts Power Apps"),  # VentureBeat, Business Insider
    # UpGuard's report on Power Apps portals' defaults, in 30 records of 27 publishers
    # under 27 titles: the title rule alone made three groups of it, the content rule one
    ("2021-08-23", 30, "Microsoft Power Apps misconfiguration exposes"),
    ("2021-11-02", 2, "Power Apps sees updates from"),  # VentureBeat, Business Insider
    ("2021-11-08", 2, "Master Microsoft Power BI and"),  # press release on two wires
    (
        "2022-03-08",
        2,
        "Announcing the general availability of pay-as-you-go",
    ),  # Microsoft, The Register
    ("2022-03-21", 2, "Microsoft makes some changes to"),  # TechRadar and TechRadar /sg/
    ("2022-04-20", 2, "emfluence Marketing Platform Announces"),  # press release on two sites
    ("2022-05-09", 3, "Microsoft to rechristen Power Apps"),  # ZDNet, enterprisetalk, techzine
    ("2022-09-20", 2, "Power Apps brings collaboration to"),  # Microsoft, India Education Diary
    ("2023-03-16", 2, "Announcing a next-generation AI Copilot"),  # Microsoft, SD Times
    ("2023-07-07", 2, "Announcing Public preview of IP"),  # one URL, renamed post
    ("2023-08-11", 2, "Innovate with Ease: How Microsoft"),  # press release on two sites
    ("2024-03-06", 2, "Copilot assistance for filling forms"),  # Microsoft, Neowin
}


def test_the_groups_formed_on_the_sample(sample_build: BuildResult) -> None:
    assert sample_build.selection is not None
    formed = [
        (f"{s.copies[0].published_at:%Y-%m-%d}", len(s.copies), s.copies[0].title)
        for s in sample_build.selection.stories
    ]
    assert len(formed) == len(SAMPLE_GROUPS)
    for day, count, start in SAMPLE_GROUPS:
        matches = [f for f in formed if f[:2] == (day, count) and f[2].startswith(start)]
        assert len(matches) == 1, (day, count, start, formed)


def test_every_feed_on_the_sample_holds_each_story_once(sample_build: BuildResult) -> None:
    out = sample_build.project.settings.output
    for path in sorted(out.rglob("atom.xml")):
        entries = feedparser.parse(path.read_bytes()).entries
        assert len({e.id for e in entries}) == len(entries), path
        titles = Counter(re.sub(r"\W+", " ", e.title.casefold()) for e in entries)
        assert [t for t, n in titles.items() if n > 1] == [], path
    teams = feedparser.parse((out / "topics" / "teams-integration" / "atom.xml").read_bytes())
    (story,) = [e for e in teams.entries if e.title.startswith("Power Apps sees updates")]
    assert story.link.startswith("https://venturebeat.com/")
    assert (
        "Also covered by" in story.content[0].value and "Business Insider" in story.content[0].value
    )


def test_the_sample_digest_has_each_story_once_and_no_junk_summary() -> None:
    config = load_config(ROOT / "config.yaml")
    issue = make_issue(load_project(config), config, issue_period(config, date(2021, 11, 7)))
    titles = [item.article.title for item in issue.plan.items]
    assert len(titles) == len(set(titles)) == 9
    assert issue.text.count("Power Apps sees updates from Microsoft") == 1
    assert "Also covered by Business Insider" in issue.text
    for junk in ("Disclaimer |", "finanzen.net", "   English\n"):
        assert junk not in issue.text and junk not in issue.html


def later_copy(project: Path, source: str, **changes: str) -> Path:
    """A syndicated copy of ``source``: another URL and provider, the same title."""
    text = (project / "news" / source).read_text()
    original_url = re.search(r'^webUrl: "([^"]+)"', text, re.M)
    assert original_url is not None
    for old, new in changes.items():
        text = re.sub(rf"^{old}: .*$", f"{old}: {new}", text, flags=re.M)
    text = text.replace(original_url.group(1), "https://syndicate.example/copy-of-the-story")
    text = re.sub(r"^  name: .*$", "  name: Syndicate Daily", text, flags=re.M)
    target = project / "news" / f"zz-copy-of-{source}"
    target.write_text(text)
    return target


def entry_ids(config: Config, feed: str) -> list[str]:
    return [e.id for e in feedparser.parse((config.output / feed).read_bytes()).entries]


SOURCE = "2020-09-22-now-in-preview-customize-teams-with-built-in-power-platform-capabilities.md"


def test_a_later_better_copy_changes_no_guid(fixture_project: Path) -> None:
    config = load_config(fixture_project / "config.yaml")
    build_feeds(config, NOW)
    before = {
        feed: entry_ids(config, feed) for feed in ("atom.xml", "topics/teams-integration/atom.xml")
    }
    # a day later, with a higher quality: it represents the story from now on
    later_copy(fixture_project, SOURCE, publishedDateTime="2020-09-23T08:00:00Z", quality="200")
    build_feeds(config, NOW)
    for feed, ids in before.items():
        assert entry_ids(config, feed) == ids, feed  # no new id, the story once
    teams = feedparser.parse((config.output / "topics/teams-integration/atom.xml").read_bytes())
    (story,) = teams.entries
    assert story.link == "https://syndicate.example/copy-of-the-story"  # the new representative
    assert "Also covered by" in story.content[0].value  # the first copy is its coverage
    # a cold build elsewhere gives the same ids
    shutil.rmtree(config.output)
    cold = config.model_copy(update={"cache": None})
    build_feeds(cold, NOW)
    assert entry_ids(cold, "atom.xml") == before["atom.xml"]


def test_a_copy_dated_earlier_moves_the_guid_the_documented_exception(
    fixture_project: Path,
) -> None:
    config = load_config(fixture_project / "config.yaml")
    build_feeds(config, NOW)
    (before,) = entry_ids(config, "topics/teams-integration/atom.xml")
    later_copy(fixture_project, SOURCE, publishedDateTime="2020-09-21T08:00:00Z")
    build_feeds(config, NOW)
    (after,) = entry_ids(config, "topics/teams-integration/atom.xml")
    assert before != after == story_guid(story_key("https://syndicate.example/copy-of-the-story"))


def test_the_content_rule_misses_no_pair_that_it_would_join() -> None:
    """Candidates are pruned (a pair needs two of a record's own title words in
    common); on the sample, every pair within the window that ``same_event`` joins,
    tried exhaustively, still ends in one story."""
    from feeds.build.project import site_vocabulary
    from feeds.selection.similarity import same_event
    from feeds.selection.stories import same_publisher

    config = load_config(ROOT / "config.yaml")
    project = load_project(config.model_copy(update={"cache": None}))
    site = site_vocabulary(config, project.topics)
    articles = sorted(project.corpus.articles, key=lambda a: a.published_at)
    index = group_stories(articles, 7, site)
    window = timedelta(days=7)
    joined = 0
    for i, a in enumerate(articles):
        for b in articles[i + 1 :]:
            if b.published_at - a.published_at > window:
                break
            if same_event(
                a.signature,
                b.signature,
                site,
                same_publisher=same_publisher(a.provider, b.provider),
            ):
                joined += 1
                assert index.story_of[a.path] == index.story_of[b.path], (a.path, b.path)
    assert joined >= 10  # the rule does join pairs on the sample
