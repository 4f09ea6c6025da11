"""Summaries worth reading: junk stripped at either end, empty sayings dropped, nothing invented."""

from __future__ import annotations

from pathlib import Path

import frontmatter
import pytest
from click.testing import CliRunner

from feeds.excerpts import clean_excerpt
from feeds.records import parse_bytes
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
