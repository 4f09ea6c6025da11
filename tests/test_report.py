"""``feedletter report`` on a state database filled by the real paths: sign-ups over
HTTP to ``serve`` and their confirmations, an issue sent through aiosmtpd with a
refused and a greylisted reader, a counted click; then the page in Chromium."""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from lxml import html as lxml_html

from feeds.build import build_feeds, load_project
from feeds.errors import ConfigError
from newsletter import state
from newsletter.audience import lifecycle as subs
from newsletter.cli import cli
from newsletter.config import Config, load_config
from newsletter.issue.pipeline import issue_period, make_issue, write_issue
from newsletter.sending.delivery import SendSettings, find_issue, send_issue

from .conftest import NOW
from .smtp_server import Faults, SmtpServer
from .test_browser import CHROMIUM, chromium
from .test_clicks import COUNTED, follow, wait_for_count
from .test_signup import configure, link_in, post
from .test_web import SECRET, Served, serve

READERS = ["ada@example.com", "bob@example.com", "cy@example.com", "dee@example.com"]


@pytest.fixture
def filled(fixture_project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Config]:
    monkeypatch.setenv("FEEDLETTER_SECRET", SECRET.decode())
    monkeypatch.chdir(fixture_project)
    path = fixture_project / "config.yaml"
    path.write_text(
        path.read_text().replace("newsletter:\n", "newsletter:\n  count_clicks: true\n", 1)
    )
    faults = Faults(reject={"bob@example.com"}, greylist={"cy@example.com": 99})
    with SmtpServer(faults) as smtp:
        config = configure(fixture_project, smtp.port)  # two attempts, 10 ms apart
        build_feeds(config, NOW)
        project = load_project(config)
        write_issue(config, make_issue(project, config, issue_period(config, date(2021, 4, 2))))
        for served in serve(config, preview=False):
            for address in ("eve@example.com", "fay@example.com"):  # sign up; eve confirms
                post(served, "/news/subscribe", [("email", address)])
            served.settle()
            confirm = next(m for m in smtp.messages if m["To"] == "eve@example.com")
            assert post(served, link_in(confirm, "confirm"), [])[0] == 200
            served.settle()
        with state.connect(config.database) as conn:
            for address in READERS:
                subs.add(conn, address)
            settings = SendSettings.of(config)
            sent = send_issue(conn, project, settings, find_issue(settings.issues_folder, None))
        assert sorted(sent.sent) == ["ada@example.com", "dee@example.com", "eve@example.com"]
        issue = next(m for m in smtp.messages if m["To"] == "ada@example.com")
        body = issue.get_body(("html",))
        assert body is not None
        links = COUNTED.findall(body.get_content().replace("&amp;", "&"))
        by_target = {link.split("?to=")[1]: link for link in links}  # one link per article
        stories = [link for to, link in sorted(by_target.items()) if "fixture.example" not in to]
        for served in serve(config, preview=False):  # two readers on one story, one on another
            for link, client in ((stories[0], "192.0.2.1"), (stories[0], "192.0.2.2"),
                                 (stories[1], "192.0.2.1")):  # fmt: skip
                status, target = follow(served, link, client)
                assert status == 302
            wait_for_count(config, target, 1)
            wait_for_count(config, follow(served, stories[0], "192.0.2.1")[1], 2)
    yield config


def test_the_report_draws_every_chart_from_what_happened(filled: Config, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", "-o", str(page)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Report: {page} (6 readers, 1 issues sent)\n"
    document = page.read_text(encoding="utf-8")
    assert "<script" not in document and "http://" not in document.replace(
        "http://www.w3.org", ""
    )  # self-contained: no script, nothing fetched
    tree = lxml_html.fromstring(document)
    titles = [" ".join(t.split()) for t in tree.xpath("//svg//text//text()")]
    for title in (
        "Readers by status, per week", "Sign-ups and confirmations per week",
        "Copies per issue", "Bounces and complaints per issue", "Items in each feed",
        "Clicks per story, 2021-W13",
    ):  # fmt: skip
        assert title in titles, title
    assert "0.3%: Gmail's limit for complaints" in titles
    row = [" ".join(td.text_content().split()) for td in tree.xpath("//tbody/tr[1]/td")]
    # issue, first sent, delivered, deferred, failed, hard, soft, complaints, rates
    assert row[0] == "2021-W13" and row[2:8] == ["3", "1", "1", "1", "1", "0"]
    assert row[8] == "66.67%" and "over" in tree.xpath("//tbody/tr[1]/td")[8].get("class")

    figures = json.loads(CliRunner().invoke(cli, ["report", "--json"]).stdout)
    assert {s: v[-1] for s, v in figures["by_status"].items()} == {
        "active": 4, "pending": 1, "paused": 0, "unsubscribed": 0, "bounced": 1,
    }  # fmt: skip
    first, second = figures["clicks"]["2021-W13"]  # most clicked first
    assert (first["clicks"], second["clicks"]) == (2, 1)
    for clicked in (first, second):
        assert clicked["url"].startswith("https://") and "/news/r/" not in clicked["url"]
        assert clicked["title"] and clicked["title"] != clicked["url"]  # the story's title
    assert figures["feeds"][0] == {"title": "Fixture News", "items": 5}


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium binary found")
def test_the_report_opens_from_disk_in_chromium(filled: Config, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    assert CliRunner().invoke(cli, ["report", "-o", str(page)]).exit_code == 0
    dom = lxml_html.fromstring(chromium("--dump-dom", page.as_uri()).stdout)
    assert len(dom.xpath("//svg")) == 6 and not dom.xpath("//script")
    shot = tmp_path / "report.png"
    chromium("--window-size=1000,3400", f"--screenshot={shot}", page.as_uri())
    assert shot.stat().st_size > 20_000  # drawn, not blank
    if os.environ.get("FEEDLETTER_UPDATE_SCREENSHOTS"):  # the picture in the docs
        shutil.copy(shot, Path(__file__).resolve().parent.parent / "docs/screenshots/report.png")


def fetch(served: Served, path: str, password: str | None) -> tuple[int, dict[str, str], str]:
    parts = urlsplit(served.base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    headers = {}
    if password is not None:
        token = base64.b64encode(f"operator:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def test_serve_shows_the_report_to_the_operator_only(
    filled: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = filled.source
    assert path is not None
    path.write_text(path.read_text() + "serve:\n  report_path: /ops/report\n")
    config = load_config(path)
    monkeypatch.delenv("FEEDLETTER_REPORT_PASSWORD", raising=False)
    with pytest.raises(ConfigError) as raised:  # no password: refused at start
        next(serve(config, preview=False))
    assert raised.value.key == "serve.report_path"
    assert "FEEDLETTER_REPORT_PASSWORD" in raised.value.problem
    monkeypatch.setenv("FEEDLETTER_REPORT_PASSWORD", "correct horse battery")
    for served in serve(config, preview=False):
        status, headers, _ = fetch(served, "/news/ops/report", None)
        assert status == 401 and headers["www-authenticate"].startswith('Basic realm="feedletter')
        assert fetch(served, "/news/ops/report", "wrong password!")[0] == 401
        status, headers, body = fetch(served, "/news/ops/report", "correct horse battery")
        assert status == 200 and headers["cache-control"] == "no-store"
        assert "default-src 'none'" in headers["content-security-policy"]
        assert body.count("<svg") == 6 and "<script" not in body
        assert fetch(served, "/ops/report", "correct horse battery")[0] == 404  # under base only
