"""``feedletter doctor``: what a mailbox provider will check, checked before it does.

Since 2024 Gmail and Yahoo (and since 2025 Microsoft) want bulk mail to pass SPF
and DKIM aligned with the From domain under a DMARC policy, with a one-click
unsubscribe. ``diagnose`` asks DNS (``dnsrecords.Lookup``) for the From domain's
SPF and DMARC records and the DKIM selector's key, compares them with the config,
and returns one ``Finding`` per check with how to fix a failure. Pure apart from
the lookups, the environment and the latest issue's size.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from feeds.errors import ConfigError
from newsletter.audience.tokens import secret_from_env
from newsletter.config import Config, DkimSettings
from newsletter.errors import MissingSecret
from newsletter.issue.archive import read_issues, read_parts
from newsletter.mail.dkim import Signer
from newsletter.mail.headers import return_path, sender
from newsletter.runtime.dnsrecords import RETRY, DnsUnavailable, Lookup
from newsletter.runtime.spf import check_spf

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

# Gmail clips a message whose HTML is larger than this (102 KB)
GMAIL_CLIP_BYTES = 102 * 1024

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Finding:
    """One check's verdict."""

    # the check's short name ("spf", "dkim", ...)
    check: str
    # ok, warn (works, but worth fixing) or fail (providers will refuse or junk it)
    status: Status
    # what was found
    detail: str
    # how to fix it ("" when nothing is to be done)
    fix: str = ""


def organisational_domain(domain: str) -> str:
    """The registrable domain of ``domain`` (RFC 7489 3.2, from the Public Suffix
    List): news.example.co.uk -> example.co.uk."""
    domain = domain.lower().rstrip(".")
    found = _suffixes().privatesuffix(domain)
    return str(found) if found else domain


@functools.cache
def _suffixes() -> PublicSuffixList:
    """The Public Suffix List, loaded once per process (some 50 ms)."""
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def diagnose(config: Config, lookup: Lookup) -> list[Finding]:
    """Every check, in the order a reader of the output follows them."""
    from_domain = _domain(parseaddr(sender(config.newsletter, config.site))[1])
    envelope_domain = _domain(return_path(config.newsletter, config.site))
    checks: list[Callable[[], list[Finding]]] = [
        lambda: [_secret(config)],
        lambda: [_same_organisation(config, from_domain)],
        lambda: _spf(lookup, from_domain, envelope_domain),
        lambda: [_dkim(config, lookup, from_domain)],
        lambda: [_dmarc(config, lookup, from_domain, envelope_domain)],
        lambda: [_unsubscribe(config)],
        lambda: [_html_size(config)],
    ]
    findings: list[Finding] = []
    for check in checks:
        findings.extend(check())
    return findings


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower().rstrip(".")


def _secret(config: Config) -> Finding:
    """The link-signing secret, by the rule every command that signs applies."""
    name = config.state.secret_env
    try:
        value = secret_from_env(name)
    except MissingSecret as exc:
        return Finding(
            "secret",
            "fail",
            f"{name} cannot sign the unsubscribe links: {exc.reason}",
            f"export {name}=$(openssl rand -hex 32) wherever feedletter runs (state.secret_env)",
        )
    return Finding("secret", "ok", f"{name} is set ({len(value)} characters)")


def _same_organisation(config: Config, from_domain: str) -> Finding:
    mailto = config.newsletter.unsubscribe_mailto
    org = organisational_domain(from_domain)
    if mailto is None:
        return Finding("domains", "ok", f"From is at {from_domain} (organisation {org})")
    theirs = organisational_domain(_domain(mailto))
    if theirs == org:
        return Finding("domains", "ok", f"From and unsubscribe_mailto are both under {org}")
    return Finding(
        "domains",
        "fail",
        f"newsletter.from is under {org} but unsubscribe_mailto ({mailto}) under {theirs}",
        f"use an unsubscribe_mailto address at {org}, where your own mail server reads it",
    )


def _spf(lookup: Lookup, from_domain: str, envelope_domain: str) -> list[Finding]:
    domains = [from_domain] + ([envelope_domain] if envelope_domain != from_domain else [])
    return [_spf_of(lookup, domain) for domain in domains]


def _spf_of(lookup: Lookup, domain: str) -> Finding:
    verdict = check_spf(lookup, domain)
    return Finding("spf", verdict.status, verdict.detail, verdict.fix)


def _dkim(config: Config, lookup: Lookup, from_domain: str) -> Finding:
    settings = config.newsletter.dkim
    if settings is None:
        return Finding(
            "dkim",
            "warn",
            "newsletter.dkim is not set: mail is signed only if your relay signs it, and only "
            "a signature of your own domain aligns with From",
            "set newsletter.dkim (domain, selector, key_file or key_env); see docs/delivery.md",
        )
    try:
        signer = Signer.of_config(config)
    except ConfigError as exc:
        return Finding("dkim", "fail", str(exc), "fix the key, then run doctor again")
    assert signer is not None
    name, wanted = signer.dns_record()
    if organisational_domain(signer.domain) != organisational_domain(from_domain):
        return Finding(
            "dkim",
            "fail",
            f"the signing domain {signer.domain} is not under From's {from_domain}: DMARC "
            "will not count the signature",
            f"sign as {organisational_domain(from_domain)} or a name under it",
        )
    try:
        found = [r for r in lookup.txt(name) if "p=" in r]
    except DnsUnavailable as exc:
        return Finding("dkim", "fail", f"could not look up {name}: {exc.reason}", RETRY)
    publish = f'publish a TXT record at {name}: "{wanted}"'
    if not found:
        return Finding("dkim", "fail", f"{name} has no DKIM key record", publish)
    tags = _tags(found[0])
    kind = "ed25519" if settings.algorithm == "ed25519-sha256" else "rsa"
    key = "".join(tags.get("p", "").split())
    try:
        published = base64.b64decode(key, validate=True) if key else b""
    except ValueError:
        published = b"?"
    if not key:
        return Finding("dkim", "fail", f"{name}: the key is revoked (empty p=)", publish)
    if tags.get("k", "rsa").lower() != kind or published != signer.public_key():
        return Finding(
            "dkim",
            "fail",
            f"{name} holds another key than {_key_source(settings)}: signatures will fail",
            publish,
        )
    if kind == "ed25519":
        return Finding(
            "dkim",
            "warn",
            f"{name} holds the public key of {_key_source(settings)}, but Gmail and Microsoft "
            "do not verify ed25519 signatures yet: to them the mail is unsigned",
            "use algorithm: rsa-sha256 (RFC 8463 senders add ed25519 beside RSA, not instead)",
        )
    return Finding("dkim", "ok", f"{name} holds the public key of {_key_source(settings)}")


def _key_source(settings: DkimSettings) -> str:
    return str(settings.key_file) if settings.key_file is not None else f"${settings.key_env}"


def _dmarc(config: Config, lookup: Lookup, from_domain: str, envelope_domain: str) -> Finding:
    org = organisational_domain(from_domain)
    names = [f"_dmarc.{from_domain}"] + ([f"_dmarc.{org}"] if org != from_domain else [])
    record, where = None, names[0]
    try:
        for name in names:
            found = [
                r for r in lookup.txt(name) if r.replace(" ", "").upper().startswith("V=DMARC1")
            ]
            if found:
                record, where = found[0], name
                break
    except DnsUnavailable as exc:
        return Finding("dmarc", "fail", f"could not look up {exc.name}: {exc.reason}", RETRY)
    if record is None:
        return Finding(
            "dmarc",
            "fail",
            f"{from_domain} has no DMARC record; Gmail, Yahoo and Microsoft require one of "
            "bulk senders",
            f'publish a TXT record at _dmarc.{org}: "v=DMARC1; p=none; rua=mailto:dmarc@{org}"',
        )
    tags = _tags(record)
    policy = tags.get("p", "").lower()
    if policy not in ("none", "quarantine", "reject"):
        return Finding("dmarc", "fail", f"{where}: no valid p= policy in {record!r}", "add p=none")
    aligned = []
    dkim = config.newsletter.dkim
    if dkim is not None and _aligned(dkim.domain, from_domain, tags.get("adkim", "r")):
        aligned.append(f"DKIM ({dkim.domain})")
    if _aligned(envelope_domain, from_domain, tags.get("aspf", "r")):
        aligned.append(f"SPF ({envelope_domain})")
    if not aligned:
        return Finding(
            "dmarc",
            "fail",
            f"{where}: p={policy}, but neither a DKIM signature nor the return path "
            f"({envelope_domain}) aligns with From ({from_domain})",
            "set newsletter.dkim to sign as your domain, or a bounces.return_path at it",
        )
    return Finding("dmarc", "ok", f"{where}: p={policy}; aligned by {' and '.join(aligned)}")


def _aligned(domain: str, from_domain: str, mode: str) -> bool:
    """RFC 7489 3.1: strict alignment is the same name, relaxed the same organisation."""
    domain = domain.lower().rstrip(".")
    if mode.lower() == "s":
        return domain == from_domain
    return organisational_domain(domain) == organisational_domain(from_domain)


def _unsubscribe(config: Config) -> Finding:
    url = config.unsubscribe_endpoint()
    parts, site = urlsplit(url), urlsplit(config.site.base_url)
    if parts.scheme != "https":
        return Finding(
            "unsubscribe",
            "fail",
            f"List-Unsubscribe points at {url}: providers honour one-click unsubscribe only "
            "over https (RFC 8058)",
            "serve the site over https (site.base_url) or set newsletter.unsubscribe_url",
        )
    if parts.hostname != site.hostname:
        return Finding(
            "unsubscribe",
            "warn",
            f"List-Unsubscribe is on {parts.hostname}, not the site's {site.hostname}, where "
            "`serve --production` is published",
            f"make {parts.hostname} proxy {parts.path} to `feedletter serve --production`",
        )
    return Finding("unsubscribe", "ok", f"one-click unsubscribe at {url}")


def _html_size(config: Config) -> Finding:
    budget = config.newsletter.max_html_bytes
    if budget > GMAIL_CLIP_BYTES:
        return Finding(
            "html-size",
            "warn",
            f"newsletter.max_html_bytes is {budget:,}: Gmail clips messages over "
            f"{GMAIL_CLIP_BYTES:,} bytes, hiding the footer and its unsubscribe link",
            "set newsletter.max_html_bytes to 90000 or less",
        )
    issues = read_issues(config.issues_folder)
    if not issues:
        return Finding("html-size", "ok", f"no issue rendered yet; the budget is {budget:,} bytes")
    latest = max(issues, key=lambda info: info.end)
    parts = read_parts(config.issues_folder, latest)
    size = len(parts.html.encode()) if parts is not None else 0
    if size > GMAIL_CLIP_BYTES:
        return Finding(
            "html-size",
            "fail",
            f"issue {latest.id}'s HTML is {size:,} bytes: Gmail clips it",
            "lower newsletter.items_per_topic or max_html_bytes",
        )
    return Finding(
        "html-size", "ok", f"issue {latest.id}: {size:,} bytes of HTML (Gmail clips past 102 KB)"
    )


def _tags(record: str) -> dict[str, str]:
    """A DKIM or DMARC tag list ("v=DKIM1; k=rsa; p=...") as a dict."""
    tags = {}
    for part in record.split(";"):
        name, eq, value = part.partition("=")
        if eq:
            tags[name.strip().lower()] = value.strip()
    return tags
