"""Hostile records (tests/data/hostile/, one file per case): rejected with a reason,
or sanitised — and either way the build completes, every feed parses, nothing
executable or non-http(s) reaches a feed or an email, and nothing is written
outside output/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import feedparser
import pytest
from lxml import etree
from lxml import html as lxml_html

from feeds.build import build_feeds, load_project
from feeds.model import Article
from feeds.urls import story_key
from newsletter.config import Config, load_config
from newsletter.issue.pipeline import issue_period, make_issue

from .conftest import DATA, NOW, ROOT

HOSTILE = DATA / "hostile"

# case -> substring of the rejection reason
REJECTED = {
    "01-malformed-yaml": "front matter is not valid YAML",
    "02-no-front-matter": "no YAML front matter",
    "03-empty": "the file is empty",
    "04-binary": "not UTF-8 text",
    "05-latin1": "not UTF-8 text",
    "08-alias-bomb": "YAML anchors and aliases are not allowed",
    "09-python-tag": "could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply",
    "10-python-name-tag": "could not determine a constructor",
    "11-quality-word": "quality must be a whole number, not 'high'",
    "14-published-string": "published must be true or false, not 'yes'",
    "18-year-0001": "publishedDateTime 0001-01-01 is outside 1970-9000",
    "19-word-date": "publishedDateTime 'yesterday' is not an ISO 8601 date",
    "23-lone-surrogates": "found invalid Unicode character escape code",
    "26-javascript-url": "is not an absolute http(s) URL",
    "27-data-url": "is not an absolute http(s) URL",
    "28-relative-url": "is not an absolute http(s) URL",
    "39-whitespace-title": "no title",
    "40-url-with-quote": "is not an absolute http(s) URL",
    "41-url-with-space": "is not an absolute http(s) URL",
    "46-deep-nesting": "front matter is not valid YAML",
    "48-front-matter-list": "front matter is empty or not a YAML mapping",
    "50-url-credentials": "is not an absolute http(s) URL",
    "51-ftp-url": "is not an absolute http(s) URL",
    "56-bad-idn-host": "is not an absolute http(s) URL",
    "53-ten-megabytes": "more than limits.max_record_bytes (1,048,576)",
}


def _one(articles: dict[str, Article], case: str) -> Article:
    return articles[f"news/{case}.md"]


# case -> check on the sanitised article
SANITISED: dict[str, Callable[[Article], bool]] = {
    "06-utf8-bom": lambda a: a.title == "A hostile record",
    "07-crlf": lambda a: a.title == "CRLF line ends",
    "12-topics-string": lambda a: a.topics == ("Portals",),
    "13-images-number": lambda a: a.images == (),
    "15-naive-date": lambda a: a.published_at.isoformat() == "2021-06-01T10:00:00+00:00",
    "16-offset-date": lambda a: a.published_at.isoformat() == "2021-06-01T10:00:00+00:00",
    "17-far-future-date": lambda a: a.published_at.year == 2999,  # held back until due
    "20-duplicate-url-a": lambda a: a.key == "hostile.example/same-story",
    "21-duplicate-url-b": lambda a: a.key == "hostile.example/same-story",
    "22-xml-illegal-chars": lambda a: (
        a.title == "Bell and escape and NUL chars" and a.excerpt == "Formfeed and control"
    ),
    "24-cdata-end": lambda a: "]]>" in a.title,
    "25-script-title": lambda a: a.title == "<script>alert(1)</script> headline",
    "29-javascript-image": lambda a: (
        [i.url for i in a.images] == ["https://hostile.example/ok.png"]
    ),
    "30-javascript-related": lambda a: [r.url for r in a.related] == ["https://other.example/fine"],
    "31-crlf-title": lambda a: a.title == "Subject Bcc: victim@example.com",
    "32-crlf-provider": lambda a: (
        a.provider is not None and a.provider.name == "Evil X-Injected: yes"
    ),
    "33-topic-traversal": lambda a: "Portals" in a.topics and "../../etc/passwd" in a.topics,
    "34-topic-very-long": lambda a: len(a.topics[0]) == 5000,
    "35-rtl-marks": lambda a: "\u202e" in a.title,
    "36-emoji": lambda a: "\U0001f680" in a.title,
    "37-combining": lambda a: "e\u0301" in a.title,
    "38-entity-script": lambda a: a.title == "<script>alert(1)</script>",
    "42-onerror-image": lambda a: a.images == (),
    "43-topics-mapping-items": lambda a: a.topics == ("Portals",),
    "44-related-not-list": lambda a: a.related == (),
    "45-provider-not-mapping": lambda a: a.provider is None,
    "47-duplicate-keys": lambda a: a.title == "Second",
    "49-huge-width": lambda a: (a.images[0].width, a.images[0].height) == (None, None),
    # written as a URI; the story's identity (and GUID) still comes from the IRI
    "52-unicode-url": lambda a: (
        a.url == "https://hostile.example/caf%C3%A9?q=%E2%98%83"
        and a.key == story_key("https://hostile.example/café?q=☃")
    ),
    "55-idn-urls": lambda a: (
        a.url == "https://xn--bcher-kva.example/stra%C3%9Fe/a%20b?q=%C3%BC&r=100%25"
        and [i.url for i in a.images] == ["https://bilder.xn--bcher-kva.example/%C3%BC.png"]
        and [r.url for r in a.related] == ["https://ex.example/%C3%B1#t%C3%ADtulo"]
        and a.provider is not None
        and a.provider.logo is not None
        and a.provider.logo.url == "https://logo.example/%C3%A9.png"
    ),
    "57-markup-in-text": lambda a: (
        a.title == "AT&T & Microsoft <b>team up</b> on R&D at <i>scale</i>"
    ),
    "54-megabyte-excerpt": lambda a: len(a.excerpt) <= 5000 and a.excerpt.endswith("…"),
}


@pytest.fixture(scope="module")
def hostile_project(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """The fixture topics and config with every hostile record (and two big ones)."""
    project = tmp_path_factory.mktemp("hostile")
    shutil.copytree(DATA / "fixture" / "topics", project / "topics")
    shutil.copytree(HOSTILE, project / "news")
    # the two big cases are made here rather than kept in git
    big = project / "news" / "53-ten-megabytes.md"
    big.write_bytes(b'---\ntitle: "Ten megabytes"\n---\n' + b"x" * 10_000_000)
    (project / "news" / "54-megabyte-excerpt.md").write_text(
        '---\ntitle: "A megabyte excerpt"\npublishedDateTime: 2021-06-01T10:00:00Z\n'
        'webUrl: "https://hostile.example/54"\nquality: 90\ntopics:\n  - Portals\n'
        'excerpt: "' + "word " * 200_000 + '"\n---\n'
    )
    config = (DATA / "fixture" / "config.yaml").read_text()
    config = config.replace("templates: ../../../templates", f"templates: {ROOT / 'templates'}")
    config = config.replace("max_items: 5", "max_items: 100")
    (project / "config.yaml").write_text(config)
    return load_config(project / "config.yaml")


def test_there_are_at_least_40_cases() -> None:
    cases = {p.stem for p in HOSTILE.glob("*.md")} | {"53-ten-megabytes", "54-megabyte-excerpt"}
    assert len(cases) >= 40
    assert cases == set(REJECTED) | set(SANITISED)  # every case has an expected outcome


def test_each_case_is_rejected_with_its_reason_or_sanitised(hostile_project: Config) -> None:
    corpus = load_project(hostile_project).corpus
    reasons = {str(e.path): e.reason for e in corpus.rejected}
    for case, reason in REJECTED.items():
        assert reason in reasons.get(f"news/{case}.md", ""), (case, reasons.get(f"news/{case}.md"))
    articles = {a.path: a for a in corpus.articles}
    assert set(articles) == {f"news/{case}.md" for case in SANITISED}
    for case, check in SANITISED.items():
        assert check(_one(articles, case)), (case, _one(articles, case))


def test_the_build_completes_and_every_feed_parses_cleanly(hostile_project: Config) -> None:
    result = build_feeds(hostile_project, NOW)
    out = hostile_project.output
    feeds = sorted(out.rglob("*.xml"))
    assert len(feeds) == 16
    for path in feeds:
        parsed = feedparser.parse(path.read_bytes())
        assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
        etree.parse(str(path))  # strict XML too
        for entry in parsed.entries:
            assert entry.link.startswith(("https://", "http://"))
    # the higher-quality duplicate represents the story; the future one waits
    portals = (out / "topics" / "portals" / "atom.xml").read_text()
    assert "Same story, higher quality" in portals and "Same story, lower quality" not in portals
    assert "hostile.example/17-far-future-date" not in portals
    assert result.summary.duplicates == 1


def test_no_script_handler_or_bad_url_reaches_feed_html_or_pages(hostile_project: Config) -> None:
    build_feeds(hostile_project, NOW)
    out = hostile_project.output
    for path in out.rglob("*.xml"):
        for entry in feedparser.parse(path.read_bytes()).entries:
            for content in entry.get("content", []):
                assert_safe_html(content.value)
    for path in out.rglob("*.html"):
        assert_safe_html(path.read_text())


def assert_safe_html(markup: str) -> None:
    if not markup.strip():
        return
    tree = lxml_html.fromstring(markup)
    assert not tree.xpath("//script | //iframe | //object | //embed")
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (element.tag, name)
            if name in ("href", "src"):
                assert value.startswith(("https://", "http://")), value


def test_the_digest_is_safe_too(hostile_project: Config) -> None:
    config = hostile_project.model_copy(
        update={"newsletter": hostile_project.newsletter.model_copy(update={"items_per_topic": 50})}
    )
    issue = make_issue(load_project(config), config, issue_period(config, date(2021, 6, 2)))
    assert_safe_html(issue.html)
    assert "<script>alert(1)</script> headline" in issue.text  # as text, in the text part
    assert "Bcc:" not in issue.subject


def test_nothing_is_written_outside_output(hostile_project: Config) -> None:
    root = hostile_project.output.parent
    before = {p for p in root.rglob("*") if not p.is_relative_to(hostile_project.output)}
    build_feeds(hostile_project, NOW)
    after = {p for p in root.rglob("*") if not p.is_relative_to(hostile_project.output)}
    new = {p for p in after - before if not p.is_relative_to(root / "var")}
    assert new == set()
    assert not Path("/tmp/feedletter-pwned").exists()
    topics = {p.name for p in (hostile_project.output / "topics").iterdir()}
    assert topics == {t.stem.split("-", 1)[1] for t in (root / "topics").glob("*.yaml")}


URL_TOKEN = re.compile(r"https?://[^\s\"'<>]+")


def test_every_url_written_is_a_uri(hostile_project: Config) -> None:
    """Feeds, pages and both parts of the email carry URIs, never IRIs (55-idn-urls)."""
    build_feeds(hostile_project, NOW)
    config = hostile_project.model_copy(
        update={"newsletter": hostile_project.newsletter.model_copy(update={"items_per_topic": 50})}
    )
    issue = make_issue(load_project(config), config, issue_period(config, date(2021, 6, 2)))
    texts = {"email.html": issue.html, "email.txt": issue.text}
    for path in hostile_project.output.rglob("*"):
        if path.is_file() and path.suffix in {".xml", ".html", ".json", ".opml"}:
            texts[str(path)] = path.read_text()
    seen = 0
    for name, text in texts.items():
        for url in URL_TOKEN.findall(text):
            assert url.isascii(), (name, url)
            seen += "xn--bcher-kva.example" in url
    assert seen >= 5  # the IDN story reached feeds, pages and the email, as URIs
