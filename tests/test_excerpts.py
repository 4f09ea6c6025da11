"""Summaries worth reading: junk stripped at either end, empty sayings dropped, nothing invented."""

from __future__ import annotations

from pathlib import Path

import frontmatter
import pytest
from click.testing import CliRunner

from feeds.model import Article
from feeds.reading.boilerplate import scrub_all
from feeds.reading.excerpts import clean_excerpt
from feeds.reading.records import parse_bytes, parse_record
from feeds.text import clean_text, truncate
from newsletter.cli import cli

from .conftest import ROOT

FINANZEN = (
    "Disclaimer | Accessibility Statement | Commerce Policy | Made In NYC | Stock quotes by "
    "finanzen.net Microsoft has introduced updates throughout its Power Apps platform, "
    "including new Power Apps ..."
)


@pytest.mark.parametrize(
    ("excerpt", "title", "clean", "note"),
    [
        (FINANZEN, "Power Apps sees updates",
         "Microsoft has introduced updates throughout its Power Apps platform, including new "
         "Power Apps ...",
         "trimmed: 'Disclaimer | Accessibility Statement | Commerce Policy | Made In NYC |' … "
         "'Stock quotes by finanzen.net'"),
        ("English", "Power Apps portals: Use code components", "", "dropped: only 'English'"),
        ("na", "January 2024 updates", "", "dropped: only 'na'"),
        ("Placeholder.", "Key ALM updates", "", "dropped: only 'Placeholder.'"),
        ("Announcing the rich text editor (RTE) control",
         "Announcing the rich text editor (RTE) control", "", "dropped: only repeats the title"),
        ("Email enhancements for 2020", "Email usability enhancements for 2020", "",
         "dropped: only repeats the title"),
        ("Points must be made: Please accept cookies or get more infor", "t",
         "Points must be made:", "trimmed: 'Please accept cookies or get more infor'"),
        ("Skip to main content Power Apps now does X.", "t", "Power Apps now does X.",
         "trimmed: 'Skip to main content'"),
        ("Power Apps now does X. Read more", "t", "Power Apps now does X.", "trimmed: 'Read more'"),
        # real text that only looks like junk stays
        ("You can read more about it in the docs.", "t", "You can read more about it in the docs.", ""),
        ("Power Apps | Power Automate | both get copilots.", "t",
         "Power Apps | Power Automate | both get copilots.", ""),
        ("Sign in required Please select sign in to continue. Session ID ...", "t",
         "Sign in required Please select sign in to continue. Session ID ...", ""),
        ("Enable third-party cookies and local data.", "t",
         "Enable third-party cookies and local data.", ""),
        ("", "t", "", ""),
    ],
)  # fmt: skip
def test_clean_excerpt(excerpt: str, title: str, clean: str, note: str) -> None:
    assert clean_excerpt(excerpt, title) == (clean, note)


def bundled_records() -> list[Path]:
    return sorted((ROOT / "content" / "news").glob("*.md"))


def test_cleaning_every_bundled_record_only_ever_removes_text() -> None:
    notes = []
    for path in bundled_records():
        article = parse_bytes(path.read_bytes(), path.name)
        raw = frontmatter.loads(path.read_text(encoding="utf-8-sig")).get("excerpt")
        before = truncate(clean_text(str(raw or "")), 5_000)
        assert article.excerpt in before, path.name  # never invented, never rewritten
        assert clean_excerpt(article.excerpt, article.title)[0] == article.excerpt  # idempotent
        assert (article.excerpt == before) == (article.excerpt_note == ""), path.name
        if article.excerpt_note:
            notes.append(article.excerpt_note.split(":")[0])
    # the sample's junk, counted (listed by `feedletter -v check`)
    assert notes.count("trimmed") == 4 and notes.count("dropped") == 23


def test_check_counts_cleaned_excerpts_and_lists_them_with_v(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    quiet = CliRunner().invoke(cli, ["check"])
    # the 4 and 23 of the parser, and Microsoft's recurring series openings (25 trimmed,
    # one excerpt that was nothing else dropped), learned from the corpus
    assert "Excerpts cleaned: 29 trimmed, 24 dropped (-v lists them)\n" in quiet.stdout
    assert "English" not in quiet.stdout
    for flags in (["-v", "check"], ["check", "-v"]):  # -v after the command too
        verbose = CliRunner().invoke(cli, flags)
        assert (
            "  content/news/2021-11-03-power-apps-portals-use-code-components-on-pages-preview"
            ".md: dropped: only 'English'\n"
        ) in verbose.stdout  # a path that opens from the project folder
        assert verbose.stdout.count(": trimmed: ") == 29
        assert verbose.stdout.count("trimmed: Microsoft's recurring text 'Welcome to the") == 15


# Junk of every kind, as sites the sample does not have serve it (issue 20)
KINDS = [
    ("Share. Contact. Read full article: Intel and Accenture launched CORaiL to watch reefs.",
     "Coral reefs", "Wired\0wired",
     "Intel and Accenture launched CORaiL to watch reefs.",
     "trimmed: 'Share. Contact.' … 'Read full article:'"),
    ("Tweet Email Print Cisco will buy Splunk for $28 billion in cash.", "Cisco", "",
     "Cisco will buy Splunk for $28 billion in cash.", "trimmed: 'Tweet Email Print'"),
    ("Cisco will buy Splunk for $28 billion. | Network World", "Cisco buys Splunk",
     "Network World\0networkworld", "Cisco will buy Splunk for $28 billion.",
     "trimmed: '| Network World'"),
    ("Sign up for our newsletter to get the latest security news delivered to your inbox.",
     "Ransomware", "", "", "dropped: only a sign-up notice"),
    ("The flaw affects routers. Get the Morning Brief newsletter delivered to your inbox.",
     "Router flaw", "", "The flaw affects routers.",
     "trimmed: 'Get the Morning Brief newsletter delivered to your inbox.'"),
    ("You have reached your limit of free articles. Subscribe to continue reading.", "x", "",
     "", "dropped: only a paywall notice"),
    ("Regulators approved the merger on Monday. This article is for subscribers only.",
     "Merger", "", "Regulators approved the merger on Monday.",
     "trimmed: 'This article is for subscribers only.'"),
    ("The model predicts which patients need care. Maria Lopez receives funding from the "
     "National Institutes of Health.", "A model for care", "",
     "The model predicts which patients need care.",
     "trimmed: 'Maria Lopez receives funding from the National Institutes of Health.'"),
    ("Maria Lopez does not work for, consult, own shares in or receive funding from any "
     "company that would benefit from this article.", "Care", "", "",
     "dropped: only a disclosure"),
    ("We use cookies to improve your experience on our site.", "x", "", "",
     "dropped: only a cookie notice"),
    ("Researchers found the flaw in May. Read the full story at Example Times.", "Flaw", "",
     "Researchers found the flaw in May.", "trimmed: 'Read the full story at Example Times.'"),
    # real text that looks a little like junk stays as it is
    ("The startup receives funding from three banks to expand.", "x", "",
     "The startup receives funding from three banks to expand.", ""),
    ("Share prices rose after the email from the CEO.", "x", "",
     "Share prices rose after the email from the CEO.", ""),
    ("The feature is for members of the preview program.", "x", "",
     "The feature is for members of the preview program.", ""),
    ("Cisco and Network World reported it first.", "x", "Network World\0networkworld",
     "Cisco and Network World reported it first.", ""),
]  # fmt: skip


@pytest.mark.parametrize(("excerpt", "title", "publisher", "clean", "note"), KINDS)
def test_each_kind_of_notice_from_sites_the_sample_lacks(
    excerpt: str, title: str, publisher: str, clean: str, note: str
) -> None:
    assert clean_excerpt(excerpt, title, publisher) == (clean, note)
    assert clean in excerpt  # a piece of the original, never rewritten
    assert clean_excerpt(clean, title, publisher)[0] == clean  # idempotent


def provider_records(provider: str, excerpts: list[str]) -> list[Article]:
    found = []
    for n, excerpt in enumerate(excerpts):
        text = (
            f'---\ntitle: "Story number {n} of the week in security"\nexcerpt: "{excerpt}"\n'
            f'publishedDateTime: 2021-03-{n + 1:02}T10:00:00Z\nwebUrl: "https://{provider}.example/{n}"\n'
            f"provider:\n  name: {provider.title()} Daily\n  domain: {provider}.example\n---\n"
        )
        found.append(parse_record(text, f"news/{provider}-{n}.md"))
    return found


def test_one_publishers_recurring_text_is_learned_and_removed() -> None:
    tagline = "Tech Street is the home of enterprise security news."
    widget = "Follow us on Mastodon for more."
    excerpts = [
        f"{tagline} Ransomware hit a hospital chain on Monday. {widget}",
        f"{tagline} A router flaw lets attackers in without a password. {widget}",
        f"{tagline} Regulators fined a bank for weak controls. {widget}",
        f"{tagline} {widget}",  # nothing but the furniture
    ]
    articles = provider_records("techstreet", excerpts)
    # another publisher that happens to open once with the same sentence keeps it
    (other,) = provider_records("elsewhere", [f"{tagline} The quoted tagline starts this one."])
    cleaned = scrub_all([*articles, other])
    assert [a.excerpt for a in cleaned[:4]] == [
        "Ransomware hit a hospital chain on Monday.",
        "A router flaw lets attackers in without a password.",
        "Regulators fined a bank for weak controls.",
        "",
    ]
    assert cleaned[0].excerpt_note.startswith("trimmed: Techstreet Daily's recurring text ")
    assert cleaned[3].excerpt_note.startswith("dropped: only Techstreet Daily's recurring text ")
    assert cleaned[4].excerpt == other.excerpt
    assert scrub_all(cleaned) == cleaned  # idempotent


def test_copies_of_one_story_teach_nothing() -> None:
    """Three records of one syndicated story share their first sentence: that is the
    story's own text, not the publisher's furniture."""
    same = "Provance releases ServiceTeam for IT service management. The suite runs on Dataverse."
    articles = provider_records("wire", [same, same, same + " More to come."])
    assert [a.excerpt for a in scrub_all(articles)] == [a.excerpt for a in articles]


def test_every_bundled_record_after_learning_keeps_a_piece_of_its_own_text() -> None:
    from feeds.reading.corpus import load_corpus

    corpus = load_corpus(ROOT / "content" / "news")
    cleaned = scrub_all(corpus.articles)
    for before, after in zip(corpus.articles, cleaned, strict=True):
        assert after.excerpt in before.excerpt, after.path
        if after.excerpt != before.excerpt:
            assert after.excerpt_note, after.path
    assert scrub_all(cleaned) == cleaned


def test_lessons_kept_from_parsing_teach_what_the_excerpts_teach() -> None:
    """``learn`` reads the lessons worked out when each record was parsed; records
    made by hand (no lessons) teach the same from their excerpts."""
    from dataclasses import replace

    from feeds.reading.boilerplate import learn
    from feeds.reading.corpus import load_corpus

    corpus = load_corpus(ROOT / "content" / "news")
    assert all(a.lessons is not None for a in corpus.articles)
    learned = learn(corpus.articles)
    assert learned.openings  # the sample's publishers do repeat themselves
    assert learned == learn([replace(a, lessons=None) for a in corpus.articles])
