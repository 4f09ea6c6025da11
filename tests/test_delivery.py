"""Sending through a real SMTP server (aiosmtpd on 127.0.0.1) with injected faults."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.build import load_project
from newsletter.audience import lifecycle as subs
from newsletter.audience.tokens import token_subscriber, verify_token
from newsletter.cli import cli
from newsletter.config import Config, load_config
from newsletter.errors import DeliveryError
from newsletter.issue.pipeline import issue_period, make_issue, write_issue
from newsletter.sending.delivery import (
    SendOptions,
    SendReport,
    SendSettings,
    find_issue,
    send_issue,
)
from newsletter.sending.queue import Hooks
from newsletter.state import connect

from .smtp_server import Faults, SmtpServer, free_port, refuse_all

SECRET = "test-secret-0123456789abcdef"
# topic sets of the subscribers: all topics, one topic, two, and one with nothing new
TOPIC_SETS: list[tuple[str, ...]] = [
    (),
    ("canvas-apps",),
    ("teams-integration",),
    ("canvas-apps", "common-data-service"),
    ("ai-builder",),  # nothing in the period: gets no message
]
SUBSCRIBERS = [f"reader{n:02}@example.com" for n in range(12)]


def topics_of(address: str) -> tuple[str, ...]:
    return TOPIC_SETS[int(address[6:8]) % len(TOPIC_SETS)]


EXPECTED = [a for a in SUBSCRIBERS if topics_of(a) != ("ai-builder",)]


def configure(project: Path, port: int, **smtp: object) -> Config:
    settings = {"host": "127.0.0.1", "port": port, "security": "none", "backoff_seconds": 0.01}
    settings.update(smtp)
    lines = ["smtp:"] + [f"  {k}: {v}" for k, v in settings.items()]
    path = project / "config.yaml"
    path.write_text(path.read_text() + "\n".join(lines) + "\n")
    return load_config(path)


@pytest.fixture
def mail_project(
    fixture_project: Path, monkeypatch: pytest.MonkeyPatch, state_database: str
) -> Path:
    """The fixture project with 12 subscribers and the 2021-W13 issue written,
    its state in SQLite or in PostgreSQL (each test here runs on both)."""
    monkeypatch.setenv("FEEDLETTER_SECRET", SECRET)
    path = fixture_project / "config.yaml"
    path.write_text(
        path.read_text() + f"state:\n  database: {state_database}\n  lock_wait_seconds: 0\n"
    )
    config = load_config(path)
    conn = connect(config.database)
    for address in SUBSCRIBERS:
        subs.add(conn, address, topics=topics_of(address))
    conn.close()
    project = load_project(config)
    write_issue(config, make_issue(project, config, issue_period(config, date(2021, 4, 2))))
    return fixture_project


def run_send(
    config: Config, options: SendOptions | None = None, hooks: Hooks | None = None
) -> SendReport:
    settings = SendSettings.of(config)
    with connect(config.database) as conn:
        info = find_issue(settings.issues_folder, None)
        return send_issue(conn, load_project(config), settings, info, options, hooks)


def log_rows(config: Config) -> dict[str, str]:
    """address -> status of every row of the send log."""
    with connect(config.database) as db:
        return {row["email"]: row["status"] for row in db.rows("SELECT * FROM deliveries")}


def test_each_subscriber_gets_their_topics_and_own_link_once(mail_project: Path) -> None:
    with SmtpServer() as server:
        config = configure(mail_project, server.port)
        report = run_send(config)
        again = run_send(config)
    assert sorted(report.sent) == EXPECTED
    assert report.nothing_new == len(SUBSCRIBERS) - len(EXPECTED)
    assert report.variants == 4  # rendered once per topic set with stories
    assert again.sent == [] and again.already_sent == len(EXPECTED)
    assert sorted(server.handler.recipients()) == EXPECTED
    assert len(server.handler.per_connection) == 1  # one connection for every message
    assert log_rows(config) == dict.fromkeys(EXPECTED, "sent")
    db = connect(config.database)
    for message in server.messages:
        address = str(message["To"])
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        wanted = topics_of(address)
        sections = set(re.findall(r"^([A-Z][A-Z ]+)\n-+$", text, re.M))
        names = {
            "canvas-apps": "CANVAS APPS",
            "common-data-service": "COMMON DATA SERVICE",
            "teams-integration": "TEAMS INTEGRATION",
        }
        assert sections <= {names[t] for t in (wanted or names)}
        if wanted == ("teams-integration",):
            assert "Now in preview: customize Teams" in text
            assert "layout containers" not in text.lower()
        # their own unsubscribe link, in the header, the text and the HTML
        (token,) = set(re.findall(r"unsubscribe\?token=([0-9]+\.[A-Za-z0-9_-]{43})", text))
        subscriber = subs.get(db, address)
        assert subscriber is not None and token_subscriber(token) == subscriber.id
        assert verify_token(SECRET.encode(), token, subscriber.id, address)
        assert f"token={token}" in message["List-Unsubscribe"]
        assert f"token={token}" in html
        assert address in text and "FEEDLETTER" not in text + html
    db.close()


def test_greylisting_is_retried_with_exponential_backoff(mail_project: Path) -> None:
    target = EXPECTED[2]
    sleeps: list[float] = []
    with SmtpServer(Faults(greylist={target: 2})) as server:
        config = configure(mail_project, server.port)
        report = run_send(config, hooks=Hooks(sleep=sleeps.append))
    assert sorted(report.sent) == EXPECTED and report.deferred == []
    assert sleeps == [0.01, 0.02]
    assert Counter(server.handler.recipients())[target] == 1
    with connect(config.database) as db:
        row = db.one("SELECT attempts FROM deliveries WHERE email = :e", {"e": target})
    assert row is not None and row["attempts"] == 3


class SkewedClock:
    """The worker's ``time``, ``ahead`` seconds past the wall clock (a wait that
    outlasts the claims' lease, without waiting it out)."""

    ahead = 0.0

    @classmethod
    def time(cls) -> float:
        return time.time() + cls.ahead


def take_over(config: Config, addresses: list[str]) -> None:
    """Another sender takes over these readers' claims (lapsed on the skewed clock)."""
    from newsletter.sending import claims

    with connect(config.database) as conn:
        ids = [found.id for a in addresses if (found := subs.get(conn, a))]
        now = SkewedClock.time()
        assert claims.claim_many(conn, "2021-W13", ids, "elsewhere:1:1", now, 300) == set(ids)


@pytest.fixture
def skewed(monkeypatch: pytest.MonkeyPatch) -> type[SkewedClock]:
    from newsletter.sending import worker

    monkeypatch.setattr(SkewedClock, "ahead", 0.0)
    monkeypatch.setattr(worker, "time", SkewedClock)
    return SkewedClock


def others_taken_over_in_a_wait(
    mail_project: Path, skewed: type[SkewedClock], faults: Faults, target: str, count: int
) -> tuple[SendReport, list[str], list[str], Config]:
    """A send in which ``target``'s copy has to wait 400 s (longer than the 300 s
    lease) and, during that wait, another sender takes over the lapsed claims of
    ``count`` readers (0: all) this one has not sent yet: the report, the readers
    taken, the messages the server received, the config."""
    taken: list[str] = []

    def wait(seconds: float) -> None:
        skewed.ahead += 400
        if not taken:
            received = set(server.handler.recipients())
            others = [a for a in EXPECTED if a not in received and a != target]
            taken.extend(others[:count] if count else others)
            take_over(config, taken)

    with SmtpServer(faults) as server:
        config = configure(mail_project, server.port)
        report = run_send(config, hooks=Hooks(sleep=wait))
    return report, taken, server.handler.recipients(), config


def test_claims_that_lapse_in_a_long_wait_are_renewed_or_left_to_their_taker(
    mail_project: Path, skewed: type[SkewedClock]
) -> None:
    """A sender waiting out a greylisted copy's retries for longer than its claims'
    lease renews the claims of the readers it has still to send before sending
    them; the two that another sender took over meanwhile are that sender's."""
    target = EXPECTED[2]
    report, taken, received, config = others_taken_over_in_a_wait(
        mail_project, skewed, Faults(greylist={target: 1}), target, 2
    )
    assert len(taken) == 2 and report.claimed_elsewhere == 2
    assert sorted(report.sent) == sorted(a for a in EXPECTED if a not in taken)
    assert Counter(received) == Counter(report.sent)
    assert not set(taken) & set(log_rows(config))


def test_a_copy_whose_claim_lapses_while_it_is_retried_is_left_to_its_taker(
    mail_project: Path, skewed: type[SkewedClock]
) -> None:
    """The copy being retried is withdrawn, not tried again, once another sender
    took over its lapsed claim during the wait: neither sent nor logged here."""
    target = EXPECTED[2]

    def wait(seconds: float) -> None:
        skewed.ahead += 400
        take_over(config, [target])

    with SmtpServer(Faults(greylist={target: 1})) as server:
        config = configure(mail_project, server.port)
        report = run_send(config, hooks=Hooks(sleep=wait))
    assert report.claimed_elsewhere == 1 and report.deferred == []
    assert sorted(report.sent) == sorted(a for a in EXPECTED if a != target)
    assert target not in server.handler.recipients()
    assert target not in log_rows(config)


def test_a_copy_made_ahead_whose_claim_lapses_in_the_wait_is_left_to_its_taker(
    mail_project: Path, skewed: type[SkewedClock]
) -> None:
    """The next copy is made while the server takes the current one's data; when
    the server then asks to try again later and the wait lets every other claim
    lapse to another sender, that copy made ahead is not sent either."""
    target = EXPECTED[2]
    report, taken, received, config = others_taken_over_in_a_wait(
        mail_project, skewed, Faults(tempfail_data={target: 1}), target, 0
    )
    assert taken and report.claimed_elsewhere == len(taken)
    assert target in report.sent and Counter(received) == Counter(report.sent)
    assert not set(taken) & set(log_rows(config))


def test_a_550_marks_that_recipient_failed_and_the_run_goes_on(mail_project: Path) -> None:
    bad = EXPECTED[0]
    with SmtpServer(Faults(reject={bad})) as server:
        config = configure(mail_project, server.port)
        report = run_send(config)
        again = run_send(config)
    assert report.failed == [(bad, "550 5.1.1 mailbox unavailable (test fault)")]
    assert sorted(report.sent) == [a for a in EXPECTED if a != bad]
    # one permanent failure (newsletter.bounces.hard_limit: 1) marks the address bounced
    assert report.bounced == [bad]
    assert again.sent == [] and again.failed_before == 0 and again.failed == []
    assert log_rows(config)[bad] == "failed"
    assert bad not in server.handler.recipients()
    with connect(config.database) as conn:
        found = subs.get(conn, bad)
        assert found is not None and found.status == "bounced" and found.hard_bounces == 1
        assert found.status_reason == "hard bounce: 550 5.1.1 mailbox unavailable (test fault)"


def test_dropped_connections_are_reopened_without_duplicates(mail_project: Path) -> None:
    with SmtpServer(Faults(drop_after=3)) as server:
        config = configure(mail_project, server.port)
        report = run_send(config, hooks=Hooks(sleep=lambda s: None))
    assert sorted(report.sent) == EXPECTED
    assert Counter(server.handler.recipients()) == Counter(EXPECTED)
    assert len(server.handler.per_connection) >= 3  # it had to reconnect
    assert log_rows(config) == dict.fromkeys(EXPECTED, "sent")


def test_persistent_4xx_defers_to_the_next_run(mail_project: Path) -> None:
    target = EXPECTED[1]
    with SmtpServer(Faults(greylist={target: 3})) as server:
        config = configure(mail_project, server.port, max_attempts=3)
        first = run_send(config, hooks=Hooks(sleep=lambda s: None))
        assert [a for a, _ in first.deferred] == [target]
        assert target not in log_rows(config)
        second = run_send(config, hooks=Hooks(sleep=lambda s: None))
    assert second.sent == [target]
    assert Counter(server.handler.recipients()) == Counter(EXPECTED)


def test_authentication_failure_stops_and_marks_nothing(
    mail_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDLETTER_SMTP_PASSWORD", "wrong")
    with SmtpServer(authenticator=refuse_all) as server:
        config = configure(mail_project, server.port, username="digest")
        with pytest.raises(DeliveryError, match="refused the login for 'digest': 535"):
            run_send(config)
    assert server.messages == []
    assert log_rows(config) == {}


def test_missing_password_and_secret_are_clear_errors(
    mail_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SmtpServer() as server:
        config = configure(mail_project, server.port, username="digest")
        monkeypatch.delenv("FEEDLETTER_SMTP_PASSWORD", raising=False)
        with pytest.raises(DeliveryError, match="FEEDLETTER_SMTP_PASSWORD"):
            run_send(config)
        monkeypatch.delenv("FEEDLETTER_SECRET")
        with pytest.raises(DeliveryError, match="FEEDLETTER_SECRET must hold"):
            run_send(config)
    assert server.messages == []


def test_unsubscribed_addresses_get_nothing(mail_project: Path) -> None:
    gone = EXPECTED[3]
    with SmtpServer() as server:
        config = configure(mail_project, server.port)
        conn = connect(config.database)
        found = subs.get(conn, gone)
        assert found is not None and subs.unsubscribe(conn, found.id)
        conn.close()
        report = run_send(config)
    assert gone not in report.sent and gone not in server.handler.recipients()
    assert len(server.messages) == len(EXPECTED) - 1


def test_rate_limit_spaces_the_messages(mail_project: Path) -> None:
    waits: list[float] = []
    with SmtpServer() as server:
        config = configure(mail_project, server.port, rate_per_second=2)
        run_send(config, hooks=Hooks(sleep=waits.append))
    assert len(waits) == len(EXPECTED) - 1
    assert all(0.3 < w <= 0.5 for w in waits)


def test_limit_and_dry_run(mail_project: Path) -> None:
    with SmtpServer() as server:
        config = configure(mail_project, server.port)
        dry = run_send(config, SendOptions(dry_run=True))
        assert dry.planned == len(SUBSCRIBERS) and server.messages == []
        limited = run_send(config, SendOptions(limit=3))
        assert len(limited.sent) == 3 and limited.limited
        rest = run_send(config)
    assert len(rest.sent) == len(EXPECTED) - 3
    assert Counter(server.handler.recipients()) == Counter(EXPECTED)


def test_killed_mid_send_then_rerun_delivers_everyone_exactly_once(mail_project: Path) -> None:
    """SIGKILL the real `feedletter send` while the 5th message is in flight, then re-run."""
    env = {**os.environ, "FEEDLETTER_SECRET": SECRET}
    faults = Faults()
    with SmtpServer(faults) as server:
        config = configure(mail_project, server.port)
        command = [sys.executable, "-m", "newsletter", "send", "--force", "--config", "config.yaml"]
        first = subprocess.Popen(
            command, cwd=mail_project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        faults.kill_pid, faults.kill_at = first.pid, 5
        first.wait(timeout=120)
        assert first.returncode == -9
        assert len(server.messages) == 4
        assert sorted(log_rows(config)) == sorted(server.handler.recipients())
        faults.kill_pid = None
        second = subprocess.run(
            command, cwd=mail_project, env=env, capture_output=True, text=True, timeout=120
        )
        assert second.returncode == 0, second.stderr
        assert "already sent 4" in second.stdout
    received = Counter(server.handler.recipients())
    assert received == Counter(EXPECTED)  # everyone, exactly once
    assert log_rows(config) == dict.fromkeys(EXPECTED, "sent")  # the log matches the server


def test_send_cli_refuses_an_old_issue_without_force(
    mail_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(mail_project, free_port())
    monkeypatch.chdir(mail_project)
    result = CliRunner().invoke(cli, ["send"])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: issue 2021-W13 ended 2021-04-03 00:00 UTC, more than 48 hours ago "
        "(newsletter.send_window_hours); pass --force to send it anyway\n"
    )


def test_send_cli_summary(mail_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with SmtpServer(Faults(reject={EXPECTED[0]})) as server:
        configure(mail_project, server.port)
        monkeypatch.chdir(mail_project)
        result = CliRunner().invoke(cli, ["send", "--force"])
    assert result.exit_code == 5
    assert result.stdout == (
        "Issue 2021-W13: 12 subscribers to send to, 4 rendered variant(s)\n"
        "Sent 9, already sent 0, failed 1, deferred 0, nothing new 2, failed in earlier runs 0\n"
        f"  failed {EXPECTED[0]}: 550 5.1.1 mailbox unavailable (test fault)\n"
        f"  bounced {EXPECTED[0]}: no further issues (newsletter.bounces)\n"
    )


@settings(max_examples=500)
@given(st.binary(max_size=60).map(lambda b: b.replace(b"\x00", b".")))
def test_dot_stuffing_is_smtplibs(data: bytes) -> None:
    import smtplib

    from newsletter.mail.smtp import _dot_stuffed

    assert _dot_stuffed(data) == smtplib._quote_periods(data)  # type: ignore[attr-defined]


def test_the_overlapped_send_delivers_what_sendmail_would() -> None:
    """``SmtpTransport.send`` with ``meanwhile``: the work runs once, after the data
    went and before the answer; lines that start with a dot arrive intact; a
    refused recipient raises as sendmail does, and ``meanwhile`` has not run."""
    import smtplib

    from newsletter.config import SmtpSettings
    from newsletter.mail.smtp import SmtpTransport

    data = (
        b"From: a@example.org\r\nTo: b@example.org\r\nSubject: dots\r\n\r\n"
        b".starts with a dot\r\n..two\r\nmiddle . dot\r\n.\r\nend\r\n"
    )
    with SmtpServer(Faults(reject={"no@example.org"})) as server:
        transport = SmtpTransport(SmtpSettings(host="127.0.0.1", port=server.port, security="none"))
        calls: list[int] = []
        transport.send("a@example.org", "b@example.org", data, lambda: calls.append(1))
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            transport.send("a@example.org", "no@example.org", data, lambda: calls.append(2))
        transport.send("a@example.org", "b@example.org", data)  # sendmail itself
        unended = data.removesuffix(b"\r\n")  # the line end before the final dot added
        transport.send("a@example.org", "b@example.org", unended, lambda: calls.append(3))
        transport.send("a@example.org", "b@example.org", unended)
        transport.close()
        received = [m.get_content() for m in server.wait_for(4)]
    assert calls == [1, 3]
    assert received == [received[1], received[1], received[3], received[3]]
    assert received[3].endswith("end\r\n")
    assert received[0].splitlines()[:4] == [".starts with a dot", "..two", "middle . dot", "."]


def test_readers_of_the_default_topics_get_the_issue_as_filed(mail_project: Path) -> None:
    """The default topic set sends the parts the digest filed (what the web copy
    shows), even after the records changed; other sets are rendered now; a filed
    issue with no stories (--force) sends nothing to anyone."""
    with SmtpServer() as server:
        config = configure(mail_project, server.port)
        news = mail_project / "news"
        for record in news.rglob("*.md"):  # every title edited after the digest
            text = re.sub(
                r"^title: ([\"']?)", r"title: \1Edited ", record.read_text(), count=1, flags=re.M
            )
            record.write_text(text)
        report = run_send(config)
        messages = {str(m["To"]): m for m in server.wait_for(len(EXPECTED))}
        default = [a for a in EXPECTED if not topics_of(a)]
        chosen = [a for a in EXPECTED if topics_of(a)]
        filed = (config.issues_folder / "2021-W13" / "email.txt").read_text()
        for address in default:
            body = messages[address].get_body(("plain",))
            assert body is not None and "Edited" not in body.get_content()
        assert "Edited" not in filed
        for address in chosen:
            body = messages[address].get_body(("plain",))
            assert body is not None and "Edited" in body.get_content()
        assert len(report.sent) == len(EXPECTED)
        # an empty issue, forced, for a week without records
        project = load_project(config)
        empty = make_issue(project, config, issue_period(config, date(2019, 1, 6)), force=True)
        write_issue(config, empty)
        settings = SendSettings.of(config)
        with connect(config.database) as conn:
            info = find_issue(settings.issues_folder, empty.issue_id)
            nothing = send_issue(conn, project, settings, info)
        assert nothing.sent == [] and nothing.nothing_new == nothing.planned == len(SUBSCRIBERS)
