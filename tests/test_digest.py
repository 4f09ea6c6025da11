"""The digest: planning from the collector's selection, rendering, the message."""

from __future__ import annotations

import email
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html
from markupsafe import escape

from feeds.build import Project, load_project, select
from newsletter.config import Config, load_config
from newsletter.errors import EmptyIssueError
from newsletter.issue.message import compose
from newsletter.issue.pipeline import current_period, issue_period, make_issue, write_issue
from newsletter.issue.plan import period_ending, plan_issue, score
from newsletter.issue.render import RECIPIENT, UNSUBSCRIBE_URL, RenderedIssue
from newsletter.runtime.migrate import migrate

from .conftest import ROOT, in_folder

BUSY_WEEK = date(2021, 11, 7)  # 2021-W44: the sample's busiest week
# the Monday after the busy week, once the digest schedule (08:00 London) has run
MONDAY_AFTER_BUSY_WEEK = datetime(2021, 11, 8, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def sample() -> tuple[Config, Project]:
    config = load_config(ROOT / "config.yaml")
    return config, load_project(config)


@pytest.fixture(scope="module")
def busy_issue(sample: tuple[Config, Project]) -> RenderedIssue:
    config, project = sample
    return make_issue(project, config, issue_period(config, BUSY_WEEK))


def parse_eml(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def test_period_and_issue_id() -> None:
    period = period_ending(date(2026, 11, 26), 7)
    assert period.start == datetime(2026, 11, 20, tzinfo=UTC)
    assert period.end == datetime(2026, 11, 27, tzinfo=UTC)
    assert period.issue_id == "2026-W48"
    assert period.last_day == date(2026, 11, 26)
    assert period.first_day == date(2026, 11, 20)
    # a Sunday ends the ISO week: its period belongs to that week
    assert period_ending(date(2026, 11, 29), 7).issue_id == "2026-W48"


def test_periods_are_whole_local_days() -> None:
    la = ZoneInfo("America/Los_Angeles")
    period = period_ending(date(2026, 11, 29), 7, la)
    assert period.end == datetime(2026, 11, 30, 8, tzinfo=UTC)  # local midnight, PST
    assert period.start == datetime(2026, 11, 23, 8, tzinfo=UTC)
    # the week is the local one, although the end is Monday in UTC
    assert (period.issue_id, period.first_day, period.last_day) == (
        "2026-W48",
        date(2026, 11, 23),
        date(2026, 11, 29),
    )
    # a DST change inside: local midnights, so one day is 25 hours long
    autumn = period_ending(date(2026, 11, 7), 7, la)
    assert autumn.end - autumn.start == timedelta(days=7, hours=1)


@pytest.mark.parametrize(
    ("now", "last_day"),
    [
        # "0 8 * * mon" in Europe/London: from one Monday 08:00 to the next
        (datetime(2026, 11, 30, 8, 0, tzinfo=UTC), date(2026, 11, 29)),
        (datetime(2026, 11, 30, 13, 7, 42, 123456, tzinfo=UTC), date(2026, 11, 29)),
        (datetime(2026, 12, 3, 23, 59, tzinfo=UTC), date(2026, 11, 29)),
        (datetime(2026, 12, 7, 7, 59, tzinfo=UTC), date(2026, 11, 29)),
        (datetime(2026, 12, 7, 8, 0, tzinfo=UTC), date(2026, 12, 6)),
        # British Summer Time: 08:00 London is 07:00 UTC
        (datetime(2026, 6, 1, 6, 59, tzinfo=UTC), date(2026, 5, 24)),
        (datetime(2026, 6, 1, 7, 0, tzinfo=UTC), date(2026, 5, 31)),
    ],
)
def test_the_current_period_does_not_move_within_a_week(
    sample: tuple[Config, Project], now: datetime, last_day: date
) -> None:
    config, _ = sample
    assert config.schedule.timezone == "Europe/London"
    assert config.schedule.digest == "0 8 * * mon"
    period = current_period(config, now)
    assert period == issue_period(config, last_day)
    assert period.end.astimezone(ZoneInfo("Europe/London")).time() == time(0)


def test_without_a_digest_schedule_the_period_ends_with_the_last_whole_day(
    sample: tuple[Config, Project],
) -> None:
    config, _ = sample
    config = config.model_copy(
        update={"schedule": config.schedule.model_copy(update={"digest": None})}
    )
    now = datetime(2026, 11, 27, 1, 30, tzinfo=UTC)
    assert current_period(config, now).last_day == date(2026, 11, 26)


def test_the_digest_uses_the_collectors_selection(
    sample: tuple[Config, Project], busy_issue: RenderedIssue
) -> None:
    _, project = sample
    period = busy_issue.plan.period
    selection = select(project, now=period.end, since=period.start)
    selected = {a.path for a in selection.everything.articles}
    shown = {i.article.path for i in busy_issue.plan.items}
    assert shown <= selected
    # every qualifying story is accounted for: shown, or left out because a section was full
    assert len(shown) + busy_issue.plan.left_out == len(selected)
    # records the feeds exclude (unpublished, low quality) are excluded here too
    in_week = [a for a in project.corpus.articles if period.start < a.published_at <= period.end]
    excluded = [a for a in in_week if not a.published or a.quality < 70]
    assert excluded, "the busy week should hold excluded records for this test"
    assert not {a.path for a in excluded} & shown


def test_excluded_records_never_reach_the_digest(
    load_fixture_config: Callable[[], Config],
) -> None:
    config = load_fixture_config()
    issue = make_issue(load_project(config), config, issue_period(config, date(2021, 4, 2)))
    paths = {i.article.path for i in issue.plan.items}
    assert "news/2021-04-01-low-quality.md" not in paths  # quality 10 < 50
    assert "news/2021-04-02-unknown-topic.md" not in paths  # in no topic
    assert "news/2020-05-29-seed-clearview.md" not in paths  # published: false
    for text in (issue.html, issue.text):
        assert "A low-quality canvas apps post" not in text
        assert "Power Automate gets a new designer" not in text
    # the duplicate collapsed to the better record
    assert "news/2020-11-18-layout-containers-syndicated.md" not in paths
    assert (
        "news/2020-11-17-new-layout-containers-in-canvas-apps-make-responsive-apps-easier.md"
        in paths
    )


def test_each_story_once_in_its_most_specific_topic(sample: tuple[Config, Project]) -> None:
    config, project = sample
    period = issue_period(config, BUSY_WEEK)
    selection = select(project, now=period.end, since=period.start)
    plan = plan_issue(selection, project.topics, period, items_per_topic=50, top_stories=0)
    paths = [i.article.path for i in plan.items]
    assert len(paths) == len(set(paths))
    for section in plan.sections:
        assert section.topic is not None
        for item in section.items:
            tids = selection.membership[item.article.path]
            deepest = max(project.topics.depth(t) for t in tids)
            assert project.topics.depth(section.topic.id) == deepest
    names = [s.topic.name for s in plan.sections if s.topic]
    assert names == ["Power Apps", "Portals", "Teams integration"]  # config order
    # sections are ranked by score, best first
    for section in plan.sections:
        scores = [i.score for i in section.items]
        assert scores == sorted(scores, reverse=True)


def test_top_stories_are_the_best_scored(busy_issue: RenderedIssue) -> None:
    plan = busy_issue.plan
    assert len(plan.top.items) == 3
    best_elsewhere = max(i.score for s in plan.sections for i in s.items)
    assert min(i.score for i in plan.top.items) >= best_elsewhere


def test_score_formula() -> None:
    from tests.test_collector import article

    period = period_ending(date(2024, 5, 31), 7)
    newest = article(0, quality=80, heat=20, published_at=period.end)
    oldest = article(1, quality=80, heat=-5, published_at=period.start)
    assert score(newest, period) == 80 + 10 + 30
    assert score(oldest, period) == 80
    middle = article(2, quality=0, heat=0, published_at=period.end - timedelta(days=3.5))
    assert score(middle, period) == pytest.approx(15)


def test_html_is_inlined_safe_and_within_budget(busy_issue: RenderedIssue) -> None:
    html = busy_issue.html
    assert len(html.encode()) <= 90_000
    tree = lxml_html.fromstring(html)
    assert not tree.xpath("//script") and "<script" not in html.lower()
    assert not tree.xpath("//link[@rel='stylesheet']") and "@import" not in html
    assert "@font-face" not in html
    # styles were inlined; the media query stays in <style> with !important
    assert len(tree.xpath("//*[@style]")) > 20
    (style,) = tree.xpath("//style")
    assert "@media" in style.text and "!important" in style.text
    assert "width: 100% !important" in style.text
    assert tree.xpath("//table[@width='600']")
    for element in tree.iter():
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (name, value)
    hrefs = [a.get("href") for a in tree.xpath("//a")]
    assert hrefs and all(h.startswith(("https://", "http://")) for h in hrefs)
    images = tree.xpath("//img")
    assert images
    for img in images:
        assert img.get("alt") and img.get("width") and img.get("height")
        assert img.get("src").startswith("https://")


def flat(text: str) -> str:
    """Whitespace collapsed: the text part wraps long titles over several lines."""
    return " ".join(text.split())


def test_every_story_title_and_url_in_both_parts(busy_issue: RenderedIssue) -> None:
    for item in busy_issue.plan.items:
        url = item.article.url
        assert item.article.title in flat(busy_issue.text)
        assert str(escape(item.article.title)) in busy_issue.html
        assert url in busy_issue.text
        assert url.replace("&", "&amp;") in busy_issue.html


def test_utm_parameters_keep_existing_queries_and_can_be_switched_off(
    sample: tuple[Config, Project],
) -> None:
    config, project = sample
    video = "https://youtube.com/watch?v=h70jOr56EKs"  # a record with a query string
    period = issue_period(config, date(2020, 5, 20))
    issue = make_issue(project, config, period)
    tagged = f"{video}&utm_source=feedletter&utm_medium=email&utm_campaign={period.issue_id}"
    assert any(i.article.url == video for i in issue.plan.items)
    assert tagged in issue.text
    assert tagged.replace("&", "&amp;") in issue.html
    off = config.model_copy(
        update={
            "newsletter": config.newsletter.model_copy(
                update={"utm": config.newsletter.utm.model_copy(update={"enabled": False})}
            )
        }
    )
    plain = make_issue(project, off, period)
    assert "utm_" not in plain.text and "utm_" not in plain.html
    assert f"{video}\n" in plain.text


def test_over_budget_issues_show_fewer_stories(sample: tuple[Config, Project]) -> None:
    config, project = sample
    budget = 12_000
    small = config.model_copy(
        update={
            "newsletter": config.newsletter.model_copy(
                update={"max_html_bytes": budget, "items_per_topic": 20, "period_days": 60}
            )
        }
    )
    issue = make_issue(project, small, issue_period(small, BUSY_WEEK))
    assert issue.plan.trimmed > 0
    assert len(issue.html.encode()) <= budget
    assert issue.plan.top.items  # top stories are the last to go


def test_biggest_issue_on_the_sample_fits_the_default_budget(
    sample: tuple[Config, Project],
) -> None:
    config, project = sample
    year = config.model_copy(
        update={"newsletter": config.newsletter.model_copy(update={"period_days": 366})}
    )
    issue = make_issue(project, year, issue_period(year, date(2021, 12, 31)))
    assert issue.plan.trimmed == 0
    assert len(issue.html.encode()) <= 90_000


def test_empty_period_is_refused_unless_forced(sample: tuple[Config, Project]) -> None:
    config, project = sample
    period = issue_period(config, date(2026, 11, 26))
    with pytest.raises(EmptyIssueError, match=r"no qualifying articles.*--force"):
        make_issue(project, config, period)
    forced = make_issue(project, config, period, force=True)
    assert forced.plan.is_empty and "No new stories in this period." in forced.text


def test_message_structure_headers_and_personalisation(busy_issue: RenderedIssue) -> None:
    config = load_config(ROOT / "config.yaml")
    unsubscribe = "https://news.example.org/powerapps/unsubscribe?token=abc&x=1"
    message = compose(
        busy_issue,
        config.newsletter,
        config.site,
        recipient="ada@example.net",
        unsubscribe_url=unsubscribe,
        date=datetime(2021, 11, 8, 8, tzinfo=UTC),
    )
    parsed = parse_eml(message.as_bytes())
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    text, html = (p.get_content() for p in parts)
    assert parsed["To"] == "ada@example.net"
    assert parsed["Subject"] == "Power Apps News weekly — 7 November 2021"
    assert parsed["Date"] == "Mon, 08 Nov 2021 08:00:00 +0000"
    assert re.fullmatch(r"<2021-W44\.[0-9a-f]{24}@news\.example\.org>", parsed["Message-ID"])
    assert parsed["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert RECIPIENT not in text + html and UNSUBSCRIBE_URL not in text + html
    assert "ada@example.net" in text and "ada@example.net" in html
    assert f"Unsubscribe: {unsubscribe}" in text
    assert f'href="{unsubscribe.replace("&", "&amp;")}"' in html


def test_written_issue_eml_parses_back(
    busy_issue: RenderedIssue, sample: tuple[Config, Project], tmp_path: Path
) -> None:
    config, _ = sample
    config = in_folder(config, tmp_path)
    result = write_issue(config, busy_issue)
    # only the web copy is public; the message parts, sample and metadata are state
    assert {p.name for p in (tmp_path / "output" / "newsletter" / "2021-W44").iterdir()} == {
        "index.html"
    }
    folder = tmp_path / "var" / "issues" / "2021-W44"
    assert {p.name for p in folder.iterdir()} == {
        "email.html",
        "email.txt",
        "sample.eml",
        "issue.json",
    }
    assert result.html_bytes == len((folder / "email.html").read_bytes())
    parsed = parse_eml((folder / "sample.eml").read_bytes())
    for name in (
        "Subject",
        "From",
        "To",
        "Date",
        "Message-ID",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "MIME-Version",
    ):
        assert parsed[name], name
    assert "mailto:" not in parsed["List-Unsubscribe"]  # none configured for the sample
    text, html = (p.get_content() for p in parsed.iter_parts())
    for item in busy_issue.plan.items:
        assert item.article.title in flat(text) and item.article.url in text
        assert item.article.url.replace("&", "&amp;") in html
    web = (tmp_path / "output" / "newsletter" / "2021-W44" / "index.html").read_text()
    assert "Unsubscribe" not in web and "View in your browser" not in web
    assert (tmp_path / "output" / "newsletter" / "index.html").read_text().count("2021-W44") >= 1


def test_writing_the_same_period_again_changes_no_byte(
    sample: tuple[Config, Project], tmp_path: Path
) -> None:
    """Every run inside one period writes identical files, the issues feed included."""
    config, project = sample
    config = in_folder(config, tmp_path)
    period = current_period(config, MONDAY_AFTER_BUSY_WEEK)
    assert period == issue_period(config, BUSY_WEEK)
    first = write_issue(config, make_issue(project, config, period))
    assert first.report.written and first.private.written
    later = MONDAY_AFTER_BUSY_WEEK + timedelta(days=3, hours=5, microseconds=17)
    again = write_issue(config, make_issue(project, config, current_period(config, later)))
    assert again.report.written == () and again.private.written == ()


def test_output_holds_only_public_files(
    busy_issue: RenderedIssue, sample: tuple[Config, Project], tmp_path: Path
) -> None:
    config = in_folder(sample[0], tmp_path)
    # an older feedletter left the private files in output/: they move to the state
    old = tmp_path / "output" / "newsletter" / "2021-W40"
    old.mkdir(parents=True)
    for name in ("email.html", "email.txt", "sample.eml"):
        (old / name).write_text("FEEDLETTER-RECIPIENT-ADDRESS")
    (old / "issue.json").write_text((ROOT / "tests" / "data" / "old-issue.json").read_text())
    assert {p.name for p in migrate(config).moved} == {
        "email.html",
        "email.txt",
        "issue.json",
        "sample.eml",
    }
    write_issue(config, busy_issue)
    public = [p for p in (tmp_path / "output").rglob("*") if p.is_file()]
    assert {p.name for p in public} == {"index.html", "atom.xml"}
    for path in public:
        text = path.read_text()
        assert "FEEDLETTER-RECIPIENT" not in text and "reader@example.com" not in text
    moved = tmp_path / "var" / "issues" / "2021-W40"
    assert sorted(p.name for p in moved.iterdir()) == [
        "email.html",
        "email.txt",
        "issue.json",
        "sample.eml",
    ]
    # the moved issue is still in the archive
    assert "2021-W40" in (tmp_path / "output" / "newsletter" / "index.html").read_text()


def test_archive_lists_every_issue_and_is_a_valid_feed(
    sample: tuple[Config, Project], tmp_path: Path
) -> None:
    import feedparser

    config, project = sample
    config = in_folder(config, tmp_path)
    tmp_path = tmp_path / "output"
    for day in (date(2021, 10, 31), BUSY_WEEK, date(2021, 8, 29)):
        write_issue(config, make_issue(project, config, issue_period(config, day)))
    feed = feedparser.parse((tmp_path / "newsletter" / "atom.xml").read_bytes())
    assert feed.bozo == 0
    assert [e.link for e in feed.entries] == [
        f"https://news.example.org/powerapps/newsletter/{i}/"
        for i in ("2021-W44", "2021-W43", "2021-W34")
    ]
    index = (tmp_path / "newsletter" / "index.html").read_text()
    assert index.index("2021-W44") < index.index("2021-W43") < index.index("2021-W34")


def test_record_strings_are_escaped_everywhere(
    load_fixture_config: Callable[[], Config], fixture_project: Path
) -> None:
    record = fixture_project / "news" / "2021-04-02-unknown-topic.md"
    record.write_text(
        record.read_text()
        .replace(
            'title: "Power Automate gets a new designer"',
            'title: "<script>alert(1)</script> & <img src=x onerror=alert(2)>"',
        )
        .replace("  - Power Automate", "  - Canvas apps")
        .replace("quality: 95", "quality: 200")  # the lead story
    )
    config = load_fixture_config()
    issue = make_issue(load_project(config), config, issue_period(config, date(2021, 4, 2)))
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(2)&gt;"
        in issue.html
    )
    tree = lxml_html.fromstring(issue.html)
    assert not tree.xpath("//script") and not tree.xpath("//img[@onerror]")
    assert "<script>alert(1)</script> & <img src=x onerror=alert(2)>" in issue.text


@pytest.mark.parametrize("mailto", [None, "unsubscribe@news.example.org"])
def test_prepared_messages_equal_composed_ones(
    busy_issue: RenderedIssue, mailto: str | None
) -> None:
    """The fast per-recipient path gives the same headers and parts as ``compose``."""
    from newsletter.issue.message import PreparedMessage

    config = load_config(ROOT / "config.yaml")
    settings = config.newsletter.model_copy(
        update={"unsubscribe_mailto": mailto, "reply_to": "editor@news.example.org"}
    )
    prepared = PreparedMessage(busy_issue, settings, config.site)
    when = datetime(2021, 11, 8, 8, tzinfo=UTC)
    for recipient, link in [
        ("ada@example.net", "https://news.example.org/powerapps/unsubscribe?token=1.abc&x=<1>"),
        ("bob.o'neil+digest@example.org", "https://news.example.org/u?token=2.def"),
        ("zoe@example.org", "https://news.example.org/ü?token=3.ghi"),  # not ASCII: slow path
    ]:
        fast_bytes, fast_id = prepared.message(recipient, link, when)
        slow = parse_eml(
            compose(
                busy_issue,
                settings,
                config.site,
                recipient=recipient,
                unsubscribe_url=link,
                date=when,
            ).as_bytes()
        )
        fast = parse_eml(fast_bytes)
        assert fast_id == slow["Message-ID"]
        names = {
            "Subject",
            "From",
            "To",
            "Reply-To",
            "Date",
            "Message-ID",
            "List-Id",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
            "MIME-Version",
        }
        assert {n: str(fast[n]) for n in names} == {n: str(slow[n]) for n in names}
        assert fast.get_content_type() == "multipart/alternative"
        fast_parts = [(p.get_content_type(), p.get_content()) for p in fast.iter_parts()]
        slow_parts = [(p.get_content_type(), p.get_content()) for p in slow.iter_parts()]
        assert fast_parts == slow_parts
        assert all(len(line) <= 998 for line in fast_bytes.split(b"\r\n"))
        body = fast_bytes.split(b"\r\n\r\n", 1)[1]
        assert all(len(line) <= 76 for line in body.split(b"\r\n"))
        assert b"\n" not in fast_bytes.replace(b"\r\n", b"")


@settings(max_examples=300)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from('ab =\t.é😀<>&"\r\n\x0b\u2028'), max_size=120)
        | st.sampled_from(
            [
                "FEEDLETTER-RECIPIENT-ADDRESS",
                "https://feedletter.invalid/FEEDLETTER-UNSUBSCRIBE-URL",
            ]
        ),
        max_size=12,
    ),
    st.booleans(),
)
def test_a_part_encoded_once_equals_the_whole_part_encoded(pieces: list[str], html: bool) -> None:
    """Quoted-printable is line-local: encoding the static lines once and the filled
    ones per recipient gives the bytes of encoding the whole filled part."""
    import binascii

    from markupsafe import escape

    from newsletter.issue.message import _EncodedPart
    from newsletter.issue.render import PREFERENCES_URL, RECIPIENT, UNSUBSCRIBE_URL

    body = "".join(pieces)
    values = ("o'neil+x@example.org", "https://n.example/u?token=1.a&b=<2>", "https://n.example/p")
    filled = body
    for mark, value in zip((RECIPIENT, UNSUBSCRIBE_URL, PREFERENCES_URL), values, strict=True):
        filled = filled.replace(mark, str(escape(value)) if html else value)
    text = filled if filled.endswith("\n") else filled + "\n"
    while "\r\n" in text:
        text = text.replace("\r\n", "\n")
    whole = binascii.b2a_qp(text.encode(), istext=True).replace(b"\n", b"\r\n")
    assert _EncodedPart(body, html=html).filled(*values) == whole


@settings(max_examples=1000)
@given(st.text(alphabet=st.sampled_from("aZ09!#$%&'*+/=?^_`{|}~-.@\"() ,;:<>[]\\é"), min_size=1))
def test_a_plain_address_is_what_the_email_package_and_smtplib_give_back(value: str) -> None:
    """The send path skips both parsers for a plain address (``addresses.is_plain``):
    each must give such an address back unchanged."""
    import smtplib
    from email.headerregistry import Address

    from newsletter.addresses import is_plain

    if is_plain(value):
        assert Address(addr_spec=value).addr_spec == value
        assert smtplib.quoteaddr(value) == f"<{value}>"


def test_plain_addresses_cover_the_usual_ones() -> None:
    from newsletter.addresses import is_plain

    for address in (
        "ada@example.com",
        "bob.o'neil+digest@example.org",
        "x@a-b.example.co.uk",
        "bounces+fl.12.2021-w44.0af3@news.example.org",
    ):
        assert is_plain(address), address  # fmt: skip
    for address in ("=?utf-8?b?PHM+?=@example.com", "a b@example.com", "<a@b.c>", "zoë@x.org"):
        assert not is_plain(address), address


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://news.example.org/powerapps/unsubscribe",
        "https://news.example.org/u?list=weekly&x=a+b",
        "https://news.example.org/u#part",
        "https://news.example.org:8443/ü/unsubscribe",
    ],
)
def test_links_made_for_a_run_equal_signed_links(endpoint: str) -> None:
    from newsletter.audience.tokens import link_maker, signed_link

    make = link_maker(endpoint)
    for token in ("12.0af3", "7.f00d.1796161688.ab", "1.a b+c"):
        assert make(token) == signed_link(endpoint, token)
