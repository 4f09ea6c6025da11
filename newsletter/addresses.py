"""Mail addresses: one rule for every way one enters (form, ``add``, ``import``).

An address is accepted when email-validator accepts its syntax (no DNS, no
SMTPUTF8: an IDN domain is kept in punycode, so every relay takes it) **and** the
``email`` package that writes our headers can write it and read it back as the
same address. The second check refuses what the first lets through but headers
cannot carry (``=?utf-8?b?…?=@example.com`` makes ``Address`` raise; mail clients
would decode it as text). Pure functions; ``InvalidAddress`` names the problem.
"""

from __future__ import annotations

import email
import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, default

from newsletter.errors import InvalidAddress

MAX_ADDRESS = 320
# the longest local part of a return path that a VERP tag ("+fl.<reader id>.<issue
# id>.<mac>", ``mail.returnpath``) still fits onto within RFC 5321's 64 octets
MAX_RETURN_PATH_LOCAL = 64 - len("+fl.") - 10 - 1 - 8 - 1 - 20
# a dot-atom local part and domain (RFC 5322 3.2.3)
_DOT_ATOM = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)


def is_plain(address: str) -> bool:
    """An address every header and SMTP command carries as it is: a dot-atom local
    part and domain, nothing like an encoded word. The email package's ``Address``
    and smtplib's ``quoteaddr`` give such an address back unchanged, so the send
    path skips their parsers for it (a test holds both to that)."""
    return _DOT_ATOM.fullmatch(address) is not None and "=?" not in address


def normalise_address(value: str) -> str:
    """The normalised form of an address; ``InvalidAddress`` if it is not one."""
    if any(ch in value for ch in "\r\n\x00") or len(value) > MAX_ADDRESS:
        raise InvalidAddress(value)
    from email_validator import EmailNotValidError, validate_email  # only when asked

    try:
        # no SMTPUTF8: every relay accepts an ASCII address (IDN domains in punycode)
        result = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(value, str(exc)) from None
    address = str(result.ascii_email or result.normalized)
    problem = header_problem(address)
    if problem:
        raise InvalidAddress(value, problem)
    return address


def header_problem(address: str) -> str:
    """Why ``address`` cannot go into a To header as it is, or "" if it can."""
    if "=?" in address:
        return "it looks like an encoded word (=?…?=), which mail clients would decode"
    try:
        to = Address(addr_spec=address)
    except (ValueError, IndexError, TypeError) as exc:
        return f"a mail header cannot hold it ({exc})"
    if to.addr_spec != address:
        return f"a mail header would write it as {to.addr_spec!r}"
    message = EmailMessage(policy=SMTP)
    message["To"] = to
    parsed = email.message_from_bytes(message.as_bytes(), policy=default)["To"]
    back = [a.addr_spec for a in getattr(parsed, "addresses", ())]
    if back != [address]:
        return "a mail header does not read it back as the same address"
    return ""
