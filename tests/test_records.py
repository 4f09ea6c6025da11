"""Parsing single records: fields, cleaning, dates, URLs and rejections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from feeds.errors import RecordError
from feeds.reading.reader import read_record
from feeds.reading.records import parse_datetime, parse_record
from feeds.text import clean_text, strip_xml_illegal, truncate

from .conftest import FIXTURE, ROOT

NEWS = FIXTURE / "news"


def record(**fields: str) -> str:
    base = {
        "title": '"A title"',
        "publishedDateTime": "2021-01-01T00:00:00Z",
        "webUrl": '"https://example.com/a"',
    }
    base.update(fields)
    lines = [f"{k}: {v}" for k, v in base.items() if v is not None]
    return "---\n" + "\n".join(lines) + "\n---\nbody\n"


def test_real_record_every_field() -> None:
    article = read_record(NEWS / "2021-03-02-dataverse-portals-spring.md", label="x.md")
    assert article.path == "x.md"
    # CRLF, entities, a tab, a vertical tab, nbsp and runs of spaces are cleaned
    assert article.title == "Dataverse & portals: what’s new in the spring release"
    assert article.excerpt == (
        "Line one “quoted” line two with a vertical tab <b>not bold</b> and spaces."
    )
    # naive timestamp is UTC; originalUrl is used when webUrl is missing
    assert article.published_at == datetime(2021, 3, 2, 10, 30, tzinfo=UTC)
    assert article.url == "https://example.com/news/dataverse-portals-spring"
    assert article.key == "example.com/news/dataverse-portals-spring"
    assert (article.quality, article.heat, article.published) == (90, 55, True)
    assert article.provider is not None and article.provider.name == "Example News"
    assert article.topics == ("cds", "PORTALS")
    # the javascript: image is dropped, the https one kept with its size
    assert [(i.url, i.width, i.height) for i in article.images] == [
        ("https://example.com/img/spring.jpg", 1200, 630)
    ]
    # related coverage with a data: URL is dropped
    assert [(r.title, r.provider.name if r.provider else None) for r in article.related] == [
        ("Spring release for Dataverse <covered>", "Forbes"),
        ("Portals get a refresh", "SFGate"),
    ]
    assert article.related[0].published_at == datetime(2021, 3, 2, 12, tzinfo=UTC)


def test_seed_record_with_related_and_provider_logo() -> None:
    article = read_record(NEWS / "2020-05-29-seed-clearview.md")
    assert article.published is False
    assert article.quality == 34 and article.heat == -1
    assert article.provider is not None and article.provider.logo is not None
    assert article.provider.logo.width == 50
    assert [r.provider.name for r in article.related if r.provider] == ["Tom's Guide", "SFGate"]
    assert article.related[0].quality == 74
    assert article.related[0].images[0].width == 1200


def test_every_bundled_record_parses() -> None:
    paths = sorted((ROOT / "content" / "news").glob("*.md"))
    assert len(paths) == 674
    articles = [read_record(p) for p in paths]
    assert all(a.published_at.tzinfo is UTC for a in articles)
    assert all(a.url.startswith(("http://", "https://")) for a in articles)
    # records without webUrl fall back to originalUrl
    assert sum("webUrl" not in p.read_text() for p in paths) == 12


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (record(title=None), "no title"),
        (record(title='"   "'), "no title"),
        (record(publishedDateTime=None), "no publishedDateTime"),
        (record(publishedDateTime="yesterday"), "publishedDateTime 'yesterday' is not an ISO"),
        (record(webUrl=None), "no webUrl or originalUrl"),
        (record(webUrl='"javascript:alert(1)"'), "is not an absolute http(s) URL"),
        (record(webUrl='"/relative/path"'), "is not an absolute http(s) URL"),
        (record(webUrl='"ftp://example.com/file"'), "is not an absolute http(s) URL"),
        (record(quality="high"), "quality must be a whole number"),
        (record(published='"yes"'), "published must be true or false"),
        (record(topics="{a: 1}"), "topics must be a list"),
        ("no front matter at all\n", "no YAML front matter"),
        ("", "no YAML front matter"),
        ("---\ntitle: [unclosed\n---\n", "front matter is not valid YAML"),
        (record().replace("\n---\n", "\n"), "the front matter is not closed: add a line '---'"),
        ("---\n- a\n- b\n---\n", "front matter is empty or not a YAML mapping"),
        ("---\ntitle: !!python/object/apply:os.system ['true']\n---\n", "not valid YAML"),
    ],
)
def test_rejections_name_path_and_reason(text: str, reason: str) -> None:
    with pytest.raises(RecordError) as caught:
        parse_record(text, "news/bad.md")
    assert caught.value.path == Path("news/bad.md")
    assert reason in caught.value.reason
    assert str(caught.value).startswith("news/bad.md: ")


def test_unknown_keys_tolerated_and_defaults() -> None:
    article = parse_record(record(somethingNew="1", secured='"abc"'), "a.md")
    assert (article.quality, article.heat, article.published) == (0, 0, True)
    assert article.topics == () and article.related == () and article.provider is None


def test_topics_as_a_single_string_is_one_topic() -> None:
    assert parse_record(record(topics="Portals"), "a.md").topics == ("Portals",)


def test_non_utf8_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "latin1.md"
    path.write_bytes(record(title='"caf\xe9"').encode("latin-1"))
    with pytest.raises(RecordError, match="not UTF-8"):
        read_record(path)


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.md"
    path.write_bytes(b"\xef\xbb\xbf" + record().replace("\n", "\r\n").encode())
    assert read_record(path).title == "A title"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2021, 1, 1, 12), datetime(2021, 1, 1, 12, tzinfo=UTC)),
        (
            datetime(2021, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))),
            datetime(2021, 1, 1, 10, tzinfo=UTC),
        ),
        ("2021-01-01T12:00:00+02:00", datetime(2021, 1, 1, 10, tzinfo=UTC)),
        ("2021-01-01T12:00:00Z", datetime(2021, 1, 1, 12, tzinfo=UTC)),
        ("2021-01-01", datetime(2021, 1, 1, tzinfo=UTC)),
        ("not a date", None),
        (12345, None),
        (None, None),
    ],
)
def test_parse_datetime(value: object, expected: datetime | None) -> None:
    assert parse_datetime(value) == expected


def test_clean_text() -> None:
    assert clean_text("a &amp; b&nbsp;&#8217;c\r\n\td") == "a & b ’c d"
    assert clean_text("x&#1;y\x00z\ud800") == "xyz"
    assert strip_xml_illegal("ok\ufffe\x85\x9f") == "ok\x85"


def test_truncate() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("one two three four five", 14) == "one two three…"
    assert len(truncate("x" * 50, 10)) == 10
