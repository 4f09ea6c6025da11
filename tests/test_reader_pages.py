"""The reader pages of `feedletter serve`, over real HTTP: every one is valid HTML5
(html5lib, strict), laid out by the project's templates, and escapes what readers,
topics and the config put in it."""

from __future__ import annotations

import shutil
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import html5lib
import pytest

from feeds.build import build_feeds
from newsletter.audience import lifecycle as subs
from newsletter.audience.tokens import make_expiring_token
from newsletter.state import connect

from .conftest import NOW, ROOT
from .smtp_server import Faults, SmtpServer
from .test_signup import configure, get, link_in, post
from .test_web import SECRET, Served, serve

XHTML = "{http://www.w3.org/1999/xhtml}"


def valid_page(body: str, title: str) -> object:
    """The page parsed by html5lib in strict mode (any parse error raises)."""
    document = html5lib.HTMLParser(strict=True).parse(body)
    assert document.find(f"{XHTML}head/{XHTML}title").text.startswith(title)
    assert document.findall(f".//{XHTML}script") == []
    return document


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(Faults()) as server:
        yield server


def site(project: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setenv("FEEDLETTER_SECRET", SECRET.decode())
    config = configure(project, smtp.port, per_client_requests=4)
    build_feeds(config, NOW)
    yield from serve(config, preview=False)


def test_every_reader_page_is_valid_html(
    fixture_project: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, str]] = []

    def check(answer: tuple[int, dict[str, str], str], status: int, title: str) -> str:
        code, headers, body = answer
        assert code == status, body
        assert headers["content-type"] == "text/html; charset=utf-8"
        valid_page(body, title)
        seen.append((code, title))
        return body

    for served in site(fixture_project, smtp, monkeypatch):
        check(get(served, "/news/subscribe"), 200, "Subscribe")
        check(post(served, "/news/subscribe", [("email", "not an address")]), 400, "Subscribe")
        check(post(served, "/news/subscribe", [("email", "ada@example.com")]), 200, "Check your")
        served.settle()
        (mail,) = smtp.messages
        confirm = link_in(mail, "confirm")
        check(get(served, confirm), 200, "Confirm your subscription")
        check(post(served, confirm, []), 200, "You are subscribed")
        check(get(served, confirm), 200, "Already confirmed")
        with connect(served.config.database) as conn:
            reader = subs.get(conn, "ada@example.com")
        assert reader is not None
        token = make_expiring_token(
            SECRET, "preferences", reader.id, reader.email, int(time.time()) + 3600
        )
        preferences = f"/news/preferences?token={urllib.parse.quote(token)}"
        check(get(served, preferences), 200, "Your subscription")
        check(post(served, preferences, []), 400, "Your subscription")
        body = check(post(served, preferences, [("topics", "portals")]), 200, "Your subscription")
        assert 'role="status">Saved.' in body
        forms = valid_page(body, "Your subscription").iter(f"{XHTML}form")  # type: ignore[attr-defined]
        (unsubscribe,) = [form.get("action") for form in forms if form.get("action")]
        assert unsubscribe.startswith("/news/unsubscribe?token=")
        check(get(served, unsubscribe), 200, "Unsubscribe")
        check(post(served, unsubscribe, []), 200, "Unsubscribed")
        check(get(served, unsubscribe), 200, "Unsubscribed")
        check(get(served, preferences), 200, "Your subscription")  # not subscribed now
        # bad links count against the client with the sign-ups (per_client_requests: 4)
        check(get(served, "/news/confirm?token=1.2.3.x"), 400, "Invalid link")
        many = [("x", "y")] * 40  # more fields than a sign-up form has
        check(post(served, "/news/subscribe", many), 400, "Bad request")
        check(get(served, "/news/confirm?token=1.2.3.x"), 429, "Too many requests")
    assert len(seen) == 16  # every page and answer a reader can get


def test_the_pages_are_laid_out_by_the_projects_templates(
    fixture_project: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator who restyles templates/ restyles the reader pages; a folder that
    lacks a template (made by an older `init`) gets feedletter's own."""
    templates = fixture_project / "templates"
    templates.mkdir()
    shutil.copy(ROOT / "templates" / "_base.html.j2", templates)
    base = templates / "_base.html.j2"
    base.write_text(base.read_text().replace("<main>", '<main class="acme-brand">'))
    config = fixture_project / "config.yaml"
    config.write_text(
        "\n".join(
            "templates: templates" if line.startswith("templates:") else line
            for line in config.read_text().splitlines()
        )
        + "\n"
    )
    for served in site(fixture_project, smtp, monkeypatch):
        for path in ("/news/subscribe", "/news/confirm?token=bad"):
            _, _, body = get(served, path)
            assert '<main class="acme-brand">' in body
            valid_page(body, body.split("<title>")[1].split(" ·")[0])
        _, _, index = get(served, "/news/")  # and the site's pages, through the same layout
        assert '<main class="acme-brand">' in index


def test_what_topics_and_readers_put_on_a_page_is_escaped(
    fixture_project: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = fixture_project / "config.yaml"
    config.write_text(
        config.read_text().replace(
            "  - id: canvas-apps\n",
            '  - id: canvas-apps\n    name: "Canvas <script>alert(1)</script> & apps"\n',
            1,
        )
    )
    for served in site(fixture_project, smtp, monkeypatch):
        _, _, body = get(served, "/news/subscribe")
        document = valid_page(body, "Subscribe")
        labels = [
            "".join(label.itertext()).strip()
            for label in document.iter(f"{XHTML}label")  # type: ignore[attr-defined]
        ]
        assert "Canvas <script>alert(1)</script> & apps" in labels
        code, _, answer = post(served, "/news/subscribe", [("email", '"<b>x</b>"@example.com')])
        valid_page(answer, "Check your inbox" if code == 200 else "Subscribe")
        assert "<b>x</b>" not in answer
