"""``feedletter doctor`` against a real DNS server on 127.0.0.1 (dnslib), for a domain
set up right and one set up wrong in every way a mailbox provider checks."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter.cli import cli
from newsletter.config import load_config
from newsletter.mail.dkim import Signer
from newsletter.runtime.dnsrecords import Lookup
from newsletter.runtime.doctor import _spf_of, organisational_domain

from .conftest import DATA
from .dns_server import DnsServer, Zone

SECRET = "doctor-test-secret-0123456789abcdefghijklmnop"


def configure(project: Path, newsletter: str, site: str = "") -> Path:
    """The fixture project with a DKIM key file and ``newsletter`` lines added."""
    shutil.copy(DATA / "dkim" / "rsa-test.pem", project / "dkim.pem")
    config = project / "config.yaml"
    text = config.read_text().replace("newsletter:\n", "newsletter:\n" + newsletter, 1)
    config.write_text(text.replace("site:\n", "site:\n" + site, 1))
    return config


def record(config: Path) -> tuple[str, str]:
    signer = Signer.of_config(load_config(config))
    assert signer is not None
    return signer.dns_record()


GOOD = """  dkim:
    domain: fixture.example.org
    selector: fl1
    key_file: dkim.pem
"""


@dataclass(frozen=True)
class Good:
    """A project set up right and the DNS server that answers for it."""

    config: Path
    nameserver: str
    zone: Zone


@pytest.fixture
def good(fixture_project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Good]:
    monkeypatch.setenv("FEEDLETTER_SECRET", SECRET)
    monkeypatch.chdir(fixture_project)
    config = configure(fixture_project, GOOD)
    name, value = record(config)
    zone: Zone = {
        "fixture.example.org": {"TXT": ["v=spf1 ip4:192.0.2.10 -all", "site-verification=1"]},
        name: {"TXT": [value]},
        "_dmarc.fixture.example.org": {"TXT": ["v=DMARC1; p=quarantine; adkim=s"]},
    }
    with DnsServer(zone) as dns:
        yield Good(config, dns.nameserver, zone)


def test_a_domain_set_up_right_passes_every_check(good: Good) -> None:
    nameserver = good.nameserver
    result = CliRunner().invoke(cli, ["doctor", "--nameserver", nameserver])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"ok    secret       FEEDLETTER_SECRET is set ({len(SECRET)} characters)\n"
        "ok    domains      From and unsubscribe_mailto are both under example.org\n"
        "ok    spf          fixture.example.org: v=spf1 ip4:192.0.2.10 -all (0 of 10 DNS lookups)\n"
        "ok    dkim         fl1._domainkey.fixture.example.org holds the public key of dkim.pem\n"
        "ok    dmarc        _dmarc.fixture.example.org: p=quarantine; aligned by DKIM "
        "(fixture.example.org) and SPF (fixture.example.org)\n"
        "ok    unsubscribe  one-click unsubscribe at https://fixture.example.org/news/unsubscribe\n"
        "ok    html-size    no issue rendered yet; the budget is 90,000 bytes\n"
        "7 checks: 0 failed, 0 to look at\n"
    )
    found = json.loads(
        CliRunner().invoke(cli, ["doctor", "--nameserver", nameserver, "--json"]).stdout
    )
    assert [(f["check"], f["status"]) for f in found] == [
        ("secret", "ok"), ("domains", "ok"), ("spf", "ok"), ("dkim", "ok"),
        ("dmarc", "ok"), ("unsubscribe", "ok"), ("html-size", "ok"),
    ]  # fmt: skip


def test_another_key_at_the_selector_fails_and_says_what_to_publish(good: Good) -> None:
    config, nameserver = good.config, good.nameserver
    key = (DATA / "dkim" / "ed25519-test.key").read_bytes()
    (config.parent / "dkim.pem").write_bytes(key)  # not the key DNS holds
    text = config.read_text().replace(
        "key_file: dkim.pem", "key_file: dkim.pem\n    algorithm: ed25519-sha256"
    )
    config.write_text(text)
    name, value = record(config)
    result = CliRunner().invoke(cli, ["doctor", "--nameserver", nameserver])
    assert result.exit_code == 3
    assert (
        f"FAIL  dkim         {name} holds another key than dkim.pem: signatures will fail\n"
        f'                  fix: publish a TXT record at {name}: "{value}"\n'
    ) in result.stdout
    assert value.startswith("v=DKIM1; k=ed25519; p=")
    # once DNS holds that key, the check passes but warns: few receivers verify ed25519
    with DnsServer({**good.zone, name: {"TXT": [value]}}) as dns:
        result = CliRunner().invoke(cli, ["doctor", "--nameserver", dns.nameserver])
    assert result.exit_code == 0
    assert (
        f"warn  dkim         {name} holds the public key of dkim.pem, but Gmail and Microsoft "
        "do not verify ed25519 signatures yet: to them the mail is unsigned\n"
    ) in result.stdout


BROKEN_NEWSLETTER = """  from: "Broken <news@broken.example.net>"
  unsubscribe_mailto: unsubscribe@elsewhere.example.com
  unsubscribe_url: http://broken.example.net/unsubscribe
  max_html_bytes: 150000
  dkim:
    domain: broken.example.net
    selector: old
    key_file: dkim.pem
"""


def test_a_domain_set_up_wrong_fails_each_check_with_its_fix(
    fixture_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEEDLETTER_SECRET", raising=False)
    monkeypatch.chdir(fixture_project)
    text = (fixture_project / "config.yaml").read_text()
    (fixture_project / "config.yaml").write_text(
        text.replace('  from: "Fixture News <digest@fixture.example.org>"\n', "").replace(
            "  unsubscribe_mailto: unsubscribe@fixture.example.org\n", ""
        )
    )
    config = configure(fixture_project, BROKEN_NEWSLETTER)
    name, value = record(config)
    zone: Zone = {
        # two SPF records, one of them +all; a DKIM record of another key; no DMARC
        "broken.example.net": {"TXT": ["v=spf1 +all", "v=spf1 include:relay.example -all"]},
        "old._domainkey.broken.example.net": {
            "TXT": ["v=DKIM1; k=rsa; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAK"]
        },
    }
    with DnsServer(zone) as dns:
        result = CliRunner().invoke(cli, ["doctor", "--nameserver", dns.nameserver])
    assert result.exit_code == 3
    assert result.stdout == (
        "FAIL  secret       FEEDLETTER_SECRET cannot sign the unsubscribe links: environment "
        "variable FEEDLETTER_SECRET must hold the link-signing secret: at least 16 characters, "
        "no spaces, e.g. from `openssl rand -hex 32`\n"
        "                  fix: export FEEDLETTER_SECRET=$(openssl rand -hex 32) wherever "
        "feedletter runs (state.secret_env)\n"
        "FAIL  domains      newsletter.from is under example.net but unsubscribe_mailto "
        "(unsubscribe@elsewhere.example.com) under example.com\n"
        "                  fix: use an unsubscribe_mailto address at example.net, where your "
        "own mail server reads it\n"
        "FAIL  spf          broken.example.net has 2 SPF records; receivers treat that as an "
        "error (RFC 7208 4.5)\n"
        "                  fix: merge them into one v=spf1 record\n"
        f"FAIL  dkim         {name} holds another key than dkim.pem: signatures will fail\n"
        f'                  fix: publish a TXT record at {name}: "{value}"\n'
        "FAIL  dmarc        broken.example.net has no DMARC record; Gmail, Yahoo and Microsoft "
        "require one of bulk senders\n"
        '                  fix: publish a TXT record at _dmarc.example.net: "v=DMARC1; p=none; '
        'rua=mailto:dmarc@example.net"\n'
        "FAIL  unsubscribe  List-Unsubscribe points at http://broken.example.net/unsubscribe: "
        "providers honour one-click unsubscribe only over https (RFC 8058)\n"
        "                  fix: serve the site over https (site.base_url) or set "
        "newsletter.unsubscribe_url\n"
        "warn  html-size    newsletter.max_html_bytes is 150,000: Gmail clips messages over "
        "104,448 bytes, hiding the footer and its unsubscribe link\n"
        "                  fix: set newsletter.max_html_bytes to 90000 or less\n"
        "7 checks: 6 failed, 1 to look at\n"
    )
    assert dns.resolver.asked == [
        ("broken.example.net", "TXT"),
        ("old._domainkey.broken.example.net", "TXT"),
        ("_dmarc.broken.example.net", "TXT"),
        ("_dmarc.example.net", "TXT"),  # the organisational domain's, after the From domain's
    ]


# a relay's SPF, three levels deep: 1 + 1 + 2 DNS lookups when included
RELAY: Zone = {
    "relay.example": {"TXT": ["v=spf1 include:_spf.relay.example -all"]},
    "_spf.relay.example": {"TXT": ["v=spf1 a mx:mail.relay.example ip4:192.0.2.0/24 -all"]},
    "_spf.example.org": {"TXT": ["v=spf1 include:relay.example ~all"]},
}


@pytest.mark.parametrize(
    ("spf", "status", "says"),
    [
        ("v=spf1 all", "fail", "lets every server on the internet send as you"),
        ("v=spf1 ip4:192.0.2.1 ?all", "warn", "ends neutral"),
        ("v=spf1 redirect=_spf.example.org", "ok", "(5 of 10 DNS lookups)"),
        ("v=spf1 include:relay.example ~all", "ok", "(4 of 10 DNS lookups)"),
        ("v=spf1 a mx include:relay.example include:relay.example -all", "ok", "(10 of 10"),
        (
            "v=spf1 a mx ptr include:relay.example include:relay.example -all",
            "fail",
            "needs 11 DNS lookups with its includes; receivers give up after 10",
        ),
        ("v=spf1 include:nothing.example -all", "fail", "nothing.example has no SPF records"),
        ("v=spf1 include:example.org -all", "fail", "loops back to a record already read"),
    ],
)
def test_spf_policies(spf: str, status: str, says: str) -> None:
    with DnsServer({"example.org": {"TXT": [spf]}, **RELAY}) as dns:
        found = _spf_of(Lookup([dns.nameserver]), "example.org")
    assert (found.status, says in found.detail) == (status, True), found.detail


def test_a_nameserver_that_does_not_answer_is_not_a_missing_record() -> None:
    with DnsServer({}) as dns:
        port = dns.port
    found = _spf_of(Lookup([f"127.0.0.1:{port}"], timeout=2), "example.org")  # closed now
    assert found.status == "fail" and found.detail.startswith("could not look up example.org")


def test_dmarc_alignment_is_by_organisational_domain() -> None:
    assert organisational_domain("mail.news.example.co.uk") == "example.co.uk"
    assert organisational_domain("a.example.com") != organisational_domain("a.example.net")


def test_a_bad_nameserver_option_is_a_usage_error(good: Good) -> None:
    result = CliRunner().invoke(cli, ["doctor", "--nameserver", "dns.example.org"])
    assert result.exit_code == 1
    assert "--nameserver: 'dns.example.org' is not an IP address" in result.stderr
