"""Readers who manage themselves, over real HTTP (uvicorn) and a real SMTP server (aiosmtpd).

Sign-up with double opt-in (the test follows the link in the mail it received),
no address enumeration, the honeypot, per-address and per-client limits,
preferences, security headers, and the whole path: sign-up → confirm → send →
preferences → next send holds only the chosen topics → bounce → no further mail.
"""

from __future__ import annotations

import re
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from feeds.build import build_feeds, load_project
from newsletter.audience import lifecycle as subs
from newsletter.audience.notices import NoticeSettings, welcome
from newsletter.config import BounceSettings, Config, load_config
from newsletter.issue.pipeline import issue_period, make_issue, write_issue
from newsletter.sending.delivery import SendSettings, find_issue, send_issue
from newsletter.state import connect

from .conftest import NOW
from .smtp_server import Faults, SmtpServer
from .test_web import SECRET, Served, serve


def configure(
    project: Path, port: int, database: str = "var/state.sqlite3", **signup: object
) -> Config:
    lines = [
        "smtp:",
        "  host: 127.0.0.1",
        f"  port: {port}",
        "  security: none",
        "  backoff_seconds: 0.01",
        "  max_attempts: 2",
        "state:",
        f"  database: {database}",
        "  lock_wait_seconds: 0",
    ]
    path = project / "config.yaml"
    text = path.read_text()
    if signup:
        extra = "\n".join(f"    {k}: {v}" for k, v in signup.items())
        text = text.replace("newsletter:\n", f"newsletter:\n  signup:\n{extra}\n", 1)
    path.write_text(text + "\n".join(lines) + "\n")
    return load_config(path)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(Faults()) as server:
        yield server


@pytest.fixture
def site(
    fixture_project: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch, state_database: str
) -> Iterator[Served]:
    """`serve` over real HTTP, its state in SQLite or PostgreSQL (tests run on both)."""
    monkeypatch.setenv("FEEDLETTER_SECRET", SECRET.decode())
    config = configure(fixture_project, smtp.port, state_database)
    build_feeds(config, NOW)
    yield from serve(config, preview=False)


def post(
    served: Served, path: str, fields: list[tuple[str, str]], **headers: str
) -> tuple[int, dict[str, str], str]:
    data = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(served.base + path, data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def get(served: Served, path: str) -> tuple[int, dict[str, str], str]:
    status, headers, body = served.request(path)
    return status, headers, body.decode()


def link_in(message: EmailMessage, page: str) -> str:
    """The first link to ``page`` in the text part of ``message``."""
    text = message.get_body(("plain",))
    assert text is not None
    match = re.search(
        rf"https://fixture\.example\.org(/news/{page}\?token=[\w.\-]+)", text.get_content()
    )
    assert match, text.get_content()
    return match.group(1)


def status_of(config: Config, email: str) -> str | None:
    with connect(config.database) as conn:
        found = subs.get(conn, email)
        return found.status if found else None


def test_sign_up_confirm_by_the_mailed_link(site: Served, smtp: SmtpServer) -> None:
    status, headers, body = post(
        site,
        "/news/subscribe",
        [("email", "Ada@Example.com"), ("topics", "portals"), ("name", "Ada")],
    )
    assert status == 200 and "Check your inbox" in body
    assert "set-cookie" not in {k.lower() for k in headers}
    assert "default-src 'none'" in headers["content-security-policy"]
    site.settle()  # decided and mailed after the reply
    (mail,) = smtp.wait_for(1)
    assert status_of(site.config, "Ada@example.com") == "pending"
    assert mail["To"] == "Ada@example.com" and "Confirm your subscription" in mail["Subject"]
    assert mail.get_body(("html",)) is not None  # multipart: text and HTML
    confirm = link_in(mail, "confirm")
    # GET (what a mail scanner does) shows a button and changes nothing
    status, _, page = get(site, confirm)
    assert status == 200 and "<button" in page and "Ada@example.com" in page
    assert status_of(site.config, "Ada@example.com") == "pending"
    status, _, page = post(site, confirm, [])
    assert status == 200 and "You are subscribed" in page
    conn = connect(site.config.database)
    found = subs.get(conn, "Ada@example.com")
    conn.close()
    assert found is not None and found.status == "active" and found.topics == ("portals",)
    assert found.consent_source == "form" and found.consent_ip == "127.0.0.1"
    assert found.confirmed_at is not None and found.name == "Ada"


@pytest.fixture
def returning_site(
    fixture_project: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch, state_database: str
) -> Iterator[Served]:
    """``site``, where an address may be mailed a second confirmation at once."""
    monkeypatch.setenv("FEEDLETTER_SECRET", SECRET.decode())
    config = configure(fixture_project, smtp.port, state_database, per_address_minutes=0)
    build_feeds(config, NOW)
    yield from serve(config, preview=False)


def test_a_confirmed_reader_is_welcomed_once_per_address(
    returning_site: Served, smtp: SmtpServer
) -> None:
    """The welcome mail after the confirmation: her topics, how often, the latest
    issue, her links; not again when she unsubscribes, signs up and confirms again."""
    site = returning_site
    config = site.config
    project = load_project(config)
    issue = write_issue(config, make_issue(project, config, issue_period(config, date(2021, 4, 2))))
    fields = [("email", "ada@example.com"), ("topics", "portals"), ("topics", "canvas-apps")]
    post(site, "/news/subscribe", fields)
    site.settle()
    assert post(site, link_in(smtp.wait_for(1)[0], "confirm"), [])[0] == 200
    site.settle()  # the welcome is mailed after the reply, on the sign-up pool
    mail = smtp.wait_for(2)[1]
    assert len(smtp.messages) == 2
    assert mail["To"] == "ada@example.com" and mail["Subject"] == "Welcome to Fixture News"
    assert mail["Auto-Submitted"] is None  # a list mail, not an automatic reply
    text = mail.get_body(("plain",))
    assert text is not None
    content = text.get_content()
    assert "with these topics: Canvas apps, Portals." in content
    assert "The digest comes every 366 days, on Mondays around 08:00 (UTC)" in content
    assert issue.issue.archive_url in content  # the latest issue's web copy
    manage = link_in(mail, "preferences")
    status, _, page = get(site, manage)
    assert status == 200 and 'value="portals" checked' in page
    # one-click unsubscribe from the welcome's own header (RFC 8058), as a provider does
    header = str(mail["List-Unsubscribe"])
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.search(
        r"<https://fixture\.example\.org(/news/unsubscribe\?token=[^>]+)>", header
    )
    assert unsubscribe is not None
    assert site.request(unsubscribe.group(1), method="POST")[0] == 200
    assert status_of(config, "ada@example.com") == "unsubscribed"
    # she comes back: a new confirmation, and no second welcome
    post(site, "/news/subscribe", fields)
    site.settle()
    again = smtp.wait_for(3)[2]
    assert "Confirm your subscription" in str(again["Subject"])
    assert post(site, link_in(again, "confirm"), [])[0] == 200
    site.settle()
    assert status_of(config, "ada@example.com") == "active"
    assert [str(m["Subject"]) for m in smtp.messages].count("Welcome to Fixture News") == 1
    assert len(smtp.messages) == 3


def test_the_reply_is_the_same_whatever_the_address_is(site: Served, smtp: SmtpServer) -> None:
    conn = connect(site.config.database)
    subs.add(conn, "active@example.com")
    bounced, _ = subs.add(conn, "gone@example.com")
    subs.unsubscribe(conn, bounced.id)
    conn.close()
    bodies = set()
    for address in ("new@example.com", "active@example.com", "gone@example.com", "new@example.com"):
        status, _, body = post(site, "/news/subscribe", [("email", address)])
        assert status == 200
        bodies.add(body.replace(address, "ADDRESS"))
    assert len(bodies) == 1  # new, active, unsubscribed, pending: one answer
    site.settle()
    subjects = {str(m["To"]): str(m["Subject"]) for m in smtp.wait_for(3)}
    assert subjects["active@example.com"].startswith("You are already subscribed")
    assert subjects["gone@example.com"].startswith("Confirm your subscription")
    assert status_of(site.config, "active@example.com") == "active"  # unchanged
    # the pending address asked twice within 10 minutes: one mail
    assert [str(m["To"]) for m in smtp.messages].count("new@example.com") == 1


def test_the_honeypot_and_bad_addresses(site: Served, smtp: SmtpServer) -> None:
    status, _, body = post(
        site, "/news/subscribe", [("email", "bot@example.com"), ("website", "x")]
    )
    assert status == 200 and "Check your inbox" in body
    site.settle()
    assert smtp.messages == [] and status_of(site.config, "bot@example.com") is None
    status, _, body = post(site, "/news/subscribe", [("email", "not an address")])
    assert status == 400 and "not an email address" in body
    # told apart by the exception's class, not by words in its message
    status, _, body = post(site, "/news/subscribe", [("email", "topic@@example.com")])
    assert status == 400 and "That is not an email address." in body
    status, _, body = post(
        site, "/news/subscribe", [("email", "a@example.com"), ("topics", "nope")]
    )
    assert status == 400 and "unknown topic" in body


def test_per_address_limits_hold_whatever_is_sent(
    fixture_project: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDLETTER_SECRET", SECRET.decode())
    config = configure(fixture_project, smtp.port, per_address_minutes=0, per_address_per_day=3)
    build_feeds(config, NOW)
    for served in serve(config, preview=False):
        for _ in range(8):
            assert post(served, "/news/subscribe", [("email", "target@example.com")])[0] == 200
        served.settle()
    assert len(smtp.messages) == 3  # per_address_per_day, whatever an attacker sends


def test_per_client_window_gives_429_with_retry_after(
    fixture_project: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDLETTER_SECRET", SECRET.decode())
    config = configure(fixture_project, smtp.port, per_client_requests=3)
    build_feeds(config, NOW)
    for served in serve(config, preview=False):
        codes = [
            post(served, "/news/subscribe", [("email", f"r{n}@example.com")])[0] for n in range(3)
        ]
        assert codes == [200, 200, 200]
        status, headers, _ = post(served, "/news/subscribe", [("email", "r9@example.com")])
        assert status == 429 and int(headers["retry-after"]) >= 1
        # a trusted proxy (127.0.0.1) reports another client: its own window
        status, _, _ = post(
            served,
            "/news/subscribe",
            [("email", "r8@example.com")],
            **{"X-Forwarded-For": "192.0.2.7"},
        )
        assert status == 200
    assert status_of(config, "r9@example.com") is None


def test_forged_expired_and_wrong_purpose_tokens_get_400(site: Served, smtp: SmtpServer) -> None:
    from newsletter.audience.tokens import make_expiring_token, make_token

    conn = connect(site.config.database)
    ada, _ = subs.add(conn, "ada@example.com")
    conn.close()
    past = int((datetime.now(UTC) - timedelta(days=1)).timestamp())
    future = int((datetime.now(UTC) + timedelta(days=1)).timestamp())
    bad = [
        ("confirm", make_expiring_token(SECRET, "confirm", ada.id, ada.email, past)),  # expired
        (
            "preferences",
            make_expiring_token(SECRET, "confirm", ada.id, ada.email, future),
        ),  # purpose
        (
            "preferences",
            make_expiring_token(
                b"another-secret-0123456789", "preferences", ada.id, ada.email, future
            ),
        ),
        ("preferences", make_token(SECRET, ada.id, ada.email)),  # an unsubscribe token
        ("confirm", "garbage"),
    ]
    for page, token in bad:
        for method in ("GET", "POST"):
            if method == "GET":
                status = get(site, f"/news/{page}?token={token}")[0]
            else:
                status = post(site, f"/news/{page}?token={token}", [("paused", "1")])[0]
            assert status == 400, (page, token, method)
    assert status_of(site.config, "ada@example.com") == "active"


def send(config: Config, issue_id: str | None = None) -> list[str]:
    settings = SendSettings.of(config)
    with connect(config.database) as conn:
        info = find_issue(settings.issues_folder, issue_id)
        report = send_issue(conn, load_project(config), settings, info)
    return sorted(report.sent)


def test_no_welcome_mail_when_it_is_off(fixture_project: Path, smtp: SmtpServer) -> None:
    path = fixture_project / "config.yaml"
    path.write_text(path.read_text().replace("newsletter:\n", "newsletter:\n  welcome: false\n", 1))
    config = configure(fixture_project, smtp.port)
    notices = NoticeSettings.of(config)
    with connect(config.database) as conn:
        reader, _ = subs.add(conn, "ada@example.com")
        assert not welcome(conn, notices, SECRET, reader, NOW)
        # on, it goes once: the first call takes it, the second finds it taken
        on = replace(notices, newsletter=config.newsletter.model_copy(update={"welcome": True}))
        assert welcome(conn, on, SECRET, reader, NOW)
        assert not welcome(conn, on, SECRET, reader, NOW)
    assert [str(m["Subject"]) for m in smtp.messages] == ["Welcome to Fixture News"]


def test_the_whole_path(
    fixture_project: Path, monkeypatch: pytest.MonkeyPatch, state_database: str
) -> None:
    """sign-up → confirm → send → preferences → next send has only the chosen topics → bounce."""
    monkeypatch.setenv("FEEDLETTER_SECRET", SECRET.decode())
    faults = Faults()
    with SmtpServer(faults) as smtp:
        config = configure(fixture_project, smtp.port, state_database)
        build_feeds(config, NOW)
        project = load_project(config)
        write_issue(config, make_issue(project, config, issue_period(config, date(2021, 4, 2))))
        for served in serve(config, preview=False):
            post(served, "/news/subscribe", [("email", "grace@example.com")])
            confirm = link_in(smtp.wait_for(1)[-1], "confirm")
            assert post(served, confirm, [])[0] == 200
            served.settle()  # her welcome mail went before the issue
            assert smtp.wait_for(2)[-1]["Subject"] == "Welcome to Fixture News"
            # the issue, to every topic; its footer links to her preferences
            assert send(config) == ["grace@example.com"]
            issue = smtp.messages[-1]
            assert issue["To"] == "grace@example.com"
            text = issue.get_body(("plain",))
            assert text is not None and "CANVAS APPS" in text.get_content()  # every topic
            manage = link_in(issue, "preferences")
            status, _, page = get(served, manage)
            assert status == 200 and 'value="portals" checked' in page
            status, _, page = post(served, manage, [])  # nothing ticked: asked, not "all"
            assert status == 400 and "Tick at least one topic" in page
            status, _, page = post(served, manage, [("topics", "teams-integration")])
            assert status == 200 and "Saved." in page

        # the next issue holds only Teams integration
        def issue(day: date) -> str:
            period = issue_period(config, day)
            return write_issue(config, make_issue(project, config, period)).issue.issue_id

        assert send(config, issue(date(2020, 9, 27))) == ["grace@example.com"]
        text = smtp.messages[-1].get_body(("plain",))
        assert text is not None
        content = text.get_content()
        # Teams integration only: its story, not the canvas apps one of the same period
        assert "customize Teams with built-in" in content and "1 story from" in content
        assert "community call" not in content
        # the address starts bouncing: 550 → bounced, and nothing more is sent
        faults.reject.add("grace@example.com")
        assert send(config, issue(date(2021, 3, 7))) == []
        assert status_of(config, "grace@example.com") == "bounced"
        before = len(smtp.messages)
        assert send(config, issue(date(2021, 8, 29))) == [] and len(smtp.messages) == before


def test_pending_sign_ups_expire(fixture_project: Path) -> None:
    config = load_config(fixture_project / "config.yaml")
    with connect(config.database) as conn:
        long_ago = datetime.now(UTC) - timedelta(days=8)
        subs.sign_up(
            conn, "late@example.com", topics=(), name="", client="192.0.2.1", now=long_ago,
            secret=SECRET, per_address_minutes=10, per_address_per_day=3,
        )  # fmt: skip
        assert subs.get(conn, "late@example.com") is not None
        assert subs.purge_pending(conn, datetime.now(UTC), 7) == 1
        assert subs.get(conn, "late@example.com") is None


def test_a_version_2_database_is_migrated_with_its_subscribers(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE subscribers (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL UNIQUE
          COLLATE NOCASE, name TEXT NOT NULL DEFAULT '', topics TEXT NOT NULL DEFAULT '',
          status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'unsubscribed')),
          created_at TEXT NOT NULL, unsubscribed_at TEXT);
        CREATE TABLE deliveries (issue_id TEXT NOT NULL, subscriber_id INTEGER NOT NULL,
          email TEXT NOT NULL, status TEXT NOT NULL, message_id TEXT NOT NULL,
          reply TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL, at TEXT NOT NULL,
          PRIMARY KEY (issue_id, subscriber_id));
        CREATE TABLE job_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL,
          started_at TEXT NOT NULL, finished_at TEXT, outcome TEXT NOT NULL DEFAULT 'running');
        INSERT INTO subscribers (email, topics, created_at) VALUES ('a@example.com', 'portals', '2021-01-01T00:00:00+00:00');
        INSERT INTO subscribers (email, status, created_at, unsubscribed_at)
          VALUES ('b@example.com', 'unsubscribed', '2021-01-02T00:00:00+00:00', '2021-02-01T00:00:00+00:00');
        PRAGMA user_version = 2;
        """
    )
    old.close()
    with connect(path) as conn:
        a, b = subs.listing(conn)
        assert (a.email, a.status, a.topics, a.consent_source) == (
            "a@example.com", "active", ("portals",), "operator",
        )  # fmt: skip
        assert (b.email, b.status) == ("b@example.com", "unsubscribed")
        new, _ = subs.add(conn, "c@example.com")
        assert new.id == 3  # ids are never reused


def test_every_page_of_the_site_carries_the_sign_up_form(site: Served) -> None:
    out = site.config.output
    write_issue(
        site.config,
        make_issue(
            load_project(site.config), site.config, issue_period(site.config, date(2021, 4, 2))
        ),
    )
    pages = [
        out / "index.html",
        out / "newsletter" / "index.html",
        *sorted(out.glob("topics/*/index.html")),
    ]
    assert len(pages) == 9
    for page in pages:
        html = page.read_text()
        assert '<form method="post" action="https://fixture.example.org/news/subscribe">' in html, (
            page
        )
        assert 'name="website"' in html  # the honeypot
    portals = (out / "topics" / "portals" / "index.html").read_text()
    assert 'name="topics" value="portals" checked' in portals
    assert 'name="topics"' not in (out / "index.html").read_text()  # all topics


def test_pause_and_resume(fixture_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDLETTER_SECRET", SECRET.decode())
    with SmtpServer(Faults()) as smtp:
        config = configure(fixture_project, smtp.port)
        project = load_project(config)
        conn = connect(config.database)
        reader, _ = subs.add(conn, "pat@example.com")
        assert subs.set_preferences(conn, reader.id, topics=(), paused=True, now=datetime.now(UTC))
        conn.close()

        def issue(day: date) -> str:
            return write_issue(
                config, make_issue(project, config, issue_period(config, day))
            ).issue.issue_id

        assert send(config, issue(date(2021, 4, 2))) == []  # paused: nothing
        conn = connect(config.database)
        subs.set_preferences(conn, reader.id, topics=(), paused=False, now=datetime.now(UTC))
        conn.close()
        assert send(config, issue(date(2021, 3, 7))) == ["pat@example.com"]
        assert len(smtp.messages) == 1


def test_soft_bounces_over_consecutive_issues(fixture_project: Path) -> None:
    config = load_config(fixture_project / "config.yaml")
    with connect(config.database) as conn:
        reader, _ = subs.add(conn, "full@example.com")

        def outcome(issue: str, result: str) -> bool:
            return subs.record_delivery_outcome(
                conn, reader.id, issue, result, "452 4.2.2 mailbox full",
                limits=BounceSettings(hard_limit=1, soft_issue_limit=3), now=datetime.now(UTC),
            )  # fmt: skip

        assert not outcome("2021-W01", "deferred")
        assert not outcome("2021-W01", "deferred")  # the same issue again: still one
        assert not outcome("2021-W02", "deferred")
        assert not outcome("2021-W03", "sent")  # delivered: the run ends
        assert not outcome("2021-W04", "deferred")
        assert not outcome("2021-W05", "deferred")
        assert outcome("2021-W06", "deferred")  # three in a row
        found = subs.get(conn, "full@example.com")
        assert found is not None and found.status == "bounced"
        assert found.status_reason == "soft bounce: 452 4.2.2 mailbox full"
