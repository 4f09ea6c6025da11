"""Returned mail, test sends and data rights, through the CLI against a real SMTP server.

The returned-mail fixtures (tests/data/returned/) are modelled on what Postfix,
Exim, Exchange Online, Gmail and Amazon SES send back, and a Hotmail-style ARF
complaint. Each is filled with the Message-ID and address of a message the test
really sent, then imported from a Maildir and from an mbox.
"""

from __future__ import annotations

import csv
import mailbox
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.build import build_feeds, load_project
from newsletter import subscribers as subs
from newsletter.bounces import classify
from newsletter.cli import cli
from newsletter.config import Config
from newsletter.pipeline import issue_period, make_issue, write_issue
from newsletter.state import connect

from .conftest import DATA, NOW
from .smtp_server import Faults, SmtpServer
from .test_signup import configure
from .test_web import SECRET

RETURNED = DATA / "returned"
# fixture -> (reader it is about, expected kind, the reader's status afterwards)
CASES = {
    "postfix-hard.eml": ("postfix@example.net", "hard", "bounced"),
    "postfix-delayed.eml": ("delayed@example.net", "soft", "active"),
    "exim.eml": ("exim@example.net", "hard", "bounced"),
    "exchange.eml": ("exchange@example.net", "hard", "bounced"),
    "gmail.eml": ("gmail@example.net", "hard", "bounced"),
    "ses.eml": ("ses@example.net", "hard", "bounced"),
    "arf-complaint.eml": ("complainer@example.net", "complaint", "unsubscribed"),
}
SENDER = "digest@fixture.example.org"


@pytest.fixture
def sent(
    fixture_project: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Config, SmtpServer]]:
    """The W13 issue really sent to one reader per fixture (and one who stays quiet)."""
    monkeypatch.setenv("FEEDLETTER_SECRET", SECRET.decode())
    monkeypatch.chdir(fixture_project)
    with SmtpServer(Faults()) as smtp:
        config = configure(fixture_project, smtp.port)
        build_feeds(config, NOW)
        write_issue(
            config, make_issue(load_project(config), config, issue_period(config, date(2021, 4, 2)))
        )
        conn = connect(config.database)
        for reader, _, _ in [*CASES.values(), ("quiet@example.net", "", "")]:
            subs.add(conn, reader)
        conn.close()
        result = CliRunner().invoke(cli, ["send", "--force"])
        assert result.exit_code == 0, result.output
        yield config, smtp


def returned_mail(config: Config) -> dict[str, bytes]:
    """Each fixture, filled in with the Message-ID its reader's issue really had."""
    with sqlite3.connect(config.database.where) as conn:
        ids = dict(conn.execute("SELECT email, message_id FROM deliveries"))
    filled = {}
    for name, (reader, _, _) in CASES.items():
        text = (RETURNED / name).read_text()
        text = text.replace("{MESSAGE_ID}", ids[reader]).replace("{RECIPIENT}", reader)
        filled[name] = text.replace("{SENDER}", SENDER).encode()
    filled["garbage.eml"] = (RETURNED / "garbage.eml").read_bytes()
    return filled


def statuses(config: Config) -> dict[str, str]:
    conn = connect(config.database)
    try:
        return {s.email: s.status for s in subs.listing(conn)}
    finally:
        conn.close()


@pytest.mark.parametrize("kind", ["maildir", "mbox"])
def test_bounces_import_acts_on_every_kind_and_never_fails(
    sent: tuple[Config, SmtpServer], tmp_path: Path, kind: str
) -> None:
    config, _ = sent
    mail = returned_mail(config)
    if kind == "maildir":
        path = tmp_path / "Maildir"
        box: mailbox.Mailbox[mailbox.Message] = mailbox.Maildir(path, create=True)
    else:
        path = tmp_path / "returned.mbox"
        box = mailbox.mbox(path, create=True)
    for data in mail.values():
        box.add(data)
    box.flush()
    result = CliRunner().invoke(cli, ["bounces", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(
        f"Returned mail in {path}: 8 messages, 6 subscribers changed, 1 not matched to a subscriber\n"
    )
    assert result.stdout.count(", no known subscriber") == 1  # the garbage, reported
    expected = {reader: status for reader, _, status in CASES.values()}
    assert statuses(config) == {**expected, "quiet@example.net": "active"}
    for reader, kind_, status in CASES.values():
        change = f" -> {status}" if status != "active" else ""
        assert f": {kind_}, {reader}{change}" in result.stdout, (reader, result.stdout)


def test_each_fixture_is_classified_and_mapped_by_message_id() -> None:
    for name, (reader, kind, _) in CASES.items():
        text = (RETURNED / name).read_text()
        raw = text.replace(
            "{MESSAGE_ID}", "<2021-W13.0123456789abcdef01234567@fixture.example.org>"
        )
        returned = classify(raw.replace("{RECIPIENT}", reader).replace("{SENDER}", SENDER).encode())
        assert returned.kind == kind, name
        assert returned.message_ids == (
            "<2021-W13.0123456789abcdef01234567@fixture.example.org>",
        ), name
        assert kind == "complaint" or returned.detail.startswith(("550", "452")), (
            name,
            returned.detail,
        )


def test_a_bounce_without_the_original_headers_is_mapped_by_address(
    sent: tuple[Config, SmtpServer], tmp_path: Path
) -> None:
    config, _ = sent
    text = (RETURNED / "exim.eml").read_text()
    text = text.split("------ This is a copy")[0].replace("{RECIPIENT}", "exim@example.net")
    path = tmp_path / "one.mbox"
    box = mailbox.mbox(path, create=True)
    box.add(text.replace("{SENDER}", SENDER).encode())
    box.flush()
    result = CliRunner().invoke(cli, ["bounces", "import", str(path)])
    assert result.exit_code == 0 and statuses(config)["exim@example.net"] == "bounced"


def test_send_test_touches_nobody(sent: tuple[Config, SmtpServer]) -> None:
    config, smtp = sent
    before = len(smtp.messages)
    with sqlite3.connect(config.database.where) as conn:
        log_before = conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()
    result = CliRunner().invoke(
        cli, ["send", "--test", "editor@example.org", "--test", "boss@example.org"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Test of 2021-W13 to editor@example.org: sent (250 accepted)",
        "Test of 2021-W13 to boss@example.org: sent (250 accepted)",
    ]
    tests = smtp.messages[before:]
    assert [str(m["To"]) for m in tests] == ["editor@example.org", "boss@example.org"]
    assert all(str(m["Subject"]).startswith("[Test] ") for m in tests)
    with sqlite3.connect(config.database.where) as conn:
        assert conn.execute("SELECT COUNT(*) FROM deliveries").fetchone() == log_before
    assert "editor@example.org" not in statuses(config)


def test_export_list_by_status_forget_and_reconsent(
    sent: tuple[Config, SmtpServer], tmp_path: Path
) -> None:
    config, _ = sent
    runner = CliRunner()
    conn = connect(config.database)
    quiet = subs.get(conn, "quiet@example.net")
    assert quiet is not None
    subs.unsubscribe(conn, quiet.id)
    conn.close()
    listed = runner.invoke(cli, ["subscribers", "list", "--status", "unsubscribed"])
    assert listed.stdout == "quiet@example.net\tunsubscribed\tall\t\n"
    out = tmp_path / "export.csv"
    assert runner.invoke(cli, ["subscribers", "export", str(out)]).exit_code == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 8
    row = next(r for r in rows if r["email"] == "quiet@example.net")
    assert row["status"] == "unsubscribed" and row["consent_source"] == "operator"
    assert row["created_at"] and row["confirmed_at"]
    # forget: the person's data goes, a keyed hash stays
    forgot = runner.invoke(cli, ["subscribers", "forget", "Quiet@Example.net"])
    assert forgot.exit_code == 0, forgot.output
    with sqlite3.connect(config.database.where) as raw:
        dump = "\n".join(raw.iterdump())
    assert "quiet@example.net" not in dump.lower()
    again = runner.invoke(cli, ["subscribers", "add", "quiet@example.net"])
    assert again.exit_code == 1 and "asked to be forgotten" in again.stderr
    source = tmp_path / "people.csv"
    source.write_text("email\nquiet@example.net\nnew@example.net\n")
    imported = runner.invoke(cli, ["subscribers", "import", str(source)])
    assert "1 added, 0 updated, 1 rejected" in imported.stdout
    back = runner.invoke(cli, ["subscribers", "add", "quiet@example.net", "--reconsent"])
    assert back.exit_code == 0 and statuses(config)["quiet@example.net"] == "active"


def test_import_confirm_mails_confirmation_links(
    sent: tuple[Config, SmtpServer], tmp_path: Path
) -> None:
    config, smtp = sent
    before = len(smtp.messages)
    source = tmp_path / "people.csv"
    source.write_text("email,topics\nfresh@example.net,portals\npostfix@example.net,\n")
    result = CliRunner().invoke(cli, ["subscribers", "import", "--confirm", str(source)])
    assert result.exit_code == 0, result.output
    assert "2 mailed, 0 not mailed" in result.stdout
    subjects = {str(m["To"]): str(m["Subject"]) for m in smtp.messages[before:]}
    assert subjects["fresh@example.net"].startswith("Confirm your subscription")
    # an active reader gets the "already subscribed" note, and stays active
    assert subjects["postfix@example.net"].startswith("You are already subscribed")
    assert statuses(config)["fresh@example.net"] == "pending"


def test_a_path_that_is_no_mailbox_is_a_clear_error(
    sent: tuple[Config, SmtpServer], tmp_path: Path
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "x.txt").write_text("hello")
    text = tmp_path / "notes.txt"
    text.write_text("not mail\n")
    before = statuses(sent[0])
    for path, reason in [
        (folder, "is a folder but not a Maildir (it has no cur/ and new/ folders)"),
        (text, "is not an mbox file (it does not start with a 'From ' line)"),
    ]:
        result = CliRunner().invoke(cli, ["bounces", "import", str(path)])
        assert result.exit_code == 1
        assert result.stderr == f"error: {path}: {reason}\n"
    assert statuses(sent[0]) == before  # nothing changed
