"""Returned mail, test sends and data rights, through the CLI against a real SMTP server.

The returned-mail fixtures (tests/data/returned/) are modelled on what Postfix,
Exim, Exchange Online, Gmail and Amazon SES send back, and a Hotmail-style ARF
complaint. Each is filled with the Message-ID and address of a message the test
really sent, then imported from a Maildir and from an mbox.
"""

from __future__ import annotations

import csv
import hashlib
import mailbox
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.build import build_feeds, load_project
from newsletter.audience import lifecycle as subs
from newsletter.audience.bounces import judge, parse, proofs_of
from newsletter.cli import cli
from newsletter.config import Config
from newsletter.issue.pipeline import issue_period, make_issue, write_issue
from newsletter.state import connect

from .conftest import DATA, NOW
from .smtp_server import Faults, SmtpServer
from .test_signup import configure
from .test_web import SECRET

RETURNED = DATA / "returned"
FORGED = DATA / "forged"
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
# forged fixture -> the reader it tries to remove (quiet@ is the reader who forges
# with their own genuine Message-ID)
FORGERIES = {
    "dsn-address-only.eml": "postfix@example.net",
    "computed-message-id.eml": "exim@example.net",
    "arf-rcpt-only.eml": "complainer@example.net",
    "plain-text-fields.eml": "gmail@example.net",
    "forged-verp.eml": "ses@example.net",
    "own-message-id-other-victim.eml": "exchange@example.net",
    "exim-text-victim.eml": "delayed@example.net",
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


def message_ids(config: Config) -> dict[str, str]:
    with sqlite3.connect(config.database.where) as conn:
        return dict(conn.execute("SELECT email, message_id FROM deliveries"))


def returned_mail(config: Config, smtp: SmtpServer) -> dict[str, bytes]:
    """Each fixture as its reader's server would return it: the issue's real
    Message-ID, and addressed to the envelope sender the issue really had."""
    ids = message_ids(config)
    filled = {}
    for name, (reader, _, _) in CASES.items():
        text = (RETURNED / name).read_text()
        text = text.replace("{MESSAGE_ID}", ids[reader]).replace("{RECIPIENT}", reader)
        text = text.replace("{RETURN_PATH}", smtp.envelope_sender(reader))
        filled[name] = text.replace("{SENDER}", SENDER).encode()
    filled["garbage.eml"] = (RETURNED / "garbage.eml").read_bytes()
    return filled


def forged_mail(config: Config) -> dict[str, bytes]:
    """Each forgery, filled in with what an outsider can know or compute."""
    ids = message_ids(config)
    with connect(config.database) as conn:
        readers = {s.email: s.id for s in subs.listing(conn)}
    filled = {}
    for name, victim in FORGERIES.items():
        computed = hashlib.sha256(f"2021-W13\0{victim}".encode()).hexdigest()[:24]
        values = {
            "{VICTIM}": victim,
            "{BOUNCE_ADDRESS}": SENDER,
            "{SENDER}": SENDER,
            "{COMPUTED_MESSAGE_ID}": f"<2021-W13.{computed}@fixture.example.org>",
            "{OWN_MESSAGE_ID}": ids["quiet@example.net"],
            "{FORGED_VERP}": f"digest+fl.{readers[victim]}.2021-w13.{'0123456789' * 2}"
            "@fixture.example.org",
        }
        text = (FORGED / name).read_text()
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        assert "{" not in text, (name, text)
        filled[name] = text.encode()
    return filled


def mailbox_of(tmp_path: Path, mail: dict[str, bytes], kind: str = "maildir") -> Path:
    if kind == "maildir":
        path = tmp_path / f"Maildir-{len(list(tmp_path.iterdir()))}"
        box: mailbox.Mailbox[mailbox.Message] = mailbox.Maildir(path, create=True)
    else:
        path = tmp_path / f"returned-{len(list(tmp_path.iterdir()))}.mbox"
        box = mailbox.mbox(path, create=True)
    for data in mail.values():
        box.add(data)
    box.flush()
    return path


def statuses(config: Config) -> dict[str, str]:
    with connect(config.database) as conn:
        return {s.email: s.status for s in subs.listing(conn)}


@pytest.mark.parametrize("kind", ["maildir", "mbox"])
def test_bounces_import_acts_on_every_kind_and_never_fails(
    sent: tuple[Config, SmtpServer], tmp_path: Path, kind: str
) -> None:
    config, smtp = sent
    path = mailbox_of(tmp_path, returned_mail(config, smtp), kind)
    result = CliRunner().invoke(cli, ["bounces", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(
        f"Returned mail in {path}: 8 messages, 6 subscribers changed, "
        "1 not ours (they changed nobody)\n"
    )
    assert result.stdout.count(": not ours") == 1  # the garbage, reported
    expected = {reader: status for reader, _, status in CASES.values()}
    assert statuses(config) == {**expected, "quiet@example.net": "active"}
    for reader, kind_, status in CASES.values():
        change = f" -> {status}" if status != "active" else ""
        assert f": {kind_}, {reader}{change}" in result.stdout, (reader, result.stdout)
    # the same mailbox again: each message was acted on once
    again = CliRunner().invoke(cli, ["bounces", "import", str(path)])
    assert "0 subscribers changed" in again.stdout
    assert again.stdout.count(": already imported") == 7  # the six and the delay


def test_forged_returned_mail_changes_nobody(
    sent: tuple[Config, SmtpServer], tmp_path: Path
) -> None:
    """Seven forgeries from outside, each naming a reader as real reports do: none
    carries a keyed reference, so nobody changes; then the real reports still act."""
    config, smtp = sent
    before = statuses(config)
    forged = mailbox_of(tmp_path, forged_mail(config))
    result = CliRunner().invoke(cli, ["bounces", "import", str(forged)])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(
        f"Returned mail in {forged}: 7 messages, 0 subscribers changed, "
        "7 not ours (they changed nobody)\n"
    ), result.stdout
    assert statuses(config) == before
    with connect(config.database) as conn:
        assert all(s.hard_bounces == 0 for s in subs.listing(conn))
    genuine = mailbox_of(tmp_path, returned_mail(config, smtp))
    result = CliRunner().invoke(cli, ["bounces", "import", str(genuine)])
    assert "6 subscribers changed" in result.stdout, result.stdout
    assert statuses(config)["postfix@example.net"] == "bounced"


def test_each_fixture_is_judged_by_its_own_fields(sent: tuple[Config, SmtpServer]) -> None:
    config, smtp = sent
    with connect(config.database) as conn:
        for name, raw in returned_mail(config, smtp).items():
            if name == "garbage.eml":
                continue
            reader, kind, _ = CASES[name]
            returned = parse(raw)
            proofs = proofs_of(conn, returned, SECRET, SENDER, "+")
            assert {p.email for p in proofs} == {reader}, name
            # every fixture is delivered to the VERP return path, except the ARF
            # complaint, which goes to the feedback address: its proof is the Message-ID
            assert {p.via for p in proofs} >= ({"message id"} if "arf" in name else {"return path"})
            verdict = judge(returned, proofs)
            assert verdict.kind == kind, name
            assert kind == "complaint" or verdict.reason.startswith(("550", "452")), (
                name,
                verdict.reason,
            )


def test_a_status_line_in_the_text_makes_no_hard_bounce(sent: tuple[Config, SmtpServer]) -> None:
    """A delay notice whose human-readable part quotes 'Action: failed' and a 5.x.x
    status is still a delay: only the DSN's own field for the reader counts."""
    config, smtp = sent
    raw = returned_mail(config, smtp)["postfix-delayed.eml"].decode()
    raw = raw.replace(
        "Your message could not be delivered for more than 4 hour(s).",
        "Action: failed\nStatus: 5.1.1\nYour message could not be delivered for more than 4 hour(s).",
    )
    with connect(config.database) as conn:
        returned = parse(raw.encode())
        verdict = judge(returned, proofs_of(conn, returned, SECRET, SENDER, "+"))
    assert verdict.kind == "soft"


def test_a_bounce_without_the_original_headers_is_known_by_its_return_path(
    sent: tuple[Config, SmtpServer], tmp_path: Path
) -> None:
    config, smtp = sent
    text = (RETURNED / "exim.eml").read_text()
    text = text.split("------ This is a copy")[0].replace("{RECIPIENT}", "exim@example.net")
    text = text.replace("{RETURN_PATH}", smtp.envelope_sender("exim@example.net"))
    path = mailbox_of(tmp_path, {"one": text.replace("{SENDER}", SENDER).encode()}, "mbox")
    result = CliRunner().invoke(cli, ["bounces", "import", str(path)])
    assert result.exit_code == 0 and statuses(config)["exim@example.net"] == "bounced"
    # the same text delivered to the plain address proves nothing
    statuses_before = statuses(config)
    plain = text.replace(smtp.envelope_sender("exim@example.net"), SENDER)
    path = mailbox_of(tmp_path, {"two": plain.replace("{SENDER}", SENDER).encode()}, "mbox")
    result = CliRunner().invoke(cli, ["bounces", "import", str(path)])
    assert "1 not ours" in result.stdout and statuses(config) == statuses_before


def test_an_oversized_returned_message_is_skipped_unread(
    sent: tuple[Config, SmtpServer], tmp_path: Path
) -> None:
    config, smtp = sent
    raw = returned_mail(config, smtp)["postfix-hard.eml"]
    huge = raw + b"\r\n" + b"x" * (5 * 1024 * 1024)
    path = mailbox_of(tmp_path, {"huge": huge})
    result = CliRunner().invoke(cli, ["bounces", "import", str(path)])
    assert result.exit_code == 0
    assert ": too large (larger than 4194304 bytes)" in result.stdout
    assert statuses(config)["postfix@example.net"] == "active"


def test_returned_mail_needs_the_secret(sent: tuple[Config, SmtpServer], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    config, smtp = sent
    monkeypatch.delenv("FEEDLETTER_SECRET")
    path = mailbox_of(tmp_path, returned_mail(config, smtp))
    result = CliRunner().invoke(cli, ["bounces", "import", str(path)])
    assert result.exit_code == 1 and "FEEDLETTER_SECRET" in result.stderr


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
