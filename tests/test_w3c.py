"""Every feed the suite builds, through the W3C feed validator (offline copy in shared/).

The bundled sample (its feeds and the issues feed) and the golden fixture must have no errors and no warnings; the hostile records no errors, and
none of the warnings that mean markup got through (HTML in titles, event
handlers, IRIs).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from feeds.build import BuildResult, build_feeds
from newsletter.config import Config, load_config
from newsletter.issue.pipeline import issue_period, make_issue, write_issue

from .conftest import FIXTURE, NOW, ROOT, in_folder
from .test_hostile import hostile_project  # noqa: F401  (the module-scoped fixture)
from .w3c import w3c_check


def test_the_bundled_sample_is_valid_without_warnings(
    sample_build: BuildResult, tmp_path: Path
) -> None:
    config = in_folder(sample_build.project.settings, tmp_path)  # type: ignore[arg-type]
    out = config.output
    shutil.copytree(sample_build.project.settings.output, out)
    write_issue(
        config, make_issue(sample_build.project, config, issue_period(config, date(2021, 11, 7)))
    )
    report = w3c_check(out)
    assert report.files == 17  # 8 feeds × (Atom + RSS) + the issues feed
    assert (report.errors, report.warnings) == (0, 0), report.text


def test_the_sample_archives_are_valid(tmp_path: Path) -> None:
    """Archive pages hold the whole history, where two real records share a minute.

    The validator warns about two entries with the same atom:updated; RFC 4287
    allows it and feedletter does not invent times, so that warning alone is allowed.
    """
    config = load_config(ROOT / "config.yaml")
    config = config.model_copy(
        update={
            "output": tmp_path / "out",
            "cache": None,
            "archives": config.archives.model_copy(update={"enabled": True, "page_size": 50}),
        }
    )
    build_feeds(config, NOW)
    assert list((tmp_path / "out").rglob("archive/*.xml")), "no archive page was written"
    report = w3c_check(tmp_path / "out")
    assert report.errors == 0, report.text
    problems = [
        line.strip()
        for line in report.text.splitlines()
        if line.startswith("    ") and "same value for atom:updated" not in line
    ]
    assert problems == [], report.text


def test_the_golden_fixture_is_valid_without_warnings() -> None:
    # test_golden proves a build writes exactly these bytes
    report = w3c_check(FIXTURE / "expected")
    assert report.files == 17
    assert (report.errors, report.warnings) == (0, 0), report.text


def test_hostile_records_give_no_errors(hostile_project: Config) -> None:  # noqa: F811
    build_feeds(hostile_project, NOW)
    report = w3c_check(hostile_project.output)
    assert report.files == 16
    assert report.errors == 0, report.text
    # markup in titles, summaries and content would mean escaping failed; an Atom
    # person <name> is plain text by RFC 4287 and is left as the record gives it
    for sign in (
        "title should not contain HTML",
        "summary should not contain HTML",
        "description should not contain",
        "content should not contain",
        "IRI found",
        "Invalid HTML",
    ):
        assert sign not in report.text, report.text


@pytest.mark.parametrize("name", ["atom.xml", "rss.xml"])
def test_markup_in_record_text_reaches_readers_as_text(
    hostile_project: Config,  # noqa: F811
    name: str,
) -> None:
    import feedparser

    build_feeds(hostile_project, NOW)
    parsed = feedparser.parse((hostile_project.output / name).read_bytes())
    by_link = {e.link: e for e in parsed.entries}
    script = by_link["https://hostile.example/25-script-title"]
    # HTML that shows the text: the excerpt's <img onerror> is escaped, not an element
    assert "<img" not in script.summary and "&lt;img src=x onerror=alert(2)&gt;" in script.summary
    assert "<script" not in script.title and "&lt;script&gt;" in script.title
    amp = by_link["https://hostile.example/57-markup-in-text"]
    assert "<b>" not in amp.title and "&lt;b&gt;team up&lt;/b&gt;" in amp.title


def test_json_feed_html_is_escaped_text(hostile_project: Config) -> None:  # noqa: F811
    import json

    from .test_hostile import assert_safe_html

    build_feeds(hostile_project, NOW)
    items = json.loads((hostile_project.output / "feed.json").read_text())["items"]
    by_url = {item["url"]: item for item in items}
    script = by_url["https://hostile.example/25-script-title"]
    assert_safe_html(script["content_html"])
    assert "&lt;img src=x onerror=alert(2)&gt;" in script["content_html"]
    # plain-text fields stay plain text in JSON Feed
    assert script["title"] == "<script>alert(1)</script> headline"
    assert script["summary"].startswith("<img src=x onerror=alert(2)>")
