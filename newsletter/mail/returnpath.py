"""Keyed references in what we send, so returned mail can prove it is about our message.

Returned mail (bounces, complaints) is only believed when it carries a reference
that an outsider cannot compute:

- **the keyed Message-ID** of an issue: ``<issue.HMAC(secret, issue, address)@domain>``,
  stable per issue and recipient (a repeat is recognisable) and unguessable
  without the secret. Reports carry it in the enclosed original headers.
- **the VERP envelope sender** (``newsletter.bounces.verp``): each issue's
  Return-Path is ``<local>+fl.<reader id>.<issue>.<HMAC>@<domain>``, so a bounce
  delivered to it names the reader and the issue even when it quotes nothing of
  the original.

Both MACs are HMAC-SHA256 with the link-signing secret, truncated (96 bits for
the Message-ID, 80 for the tag), lower-case so that mail systems that fold the
case of local parts keep them valid. Pure functions.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from email.utils import parseaddr

from newsletter.addresses import MAX_RETURN_PATH_LOCAL

# the tag's shape: fl.<reader id>.<issue id, lower case>.<mac>
_TAG = re.compile(r"^fl\.([1-9][0-9]{0,18})\.([0-9a-z][0-9a-z-]{0,31})\.([0-9a-f]{20})$")
# the longest local part a tag adds to (RFC 5321 allows 64 octets in all); the
# config checks newsletter.bounces.return_path against it, so it lives below both
MAX_BASE_LOCAL = MAX_RETURN_PATH_LOCAL


def _mac(secret: bytes, purpose: str, *parts: object) -> str:
    message = "\0".join([purpose, *(str(p) for p in parts)]).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def message_id(issue_id: str, recipient: str, domain: str, secret: bytes | None) -> str:
    """The Message-ID of one issue to one recipient.

    Keyed with ``secret`` for real sends. Without a secret (the sample message
    in the archive, made where the secret may not be set) it is an unkeyed hash,
    which returned mail is never matched by.
    """
    if secret is None:
        digest = hashlib.sha256(f"{issue_id}\0{recipient.lower()}".encode()).hexdigest()[:24]
    else:
        digest = _mac(secret, "message-id", issue_id, recipient.lower())[:24]
    return f"<{issue_id}.{digest}@{domain}>"


def envelope_sender(
    base: str,
    secret: bytes,
    issue_id: str,
    subscriber_id: int,
    recipient: str,
    delimiter: str = "+",
) -> str:
    """The VERP return path for one issue to one reader: ``local+fl.…@domain``."""
    local, _, domain = base.rpartition("@")
    issue = issue_id.lower()
    mac = _mac(secret, "return-path", issue, subscriber_id, recipient.lower())[:20]
    return f"{local}{delimiter}fl.{subscriber_id}.{issue}.{mac}@{domain}"


def tag_of(address: str, base: str, delimiter: str = "+") -> tuple[int, str, str] | None:
    """(reader id, issue id in lower case, mac) if ``address`` is a VERP address of
    ``base``, else None. Not yet verified: see ``verify_tag``."""
    _, address = parseaddr(address)
    local, at, domain = address.strip().rpartition("@")
    base_local, _, base_domain = base.rpartition("@")
    if not at or domain.lower() != base_domain.lower():
        return None
    prefix = base_local.lower() + delimiter
    if not local.lower().startswith(prefix):
        return None
    match = _TAG.match(local[len(prefix) :].lower())
    if match is None:
        return None
    return int(match.group(1)), match.group(2), match.group(3)


def verify_tag(secret: bytes, subscriber_id: int, issue_id: str, recipient: str, mac: str) -> bool:
    """Whether ``mac`` is the tag we put on ``issue_id`` sent to this reader."""
    expected = _mac(secret, "return-path", issue_id.lower(), subscriber_id, recipient.lower())
    return hmac.compare_digest(mac, expected[:20])


def verify_message_id(secret: bytes, value: str, issue_id: str, recipient: str) -> bool:
    """Whether ``value`` is the keyed Message-ID of ``issue_id`` sent to ``recipient``
    (whatever domain it names: the site's address may have moved since)."""
    match = _MESSAGE_ID.match(value.strip())
    if match is None or match.group(1).lower() != issue_id.lower():
        return False
    expected = _mac(secret, "message-id", issue_id, recipient.lower())[:24]
    return hmac.compare_digest(match.group(2).lower(), expected)


_MESSAGE_ID = re.compile(r"^<([^.<>@\s]+)\.([0-9a-fA-F]{24})@[^<>@\s]+>$")
