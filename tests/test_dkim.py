"""DKIM signatures (``newsletter.dkim``) that verify after the real SMTP path.

Each message is sent by feedletter to aiosmtpd on 127.0.0.1, and the bytes the
server received are verified by dkimpy against the public key that a real DNS
server (dnslib on 127.0.0.1) serves for the selector: issues, test sends,
sign-up notices and the welcome mail, with RSA and with ed25519.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import dkim
import pytest
from click.testing import CliRunner

from feeds.build import load_project
from newsletter.audience import lifecycle as subs
from newsletter.audience.notices import NoticeSettings, send_notice, welcome
from newsletter.cli import cli
from newsletter.config import Config
from newsletter.issue.pipeline import issue_period, make_issue, write_issue
from newsletter.mail.dkim import Signer
from newsletter.runtime.dnsrecords import Lookup
from newsletter.sending.delivery import SendSettings, find_issue, send_issue
from newsletter.sending.testsend import send_test
from newsletter.state import connect

from .conftest import DATA
from .dns_server import DnsServer
from .smtp_server import SmtpServer
from .test_signup import configure

SECRET = "dkim-test-secret-0123456789abcdef"
READERS = ["ada@example.com", "grace@example.net"]
# what RFC 6376 5.4.1 and RFC 8058 3 want signed, all present in an issue
MUST_SIGN = {
    "from", "to", "subject", "date", "message-id", "mime-version", "content-type",
    "list-id", "list-archive", "list-unsubscribe", "list-unsubscribe-post", "feedback-id",
}  # fmt: skip


def dkim_lines(key: str, algorithm: str = "rsa-sha256") -> str:
    return (
        "  dkim:\n    domain: fixture.example.org\n    selector: fl2026\n"
        f"    {key}\n    algorithm: {algorithm}\n"
    )


def signed_project(project: Path, smtp_port: int, dkim_settings: str) -> Config:
    path = project / "config.yaml"
    path.write_text(path.read_text().replace("newsletter:\n", "newsletter:\n" + dkim_settings, 1))
    return configure(project, smtp_port)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def verdicts(server: SmtpServer, config: Config) -> list[bool]:
    """dkimpy's verdict on each message the server received, its key from DNS."""
    signer = Signer.of_config(config)
    assert signer is not None
    name, value = signer.dns_record()
    with DnsServer({name: {"TXT": [value]}}) as dns:
        lookup = Lookup([dns.nameserver])
        return [dkim.verify(raw, dnsfunc=lookup.dkim_record) for raw in server.handler.raw]


def signature_tags(raw: bytes) -> dict[str, str]:
    header = re.search(rb"^DKIM-Signature:(.*?)\r\n(?! )", raw, re.S | re.M)
    assert header is not None, "no DKIM-Signature"
    text = re.sub(r"\s+", "", header.group(1).decode())
    return dict(part.split("=", 1) for part in text.split(";") if part)


def test_an_issue_signed_with_rsa_verifies_after_delivery(
    fixture_project: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDLETTER_SECRET", SECRET)
    shutil.copy(DATA / "dkim" / "rsa-test.pem", fixture_project / "dkim.pem")
    config = signed_project(fixture_project, smtp.port, dkim_lines("key_file: dkim.pem"))
    project = load_project(config)
    write_issue(config, make_issue(project, config, issue_period(config, date(2021, 4, 2))))
    settings = SendSettings.of(config)
    with connect(config.database) as conn:
        for address in READERS:
            subs.add(conn, address)
        report = send_issue(conn, project, settings, find_issue(settings.issues_folder, None))
    assert sorted(report.sent) == READERS
    assert verdicts(smtp, config) == [True, True]
    for raw in smtp.handler.raw:
        tags = signature_tags(raw)
        assert (tags["d"], tags["s"], tags["a"], tags["c"]) == (
            "fixture.example.org", "fl2026", "rsa-sha256", "relaxed/relaxed",
        )  # fmt: skip
        assert set(tags["h"].split(":")) >= MUST_SIGN
    # a byte changed on the way breaks it: the verdict is about these bytes
    tampered = smtp.handler.raw[0].replace(b"Subject: ", b"Subject: Re: ", 1)
    signer = Signer.of_config(config)
    assert signer is not None
    name, value = signer.dns_record()
    with DnsServer({name: {"TXT": [value]}}) as dns:
        assert not dkim.verify(tampered, dnsfunc=Lookup([dns.nameserver]).dkim_record)


def test_test_sends_notices_and_the_welcome_are_signed_with_ed25519(
    fixture_project: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDLETTER_SECRET", SECRET)
    monkeypatch.setenv("FEEDLETTER_DKIM_KEY", (DATA / "dkim" / "ed25519-test.key").read_text())
    config = signed_project(
        fixture_project,
        smtp.port,
        dkim_lines("key_env: FEEDLETTER_DKIM_KEY", "ed25519-sha256"),
    )
    project = load_project(config)
    write_issue(config, make_issue(project, config, issue_period(config, date(2021, 4, 2))))
    settings = SendSettings.of(config)
    info = find_issue(settings.issues_folder, None)
    assert send_test(project, settings, info, ["editor@example.com"])[0][1] == "sent"
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    notices = NoticeSettings.of(config)
    with connect(config.database) as conn:
        reader, _ = subs.add(conn, "ada@example.com")
        send_notice(notices, "already", reader, SECRET.encode(), now)
        assert welcome(conn, notices, SECRET.encode(), reader, now, ("Canvas apps",))
    assert verdicts(smtp, config) == [True, True, True]
    assert [signature_tags(raw)["a"] for raw in smtp.handler.raw] == ["ed25519-sha256"] * 3
    subjects = [str(m["Subject"]) for m in smtp.messages]
    assert subjects[0].startswith("[Test] ") and subjects[2] == "Welcome to Fixture News"
    # the headers providers tell mailings apart by: Feedback-ID names the kind
    test, notice, welcomed = smtp.messages
    assert test["Feedback-ID"] == "2021-W13:digest.fixture.example.org:fixture.example.org"
    assert notice["Feedback-ID"] == "already:digest.fixture.example.org:fixture.example.org"
    assert welcomed["Feedback-ID"] == "welcome:digest.fixture.example.org:fixture.example.org"
    assert welcomed["List-Archive"] == "<https://fixture.example.org/news/newsletter/>"
    assert welcomed["List-Id"] == "<digest.fixture.example.org>"


def test_a_key_that_cannot_be_read_is_a_config_error_at_start(
    fixture_project: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDLETTER_SECRET", SECRET)
    monkeypatch.chdir(fixture_project)
    signed_project(fixture_project, smtp.port, dkim_lines("key_file: keys/missing.pem"))
    result = CliRunner().invoke(cli, ["send", "--dry-run"])
    assert result.exit_code == 1
    missing = fixture_project.resolve() / "keys" / "missing.pem"
    assert result.stderr == (
        f"error: newsletter.dkim.key_file: cannot read the private key {missing}: "
        "No such file or directory\n"
    )
    (fixture_project / "keys").mkdir()
    missing.write_text("not a key\n")
    result = CliRunner().invoke(cli, ["send", "--dry-run"])
    assert result.stderr == (
        f"error: newsletter.dkim.key_file: {missing} does not hold a rsa-sha256 private key: "
        "not a PEM RSA key (Private key not found)\n"
    )
    assert CliRunner().invoke(cli, ["check"]).stderr == result.stderr  # check says so too
    assert smtp.messages == []
    shutil.copy(DATA / "dkim" / "rsa-test.pem", missing)
    checked = CliRunner().invoke(cli, ["check"])
    assert "DKIM: signing as fixture.example.org (selector fl2026, rsa-sha256)\n" in checked.stdout
