"""Counted links (``newsletter.count_clicks``): an issue sent through aiosmtpd, a link
taken from the message as received, followed over real HTTP to ``serve``."""

from __future__ import annotations

import http.client
import re
import time
from collections.abc import Iterator
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from feeds.build import build_feeds, load_project
from newsletter import state
from newsletter.audience import lifecycle as subs
from newsletter.config import Config, load_config
from newsletter.issue.pipeline import issue_period, make_issue, write_issue
from newsletter.sending.delivery import SendSettings, find_issue, send_issue

from .conftest import NOW
from .smtp_server import SmtpServer
from .test_signup import configure
from .test_web import SECRET, Served, serve

COUNTED = re.compile(r"https://fixture\.example\.org(/news/r/[^\s\"<>]+)")


@pytest.fixture
def sent(
    fixture_project: Path, monkeypatch: pytest.MonkeyPatch, state_database: str
) -> Iterator[tuple[Config, EmailMessage]]:
    """The fixture's 2021-W13 issue, links counted, as one reader received it."""
    monkeypatch.setenv("FEEDLETTER_SECRET", SECRET.decode())
    path = fixture_project / "config.yaml"
    path.write_text(
        path.read_text().replace("newsletter:\n", "newsletter:\n  count_clicks: true\n", 1)
    )
    with SmtpServer() as smtp:
        config = configure(fixture_project, smtp.port, state_database)
        build_feeds(config, NOW)
        project = load_project(config)
        write_issue(config, make_issue(project, config, issue_period(config, date(2021, 4, 2))))
        settings = SendSettings.of(config)
        with state.connect(config.database) as conn:
            subs.add(conn, "ada@example.com")
            send_issue(conn, project, settings, find_issue(settings.issues_folder, None))
        (message,) = smtp.messages
    yield config, message


def follow(served: Served, path: str, client: str = "") -> tuple[int, str]:
    """GET ``path`` without following the redirect: (status, Location)."""
    parts = urlsplit(served.base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    headers = {"X-Forwarded-For": client} if client else {}
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, response.getheader("location") or ""


def counts(config: Config) -> dict[str, int]:
    with state.connect(config.database) as conn:
        return state.clicks_of(conn, "2021-W13")


def wait_for_count(config: Config, url: str, expected: int) -> None:
    """Until the click counted after the reply is in the database (an observable
    event: the row), or fail after 10 s."""
    deadline = time.monotonic() + 10
    while counts(config).get(url, 0) < expected:
        assert time.monotonic() < deadline, f"{url} was not counted"
        time.sleep(0.02)


def test_a_click_in_a_received_message_redirects_and_counts_once(
    sent: tuple[Config, EmailMessage],
) -> None:
    config, message = sent
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    links = COUNTED.findall(html.get_content().replace("&amp;", "&"))
    assert links and COUNTED.findall(text.get_content())  # both parts lead through serve
    assert "/news/unsubscribe?token=" in text.get_content()  # the reader's own links are not
    assert "/news/r/" not in str(message["List-Unsubscribe"])
    path, other = links[0], next(link for link in links if link != links[0])
    target = parse_qs(urlsplit(path).query)["to"][0]
    assert target.startswith("https://") and "fixture.example.org/news/r/" not in target
    for served in serve(config, preview=False):
        assert follow(served, path) == (302, target)  # at once, to the article
        wait_for_count(config, target, 1)
        assert follow(served, path) == (302, target)  # the same client again: not counted
        assert follow(served, path, client="198.51.100.7") == (302, target)  # another client
        wait_for_count(config, target, 2)
        # a link whose target was changed is no open redirect, and counts nothing
        forged = path.split("?to=")[0] + "?to=" + quote("https://evil.example/", safe="")
        assert follow(served, forged)[0] == 400
        assert follow(served, path.replace("/r/2021-W13/", "/r/2021-W14/"))[0] == 400
        # counted after everything above was answered: what came before has landed
        second = parse_qs(urlsplit(other).query)["to"][0]
        assert follow(served, other, client="203.0.113.9") == (302, second)
        wait_for_count(config, second, 1)
    assert counts(config) == {target: 2, second: 1}
    with state.connect(config.database) as conn:  # what is kept: issue, URL, a number
        (row,) = conn.rows("SELECT * FROM clicks WHERE url = :url", {"url": target})
    assert set(row) == {"issue_id", "url", "clicks"}


def test_links_are_not_counted_unless_asked(fixture_project: Path) -> None:
    config = load_config(fixture_project / "config.yaml")
    assert not config.newsletter.count_clicks
    assert SendSettings.of(config).click_base is None
