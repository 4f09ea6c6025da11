"""A domain's SPF record as a receiver reads it (RFC 7208), for ``doctor``.

``check_spf`` finds the one ``v=spf1`` record, refuses ``+all``, and follows
``include:`` and ``redirect=`` to count the terms that make a receiver ask DNS:
past ten the check is a permanent error for every receiver (RFC 7208 4.6.4), a
limit long include chains of mail services cross without anyone noticing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from newsletter.runtime.dnsrecords import RETRY, DnsUnavailable, Lookup

# RFC 7208 4.6.4: at most this many terms that cause DNS queries
LOOKUP_LIMIT = 10


@dataclass(frozen=True)
class SpfVerdict:
    """What was found of one domain's SPF."""

    # ok, warn or fail
    status: Literal["ok", "warn", "fail"]
    # what was found, and how to fix it ("" when nothing is to be done)
    detail: str
    fix: str = ""


class _Permanent(Exception):
    """An SPF record a receiver cannot evaluate (a permerror)."""


def check_spf(lookup: Lookup, domain: str) -> SpfVerdict:
    """The verdict on ``domain``'s SPF record."""
    try:
        records = _records(lookup, domain)
    except DnsUnavailable as exc:
        return SpfVerdict("fail", f"could not look up {domain}: {exc.reason}", RETRY)
    if not records:
        return SpfVerdict(
            "fail",
            f"{domain} has no SPF record",
            f'publish one TXT record at {domain}: "v=spf1 include:<your relay\'s SPF> -all"',
        )
    if len(records) > 1:
        return SpfVerdict(
            "fail",
            f"{domain} has {len(records)} SPF records; receivers treat that as an error "
            "(RFC 7208 4.5)",
            "merge them into one v=spf1 record",
        )
    record = records[0]
    terms = record.lower().split()[1:]
    if "+all" in terms or "all" in terms:
        return SpfVerdict(
            "fail",
            f"{domain}: {record!r} lets every server on the internet send as you",
            "end the record with -all (or ~all) instead of +all",
        )
    try:
        count = _lookups(lookup, domain, terms, {domain})
    except DnsUnavailable as exc:
        return SpfVerdict("fail", f"could not look up {exc.name}: {exc.reason}", RETRY)
    except _Permanent as exc:
        return SpfVerdict("fail", f"{domain}: {exc}", "fix or remove that term")
    if count > LOOKUP_LIMIT:
        return SpfVerdict(
            "fail",
            f"{domain}: {record!r} needs {count} DNS lookups with its includes; receivers "
            f"give up after {LOOKUP_LIMIT} and fail SPF (RFC 7208 4.6.4)",
            "drop includes of services you no longer send through, or flatten them into ip4:",
        )
    shown = f"{domain}: {record} ({count} of {LOOKUP_LIMIT} DNS lookups)"
    if "?all" in terms or not any(t.endswith("all") or t.startswith("redirect=") for t in terms):
        return SpfVerdict("warn", f"{shown}: it ends neutral", "end it with -all")
    return SpfVerdict("ok", shown)


def _records(lookup: Lookup, domain: str) -> list[str]:
    found = lookup.txt(domain)
    return [r for r in found if r.lower() == "v=spf1" or r.lower().startswith("v=spf1 ")]


def _lookups(lookup: Lookup, domain: str, terms: list[str], seen: set[str]) -> int:
    """The DNS-querying terms of one record and of every record it includes."""
    count = 0
    for term in terms:
        name = term.lstrip("+-~?")
        mechanism, _, target = name.partition(":")
        if name.startswith("redirect="):
            mechanism, target = "redirect", name.removeprefix("redirect=")
        mechanism = mechanism.split("/")[0]
        if mechanism not in ("include", "a", "mx", "ptr", "exists", "redirect"):
            continue
        count += 1
        if count > LOOKUP_LIMIT:
            return count
        if mechanism in ("include", "redirect"):
            if not target or target in seen:
                raise _Permanent(f"{term} loops back to a record already read")
            included = _records(lookup, target)
            if len(included) != 1:
                raise _Permanent(f"{term}: {target} has {len(included) or 'no'} SPF records")
            nested = included[0].lower().split()[1:]
            count += _lookups(lookup, target, nested, seen | {target})
            if count > LOOKUP_LIMIT:
                return count
    return count
